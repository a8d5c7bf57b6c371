/**
 * The feature window: the fixed `[steps × features]` picture of one pod that both the rule policy and the
 * learned model read, with how trustworthy it is. Features, their order and units are MODEL_FEATURES and
 * FEATURE_UNITS (./features). Pure: safe inside workflows and serialisable as a Temporal payload (no NaN,
 * no Map, no Date).
 */
import { MODEL_FEATURES, featureIndex, type ModelFeature } from './features';
import type { WindowSignals } from './signals';
import type { WorkloadContext } from './workload-context';

/** Without these a window is not worth deciding on; the others are optional (no Kepler, no cAdvisor). */
export const REQUIRED_FEATURES: readonly ModelFeature[] = ['cpu_usage', 'memory_usage'];

export function isModelFeature(value: unknown): value is ModelFeature {
  return typeof value === 'string' && (MODEL_FEATURES as readonly string[]).includes(value);
}

/** The pod a window describes. `workload` groups pods of one owner in the history. */
export interface WindowTarget {
  readonly namespace: string;
  readonly pod: string;
  /** Restricts the window to one container; otherwise containers are summed. */
  readonly container?: string;
  readonly workload?: string;
  readonly node?: string;
}

/** Requests and limits summed over the window's containers; a field is absent when unknown or unset. */
export interface ContainerResources {
  readonly cpuRequestCores?: number;
  readonly cpuLimitCores?: number;
  readonly memoryRequestBytes?: number;
  readonly memoryLimitBytes?: number;
}

/**
 * How trustworthy a window is. `score = realFraction × freshness`, in [0, 1]:
 * - realFraction: observed cells / all cells of the features that have any data at all;
 * - freshness: 1 while the stalest required feature's newest real point is at most one step old, falling
 *   linearly to 0 at the configured stale-after age (five steps by default).
 */
export interface WindowQuality {
  readonly realFraction: number;
  /** Seconds between the gather time and the newest real point of the stalest required feature. */
  readonly stalenessSeconds: number;
  readonly freshness: number;
  readonly score: number;
  /** Features with data / all features; a cluster without Kepler has 0.5 here and that is not an error. */
  readonly coverage: number;
}

/** Where a window's points came from: live Prometheus, or InfluxDB snapshots while Prometheus is out. */
export type WindowSource = 'prometheus' | 'influx';

/** A workload's past, from InfluxDB: used to bound scale-downs and to tune the cool-down. */
export interface WindowHistory {
  /** Stored steps the statistics are computed from. */
  readonly samples: number;
  readonly sinceSeconds: number;
  /** In the window's units (shares of the limit). */
  readonly cpuMean?: number;
  readonly cpuP95?: number;
  readonly memoryMean?: number;
  readonly memoryP95?: number;
}

/** A complete window, ready for a policy. */
export interface FeatureWindow {
  readonly kind: 'window';
  readonly target: WindowTarget;
  readonly source: WindowSource;
  /** Unix seconds of the last step; steps are `stepSeconds` apart and end on a multiple of it. */
  readonly end: number;
  readonly stepSeconds: number;
  readonly steps: number;
  /** Always MODEL_FEATURES; carried so a stored window explains itself. */
  readonly features: readonly ModelFeature[];
  /** `[steps][features]`, units of FEATURE_UNITS, oldest step first, gaps already filled. */
  readonly values: readonly (readonly number[])[];
  /** `[steps][features]`: true where the value was observed, false where the gap rule filled it. */
  readonly observed: readonly (readonly boolean[])[];
  /** Features with no data at all; their column is 0 and a model should impute its training mean. */
  readonly absentFeatures: readonly ModelFeature[];
  readonly quality: WindowQuality;
  /** What the ratio features were divided by, and the absolute usage behind them. */
  readonly resources?: ContainerResources;
  readonly history?: WindowHistory;
  /** Why the window is not from the usual source (e.g. Prometheus unavailable, read from InfluxDB). */
  readonly note?: string;
  /** Network and disk I/O rates per step (not model input: the rules and verification read them). */
  readonly signals?: WindowSignals;
  /** The owning workload and the containers' health, added when a decision is made (rules only). */
  readonly workload?: WorkloadContext;
}

/** Too little data to decide on: an explicit outcome, never a window of zeros. */
export interface InsufficientData {
  readonly kind: 'insufficient';
  readonly target: WindowTarget;
  readonly source: WindowSource;
  readonly end: number;
  readonly stepSeconds: number;
  readonly steps: number;
  readonly reason: string;
  /** Observed points per feature (0 for features without data). */
  readonly realPoints: Readonly<Record<ModelFeature, number>>;
}

export type GatherOutcome = FeatureWindow | InsufficientData;

/** The column of one feature, oldest first. */
export function featureColumn(window: FeatureWindow, name: ModelFeature): number[] {
  const i = featureIndex(name);
  return window.values.map((row) => row[i] ?? 0);
}

/** Mean of the last `n` steps of a feature (all steps if the window is shorter). */
export function recentMean(window: FeatureWindow, name: ModelFeature, n: number): number {
  const column = featureColumn(window, name);
  const tail = column.slice(Math.max(0, column.length - Math.max(1, Math.floor(n))));
  return tail.length === 0 ? 0 : tail.reduce((a, b) => a + b, 0) / tail.length;
}

export function hasFeature(window: FeatureWindow, name: ModelFeature): boolean {
  return !window.absentFeatures.includes(name);
}

/** Unix seconds of each step, oldest first. */
export function stepTimes(window: Pick<FeatureWindow, 'end' | 'stepSeconds' | 'steps'>): number[] {
  return Array.from({ length: window.steps }, (_, i) => window.end - (window.steps - 1 - i) * window.stepSeconds);
}

/** Kubernetes' alphabet for generated name suffixes (apimachinery's rand.SafeEncodeString: no vowels, no 0/1/3). */
const SUFFIX = '[bcdfghjklmnpqrstvwxz2456789]';
const GENERATED = [
  new RegExp(`^(.+)-${SUFFIX}{6,10}-${SUFFIX}{5}$`), // Deployment → ReplicaSet → Pod
  new RegExp(`^(.+)-${SUFFIX}{5}$`), // DaemonSet, Job, bare ReplicaSet
  /^(.+)-\d+$/, // StatefulSet ordinal
];

/**
 * The workload a pod belongs to, for grouping history: the explicit `workload` when the caller knows the
 * owner (preferred), else the pod name without the suffix its controller generated.
 */
export function workloadOf(target: Pick<WindowTarget, 'pod' | 'workload'>): string {
  if (target.workload) return target.workload;
  for (const pattern of GENERATED) {
    const match = pattern.exec(target.pod);
    if (match?.[1]) return match[1];
  }
  return target.pod;
}
