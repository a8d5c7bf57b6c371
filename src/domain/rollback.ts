/**
 * Undoing a change (issue 14, gap 6): the contract between the remediation workflow and the rollback activity,
 * and the judgement "the signal is worse after the cool-down than before the change", made on the same feature
 * windows the policy decided on. Pure: safe inside workflows.
 */
import type { TalonAlert } from './alert';
import type { AppliedChange, ApplyPolicyResult } from './remediation';
import { recentSignal, type SignalName } from './signals';
import { recentMean, type FeatureWindow } from './window';

export interface RollbackSettings {
  /** Undo a change whose verification failed, or after which the alert's signal got worse. */
  readonly enabled: boolean;
  /**
   * How much worse (in the signal's unit: share of the limit) the mean of the last steps must be after the
   * cool-down than before the change to count as worse; noise below it is not.
   */
  readonly worseBy: number;
  /** Steps of each window averaged for the comparison. */
  readonly steps: number;
}

export const DEFAULT_ROLLBACK: RollbackSettings = { enabled: true, worseBy: 0.05, steps: 3 };

export interface RollbackPolicyInput {
  /** The change to undo, as applyPolicy reported it. */
  readonly applied: ApplyPolicyResult;
  /** The operation id applyPolicy ran under (its record on the object is what gets undone). */
  readonly appliedOperationId: string;
  /** This rollback's own operation id, stable across retries. */
  readonly operationId: string;
  readonly dryRun: boolean;
}

export interface RollbackPolicyResult {
  /** The target is back at its pre-change values (now or by an earlier attempt of this rollback). */
  readonly rolledBack: boolean;
  /** An earlier attempt of this rollback had already restored it; nothing was written now. */
  readonly alreadyRolledBack: boolean;
  readonly summary: string;
  readonly changes: readonly AppliedChange[];
  /** Why nothing was restored (no automatic undo, changed by someone since). */
  readonly reason?: string;
  /** What verification should find after the restore; opaque to the workflow. */
  readonly expectation: unknown;
}

/** The resource an alert is about: its `talon_resource` label, else its name (memory or CPU). */
export function alertResource(alert: Pick<TalonAlert, 'labels' | 'alertName'>): 'cpu' | 'memory' {
  const named = alert.labels.talon_resource;
  if (named === 'cpu' || named === 'memory') return named;
  return /mem/i.test(alert.alertName) ? 'memory' : 'cpu';
}

export interface SignalComparison {
  readonly worse: boolean;
  readonly before: number;
  readonly after: number;
  readonly explanation: string;
}

/**
 * Compares the alert's signal (its resource's usage as a share of the limit) in the window the change was
 * decided on with the window after the cool-down. Worse means higher by more than `worseBy`.
 */
export function compareSignal(
  before: FeatureWindow,
  after: FeatureWindow,
  resource: 'cpu' | 'memory',
  settings: RollbackSettings,
): SignalComparison {
  const feature = resource === 'cpu' ? 'cpu_usage' : 'memory_usage';
  const b = recentMean(before, feature, settings.steps);
  const a = recentMean(after, feature, settings.steps);
  const worse = a > b + settings.worseBy;
  const pct = (n: number) => `${Math.round(n * 100)} %`;
  return {
    worse,
    before: b,
    after: a,
    explanation: `${resource} at ${pct(a)} of its limit after the cool-down, ${pct(b)} before the change${
      worse ? ` (worse by more than ${pct(settings.worseBy)})` : ''
    }`,
  };
}

/** What "worse" reads for an alert: its resource's share of the limit, or its own rate (disk I/O, dropped packets). */
export type AlertSignal = 'cpu' | 'memory' | 'io' | 'network';

/** The alert's signal: `talon_resource` io or network, else its resource (alertResource). */
export function alertSignal(alert: Pick<TalonAlert, 'labels' | 'alertName'>): AlertSignal {
  const named = alert.labels.talon_resource;
  return named === 'io' || named === 'network' ? named : alertResource(alert);
}

interface RateSignal {
  readonly signals: readonly SignalName[];
  readonly what: string;
  /** How the rate reads in an explanation: divided by `scale`, in `unit`. */
  readonly scale: number;
  readonly unit: string;
}

const RATES: Readonly<Record<'io' | 'network', RateSignal>> = {
  io: { signals: ['fs_read_bytes', 'fs_write_bytes'], what: 'disk I/O', scale: 1e6, unit: 'MB/s' },
  network: {
    signals: ['network_receive_drops', 'network_transmit_drops'],
    what: 'dropped packets',
    scale: 1,
    unit: '/s',
  },
};

/** Sum of the recent means of the signals present in the window; undefined when none is. */
function recentRate(window: FeatureWindow, names: readonly SignalName[], steps: number): number | undefined {
  const present = names.map((n) => recentSignal(window.signals, n, steps)).filter((v): v is number => v !== undefined);
  return present.length ? present.reduce((a, b) => a + b, 0) : undefined;
}

/**
 * compareSignal for an I/O or network alert, on the pod's own rates: disk bytes read and written, or packets
 * dropped, summed. Rates have no limit to take a share of, so worse means higher than before the change by more
 * than `worseBy` of it (relative). A rate missing from either window cannot be judged: not worse.
 */
export function compareRates(
  before: FeatureWindow,
  after: FeatureWindow,
  signal: 'io' | 'network',
  settings: RollbackSettings,
): SignalComparison {
  const { signals, what, scale, unit } = RATES[signal];
  const b = recentRate(before, signals, settings.steps);
  const a = recentRate(after, signals, settings.steps);
  if (a === undefined || b === undefined) {
    return { worse: false, before: b ?? 0, after: a ?? 0, explanation: `${what} not in both windows: not judged` };
  }
  const worse = a > b * (1 + settings.worseBy);
  const n = (v: number) => `${Math.round((v / scale) * 100) / 100} ${unit}`;
  return {
    worse,
    before: b,
    after: a,
    explanation: `${what} at ${n(a)} after the cool-down, ${n(b)} before the change${
      worse ? ` (worse by more than ${Math.round(settings.worseBy * 100)} %)` : ''
    }`,
  };
}
