/**
 * The predictive watch's contract (issue 15 §3): one long-running `predictiveWatch` workflow per task queue forecasts
 * the watched containers' usage every `predictive.intervalSeconds` (the forecastBreaches activity: the policy's
 * `predictive` section, the usage from Prometheus, the breach predictor) and hands each forecast breach to the
 * remediation path as a predicted alert, through the intake's dispatch activity, like a real alert. The worker
 * starts it while the policy enables it; it ends itself (resolving what it fired) once the policy disables it.
 * Imported by workflows: deterministic, no I/O.
 */
import { defineQuery } from '@temporalio/workflow';
import type { FiringPrediction, ForecastBreach } from '../domain/predictive';

export const PREDICTIVE_WATCH_TYPE = 'predictiveWatch';

export function predictiveWatchId(taskQueue: string): string {
  return `talon-predictive-watch/${taskQueue}`;
}

export interface PredictiveWatchInput {
  /** The queue the predicted alerts' remediations start on (the watch runs on it too). */
  readonly taskQueue: string;
  /** Predicted alerts fired and not resolved when the previous run continued as new. */
  readonly firing?: Readonly<Record<string, FiringPrediction>>;
  /** Rounds of earlier runs (for the query). */
  readonly rounds?: number;
  /** Continue as new past this many history events (tests lower it). */
  readonly maxHistoryEvents?: number;
}

export interface PredictiveWatchResult {
  readonly rounds: number;
  /** Why the watch ended. */
  readonly reason: string;
}

/** What one forecast round found. */
export interface ForecastTick {
  /** False: no policy file, or its `predictive.enabled` is false (the watch ends). */
  readonly enabled: boolean;
  /** The policy version that set this round's settings. */
  readonly policyVersion?: string;
  /** When the next round is due, from the policy in force (a reload takes effect at the next round). */
  readonly intervalSeconds: number;
  readonly confidence: number;
  readonly horizonSeconds: number;
  readonly resolveAfter: number;
  readonly breaches: readonly ForecastBreach[];
  /** Keys (predictedKey) of containers already over their threshold: the alert rule's case. */
  readonly handovers: readonly string[];
  /** Containers × resources forecast. */
  readonly forecast: number;
  /** How many were clear, and how many refused by reason (too_short, flat, noisy, flapping, …). */
  readonly clear: number;
  readonly refused: Readonly<Record<string, number>>;
}

export interface ForecastBreachesInput {
  /** Unix seconds the usage window ends at (the workflow's time, so a retried round reads the same window). */
  readonly at: number;
}

/** What the predictive activity answers; the worker implements it (activities/predictive.ts). */
export interface PredictiveActivities {
  forecastBreaches(input: ForecastBreachesInput): Promise<ForecastTick>;
}

export interface PredictiveWatchState {
  readonly rounds: number;
  readonly firing: readonly { readonly alert: string; readonly target: string; readonly summary: string }[];
  readonly last?: Omit<ForecastTick, 'breaches' | 'handovers'> & { readonly at: string; readonly breaches: number };
  /** The last round's failure, when it failed (the watch goes on). */
  readonly error?: string;
}

export const predictiveWatchStateQuery = defineQuery<PredictiveWatchState>('predictiveWatchState');
