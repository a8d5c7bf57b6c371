/**
 * What the actuator is asked and told: its options, the per-call operation context, one request shape per
 * action, and the eviction candidate. Plain data, so activities can build them from their validated inputs.
 */
import type { GuardConfig } from '../../domain/guards';
import type { WriteBudgetStore } from '../budget';
import type { ClusterCapabilities } from '../capabilities';
import type { NodeSource } from '../node-cache';
import type { Checkpoint } from '../types';

export type ResourcePolicy = 'cpu_scale_up' | 'cpu_scale_down' | 'memory_scale_up' | 'memory_scale_down';
export type ReplicaPolicy = 'replica_scale_up' | 'replica_scale_down';

export interface ActuatorOptions {
  readonly guards: GuardConfig;
  /** Durable write budget; without one the budget guard is off (tests only). */
  readonly budget?: WriteBudgetStore;
  /** Told the writes counted in a budget's window after each check (the worker's gauges). */
  readonly onBudget?: (scope: string, used: number, max: number) => void;
  /** Resize discovery; without one in-place resize is never attempted. */
  readonly capabilities?: ClusterCapabilities;
  /** Node label carrying the tier (edge/cloud). */
  readonly tierLabel?: string;
  /** Candidate nodes for offloading: a NodeCache in workers, a LIST per decision by default. */
  readonly nodeSource?: NodeSource;
  /** Bandwidth a network_qos share of 1.0 allows, in Mbit/s (Kube-OVN's unit). */
  readonly networkCeilingMbps?: number;
  /** Data offloading counts as done when the I/O fell by at least this fraction of the share (default 0.5). */
  readonly dataOffloadEffectFraction?: number;
  /** How long verification waits for an effect in the pod's metrics (data offloading, network QoS). */
  readonly effectDeadlineSeconds?: number;
  /** How long a deleted object may take to disappear before recreation gives up (retryable). */
  readonly deletionTimeoutMs?: number;
  /**
   * Make-before-break for task offloading of a Deployment: how long the moved replicas may take to be Ready on
   * their node before the Deployment gives its own up (default 120 s; longer, the offload is withdrawn), and how
   * long the Deployment's returned replicas may take before a release deletes the offload ReplicaSet (default
   * 40 s; longer, the release fails retryably and the offload keeps serving).
   */
  readonly handoverTimeoutMs?: { readonly offload?: number; readonly release?: number };
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Per call: the operation's identity and hooks into the caller's durability. */
export interface OperationContext {
  /** Stable across retries of the same step; different for a new step. */
  readonly operationId: string;
  /**
   * Called before the first write: with the controller about to change, or with the manifest before a
   * delete-and-recreate deletes anything. The activity saves it as heartbeat details.
   */
  readonly checkpoint?: (checkpoint: Checkpoint) => void | Promise<void>;
  /** The checkpoint a previous attempt saved, if any. */
  readonly restored?: Checkpoint;
  /** Called while waiting (deletions), so a long wait is not mistaken for a hang. */
  readonly heartbeat?: () => void;
  /** Overrides the configured dry-run mode for this call. */
  readonly dryRun?: boolean;
}

export interface ScaleResourcesRequest {
  readonly policy: ResourcePolicy;
  readonly namespace: string;
  readonly pod: string;
  /** D3.6 scales every container that sets the resource; a name narrows it to one. */
  readonly container?: string;
  readonly factor: number;
}

export interface ScaleReplicasRequest {
  readonly policy: ReplicaPolicy;
  readonly namespace: string;
  /** The pod whose owner is scaled. */
  readonly pod: string;
  readonly factor: number;
}

export interface OffloadTaskRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Wanted tier (`edge`/`cloud`); any tier when absent. */
  readonly tier?: string;
  /** The policy magnitude (share of tasks); checked against the guide, otherwise informative. */
  readonly magnitude?: number;
}

export interface DataOffloadRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Share of data to offload, 0.1–0.9 (the magnitude guide). */
  readonly share: number;
}

export interface NetworkQosRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Share of the configured ceiling to allow in both directions (the policy magnitude). */
  readonly share: number;
}

export interface NodeRequest {
  readonly node: string;
}

export interface EvictPodRequest {
  readonly namespace: string;
  readonly pod: string;
  /** Evict only this instance (a StatefulSet's replacement keeps the name). */
  readonly uid: string;
}

export interface PodUsage {
  readonly namespace: string;
  readonly pod: string;
  readonly cpuCores: number;
}

export interface EvictionCandidate {
  readonly namespace: string;
  readonly pod: string;
  readonly uid: string;
  /** CPU cores used (Prometheus) or requested (fallback). */
  readonly cpuCores: number;
  readonly basis: 'usage' | 'requests';
}
