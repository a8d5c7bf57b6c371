/**
 * Shapes shared by the actuator (actuator/) and its verification (verify.ts). Every value here is plain data
 * so it can travel through Temporal as an activity input or result.
 */
import type { V1Affinity } from '@kubernetes/client-node';
import type { ContainerTarget } from '../domain/resource-plan';

/** The field manager on every write, so `kubectl get --show-managed-fields` shows what Talon owns. */
export const FIELD_MANAGER = 'talon';

export const ANNOTATIONS = {
  /** The last operation Talon applied to this object (JSON {@link OperationRecord}). */
  operation: 'talon.io/operation',
  /**
   * The data-offload contract (docs/ACTUATOR.md): Talon asks the application to move `share` of its data
   * (D3.6 Table 1 data_offloading); the request id ties the application's answer to this request.
   */
  dataOffload: 'talon.io/data-offload',
  dataOffloadRequestedAt: 'talon.io/data-offload-requested-at',
  dataOffloadId: 'talon.io/data-offload-id',
  /** Optional, set by the workload's owner: the counter (per pod) whose rate the offload should lower. */
  dataOffloadMetric: 'talon.io/data-offload-metric',
  /** The application's answer: the request id it answers, and `accepted`, `done` or `refused`. */
  dataOffloadAck: 'talon.io/data-offload-ack',
  dataOffloadState: 'talon.io/data-offload-state',
  dataOffloadMessage: 'talon.io/data-offload-message',
  /** Node a task was offloaded to. */
  offloadedTo: 'talon.io/offloaded-to',
  /** Kube-OVN bandwidth limits in Mbit/s (D3.3 Figure 6). */
  ovnIngressRate: 'ovn.kubernetes.io/ingress_rate',
  ovnEgressRate: 'ovn.kubernetes.io/egress_rate',
} as const;

/** The taint node_overload puts on a node (D3.6 Rule 2): NoSchedule, Talon's key. */
export const OVERLOAD_TAINT = { key: 'talon.io/overloaded', value: 'true', effect: 'NoSchedule' } as const;

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'Pod'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
export type ControllerKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

export interface WorkloadRef {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
}

export function describeWorkload(ref: WorkloadRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

/** What Talon records on an object it changed, so a retry recognises its own change. */
export interface OperationRecord {
  readonly id: string;
  readonly policy: string;
  /** ISO time of the change. */
  readonly at: string;
  readonly resource?: string;
  readonly targets?: readonly ContainerTarget[];
  readonly replicas?: number;
  /**
   * The pre-change snapshot, written in the same write as the change: the values the targets replaced and the
   * replica count before, so a rollback restores exactly what was there (even when the apply was retried).
   */
  readonly previous?: readonly ContainerTarget[];
  readonly previousReplicas?: number;
  /** On a rollback's record: the operation it undid. */
  readonly undoes?: string;
  /** An HPA's bounds before the change (replica scaling through an HPA), so the change can be undone. */
  readonly hpaBefore?: { readonly minReplicas: number; readonly maxReplicas: number };
  readonly node?: string;
  /** task_offloading of a Deployment: the offload ReplicaSet, how many replicas it took, from which node. */
  readonly offload?: { readonly replicaSet: string; readonly moved: number; readonly sourceNode?: string };
  /**
   * On the write that gave an offload ReplicaSet's replicas back to its Deployment (its release, or the offload's
   * rollback): that ReplicaSet. The other of the two then gives nothing back a second time.
   */
  readonly releases?: string;
  /**
   * task_offloading of a pod, Job or StatefulSet: its node constraints before the pin (the snapshot an undo
   * restores) and as the pin left them (an undo refuses when someone changed them since).
   */
  readonly previousPlacement?: Placement;
  readonly placement?: Placement;
  /**
   * Annotations a change set, as it set them (null: removed), and their values before (null: absent), so an undo
   * restores exactly what was there and refuses when someone changed them since (data_offloading, network_qos,
   * task_offloading's `talon.io/offloaded-to`).
   */
  readonly annotations?: Readonly<Record<string, string | null>>;
  readonly previousAnnotations?: Readonly<Record<string, string | null>>;
  /** How the change was applied (in-place resize or recreate, for standalone pods). */
  readonly mechanism?: 'in-place-resize' | 'recreate';
  /**
   * Ids of earlier operations on this object, newest first (at most 10): a retry of an operation that another
   * one has since superseded is still recognised and not applied twice.
   */
  readonly history?: readonly string[];
}

/** What verification must observe for an action to count as effective. */
export type Expectation =
  | { readonly kind: 'none'; readonly reason: string }
  | {
      readonly kind: 'rollout';
      readonly workload: WorkloadRef;
      /** metadata.generation after the change; the controller must have observed it. */
      readonly generation: number;
      readonly resource?: string;
      readonly targets?: readonly ContainerTarget[];
      /** Every pod must run on this node (task offloading). */
      readonly node?: string;
    }
  | {
      readonly kind: 'pod';
      readonly namespace: string;
      readonly pod: string;
      /** The pod instance expected (a recreated pod has a new uid). */
      readonly uid?: string;
      readonly resource?: string;
      readonly targets?: readonly ContainerTarget[];
      /** In-place resize: the kubelet must report the new resources in the container statuses. */
      readonly resized?: boolean;
      readonly node?: string;
    }
  | {
      readonly kind: 'job';
      readonly namespace: string;
      readonly job: string;
      readonly uid: string;
      readonly resource?: string;
      readonly targets?: readonly ContainerTarget[];
      readonly node?: string;
    }
  | {
      /**
       * task_offloading of a Deployment: `moved` replicas run Ready on `node` in the offload ReplicaSet, the
       * Deployment runs `remaining`, and the source node holds `moved` fewer of its pods than before.
       */
      readonly kind: 'offload';
      readonly workload: WorkloadRef;
      readonly replicaSet: string;
      readonly replicaSetUid?: string;
      readonly moved: number;
      readonly remaining: number;
      readonly node: string;
      readonly generation: number;
      readonly sourceNode?: string;
      readonly sourceBefore?: number;
    }
  | {
      readonly kind: 'replicas';
      readonly workload: WorkloadRef;
      readonly replicas: number;
      readonly generation: number;
      /** The count is reached by this HorizontalPodAutoscaler's controller, not written by Talon. */
      readonly hpa?: string;
    }
  | {
      readonly kind: 'taint';
      readonly node: string;
      readonly key: string;
      readonly effect: string;
      readonly present: boolean;
    }
  | { readonly kind: 'evicted'; readonly namespace: string; readonly pod: string; readonly uid: string }
  | {
      /** container_restart: the malfunctioning instance is gone and its replacement runs healthy. */
      readonly kind: 'restarted';
      readonly namespace: string;
      readonly pod: string;
      /** The instance that malfunctioned ('' when a retry no longer knows it). */
      readonly oldUid: string;
      /** The controller that replaces it; absent for a recreated standalone pod. */
      readonly workload?: WorkloadRef;
    }
  | {
      /**
       * data_offloading, verified by effect: the pod's disk I/O (or the named counter's rate) fell by at least
       * `share × minDropFraction` of what it was before the request, within `deadlineSeconds`.
       */
      readonly kind: 'io-drop';
      readonly namespace: string;
      readonly pod: string;
      readonly uid: string;
      readonly requestId: string;
      readonly share: number;
      /** Unix seconds of the request (the baseline is measured up to it). */
      readonly requestedAt: number;
      readonly minDropFraction: number;
      /** A counter named by the pod's `talon.io/data-offload-metric`; the disk I/O signals otherwise. */
      readonly metric?: string;
      readonly deadlineSeconds?: number;
    }
  | {
      /** network_qos, verified by effect: the pod's received/sent rates are under the caps (Mbit/s). */
      readonly kind: 'rate-cap';
      readonly namespace: string;
      readonly pod: string;
      readonly uid: string;
      readonly ingressMbps: number;
      readonly egressMbps: number;
      /** Unix seconds the caps were set; rates are measured after it. */
      readonly appliedAt: number;
      readonly deadlineSeconds?: number;
    }
  | {
      readonly kind: 'annotations';
      readonly namespace: string;
      readonly pod: string;
      /** The values the pod must carry; null: the annotation must be absent. */
      readonly annotations: Readonly<Record<string, string | null>>;
    };

/** A pod spec's node constraints, as plain JSON. */
export interface Placement {
  readonly affinity?: V1Affinity;
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

export interface Change {
  /** Where, e.g. `container app requests.cpu`, `spec.replicas`, `taint talon.io/overloaded`. */
  readonly path: string;
  readonly from?: string;
  readonly to?: string;
}

/** The answer of every action. */
export interface ActionResult {
  readonly policy: string;
  readonly operationId: string;
  /** The object acted on, e.g. `Deployment shop/web`. */
  readonly target: string;
  /** A write happened in this call (false for no-ops, replays of an applied operation and dry runs). */
  readonly applied: boolean;
  /** The same operation had already been applied (a retry or replay); nothing was written again. */
  readonly alreadyApplied: boolean;
  /** The apiserver validated the change with dryRun=All; nothing was persisted. */
  readonly dryRun: boolean;
  /** How the change reaches the running workload. */
  readonly mechanism:
    'rolling-update' | 'in-place-resize' | 'recreate' | 'scale' | 'annotate' | 'taint' | 'untaint' | 'evict' | 'none';
  readonly summary: string;
  readonly changes: readonly Change[];
  /** Hand this to verification. */
  readonly expect: Expectation;
}

/** An eviction that a PodDisruptionBudget blocked: reported, never forced. */
export interface EvictionResult extends ActionResult {
  readonly outcome: 'evicted' | 'already-gone' | 'blocked' | 'dry-run';
  /** The apiserver's explanation when blocked. */
  readonly blockedBy?: string;
}

export interface VerificationResult {
  readonly verified: boolean;
  readonly detail: string;
  /** What was seen last, for the incident log. */
  readonly observed: Readonly<Record<string, unknown>>;
  readonly elapsedMs: number;
  readonly polls: number;
}

/** Saved before a controller is changed: a retry whose pod is gone since (rolled out) still finds it. */
export interface WorkloadCheckpoint {
  readonly operationId: string;
  readonly kind: 'Workload';
  readonly workload: WorkloadRef;
}

/** What an operation saves through the caller (Temporal heartbeat details) before it writes. */
export type Checkpoint = RecreateCheckpoint | WorkloadCheckpoint;

/** Saved before a delete-and-recreate, so a retry after a crash can finish the create. */
export interface RecreateCheckpoint {
  readonly operationId: string;
  readonly kind: 'Pod' | 'Job';
  readonly namespace: string;
  readonly name: string;
  /** The manifest to create (plain JSON). */
  readonly manifest: Record<string, unknown>;
}
