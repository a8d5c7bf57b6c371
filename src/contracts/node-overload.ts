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
}

export const DEFAULT_NODE_OVERLOAD_SETTINGS: NodeOverloadSettings = { untaintAfterSeconds: 60, dryRun: false };

/** Part of the workflow input, so a replay sees the same settings. */
export interface NodeOverloadInput {
  readonly alert: TalonAlert;
  readonly settings?: Partial<NodeOverloadSettings>;
}

export interface NodeOverloadResult {
  readonly outcome: RemediationOutcome;
  readonly node: string;
  readonly evicted?: string;
  readonly reason: string;
}
