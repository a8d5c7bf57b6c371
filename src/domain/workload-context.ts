/**
 * What the rules know about a pod beyond its metrics: the workload that owns it (replicas, an owning
 * HorizontalPodAutoscaler's bounds) and its containers' health. Read from the apiserver when a decision is
 * made (src/kube/workload-context.ts); the learned model never sees it. Pure: safe inside workflows.
 */

/** One container as its status reports it. */
export interface ContainerHealth {
  readonly name: string;
  readonly restarts: number;
  readonly ready: boolean;
  /** `state.waiting.reason` (CrashLoopBackOff, ImagePullBackOff, ...), when waiting. */
  readonly waitingReason?: string;
  /** Seconds the container has run without being ready (running and not ready), when that is the case. */
  readonly notReadySeconds?: number;
}

export interface HpaBounds {
  readonly name: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

export interface WorkloadContext {
  /** The owner that decides how many pods run: Deployment, StatefulSet, DaemonSet, Job or the Pod itself. */
  readonly kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'Pod';
  readonly name: string;
  /** `spec.replicas` of a Deployment or StatefulSet. */
  readonly replicas?: number;
  readonly readyReplicas?: number;
  /** The HorizontalPodAutoscaler scaling this workload, if one does: replica changes go through its bounds. */
  readonly hpa?: HpaBounds;
  readonly containers: readonly ContainerHealth[];
}

/** Waiting reasons a restart cannot fix (the image or the spec is wrong): never a reason to restart. */
export const UNRESTARTABLE_REASONS: readonly string[] = [
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
];

export interface MalfunctionRules {
  /** A container with at least this many restarts that is not ready is crash-looping. */
  readonly restartsAtLeast: number;
  /** A running container not ready for this long is stuck (a hung process its probe keeps failing). */
  readonly stuckAfterSeconds: number;
}

export const DEFAULT_MALFUNCTION_RULES: MalfunctionRules = { restartsAtLeast: 3, stuckAfterSeconds: 300 };

export interface Malfunction {
  readonly container: string;
  readonly kind: 'crash-looping' | 'stuck';
  readonly detail: string;
}

/** The first malfunctioning container of the pod that a restart can help, or undefined. */
export function malfunctionOf(
  containers: readonly ContainerHealth[],
  rules: MalfunctionRules = DEFAULT_MALFUNCTION_RULES,
): Malfunction | undefined {
  for (const c of containers) {
    if (c.waitingReason && UNRESTARTABLE_REASONS.includes(c.waitingReason)) continue;
    if (c.waitingReason === 'CrashLoopBackOff' || (!c.ready && c.restarts >= rules.restartsAtLeast)) {
      return {
        container: c.name,
        kind: 'crash-looping',
        detail: `container ${c.name} ${c.waitingReason ? `is in ${c.waitingReason}` : 'is not ready'} after ${c.restarts} restarts`,
      };
    }
    if (!c.ready && c.notReadySeconds !== undefined && c.notReadySeconds >= rules.stuckAfterSeconds) {
      return {
        container: c.name,
        kind: 'stuck',
        detail: `container ${c.name} has run ${Math.round(c.notReadySeconds)} s without becoming ready`,
      };
    }
  }
  return undefined;
}

/** Whether the workload's replica count can change at all (and by whom: its own spec or an HPA). */
export function isReplicated(context: WorkloadContext | undefined): boolean {
  return context !== undefined && (context.kind === 'Deployment' || context.kind === 'StatefulSet');
}
