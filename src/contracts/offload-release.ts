/**
 * The `offloadRelease` workflow's contract: one task offload of a Deployment (src/kube/actuator/offload-share)
 * ends — its moved replicas go back to the scheduler's spreading — once its source node has recovered, or
 * after a configured time at the latest. Started by the remediation activities when an offload is applied
 * (one workflow per offload ReplicaSet, so a retried apply starts nothing twice). Deterministic, no I/O.
 */

export interface OffloadReleaseInput {
  readonly namespace: string;
  readonly deployment: string;
  /** The offload ReplicaSet the moved replicas run in. */
  readonly replicaSet: string;
  readonly moved: number;
  /** Its recovery (CPU busy share under `recoveredBelow`) ends the offload early; absent: only the time does. */
  readonly sourceNode?: string;
  readonly releaseAfterSeconds: number;
  readonly recoveredBelow: number;
  readonly checkEverySeconds: number;
  /** The operation that offloaded (its release is operation `<id>/release`). */
  readonly operationId: string;
}

export interface OffloadReleaseResult {
  readonly released: boolean;
  /** `source-recovered`, `time-limit` or `cancelled`. */
  readonly reason: 'source-recovered' | 'time-limit' | 'cancelled';
  readonly summary: string;
  /** What verification saw after the release (the Deployment back at its count, Ready). */
  readonly verified?: boolean;
  readonly observed?: string;
}

export function offloadReleaseWorkflowId(namespace: string, replicaSet: string): string {
  return `offload-release/${namespace}/${replicaSet}`;
}
