/**
 * The `nodeOverload` workflow's contract (one node alert episode: taint, evict the heaviest pod, wait,
 * untaint): its input, result and settings. It answers the alert episode's signals and query
 * (alert-episode.ts). Imported by the workflow and the faces: deterministic, no I/O.
 */
import type { TalonAlert } from '../domain/alert';
import type { RemediationOutcome } from './alert-episode';

export interface NodeOverloadSettings {
  /** How long the node stays tainted after the eviction (D3.6 Rule 2: 60 s). */
  readonly untaintAfterSeconds: number;
  readonly dryRun: boolean;
  /**
   * The node counts as relieved once its CPU usage (share of allocatable, from Prometheus) is under this within
   * the untaint delay after an eviction; the default is the TalonNodeOverloaded rule's threshold.
   */
  readonly cpuThreshold: number;
  /** Most pods evicted in one episode before a person is called. */
  readonly maxEvictions: number;
  /** How often the node's usage is read during the untaint delay. */
  readonly checkEverySeconds: number;
}

export const DEFAULT_NODE_OVERLOAD_SETTINGS: NodeOverloadSettings = {
  untaintAfterSeconds: 60,
  dryRun: false,
  cpuThreshold: 0.9,
  maxEvictions: 3,
  checkEverySeconds: 10,
};

/** Part of the workflow input, so a replay sees the same settings. */
export interface NodeOverloadInput {
  readonly alert: TalonAlert;
  readonly settings?: Partial<NodeOverloadSettings>;
}

export interface NodeOverloadResult {
  readonly outcome: RemediationOutcome;
  readonly node: string;
  /** The first pod evicted. */
  readonly evicted?: string;
  readonly reason: string;
  /** Every pod evicted, in order (absent in histories from before usage verification). */
  readonly evictions?: readonly string[];
  /** The node's last CPU usage read, as a share of allocatable. */
  readonly cpuShare?: number;
  /** The address the alert named the node by, when it was not its name. */
  readonly alertedAs?: string;
}
