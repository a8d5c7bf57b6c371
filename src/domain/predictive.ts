/**
 * The predictive watch (issue 15 §3, "predict, don't only react"): its settings in the operator policy, the
 * synthetic alert it raises for a forecast breach, and when such an alert fires and resolves. The alert goes the
 * way a real one goes (the intake's hand-off, the workload's remediation, the operator policy), marked
 * `talon_predicted="true"` so the policy runs it at the scope's `predictiveAutonomy` (`recommend` by default).
 * Pure and deterministic: the watch workflow and the worker's activity share it.
 */
import { fingerprintLabels, type TalonAlert } from './alert';
import { PREDICTED_LABEL, type Autonomy } from './autonomy';

/**
 * The shares of a container's limit at which Talon's alert rules fire (TalonPodCpuNearLimit,
 * TalonPodMemoryNearLimit; tools/stack/alert-rules.ts takes them from here), so a predicted breach is a breach of
 * the same line the reactive alert watches.
 */
export const ALERT_LIMIT_SHARES = { cpu: 0.8, memory: 0.85 } as const;

export type PredictiveResource = 'cpu' | 'memory';

/** The predictive watch as the policy file's `predictive` section sets it. */
export interface PredictiveConfig {
  readonly enabled: boolean;
  /** Default of every scope's `predictiveAutonomy`: the most a predicted remediation may do. */
  readonly autonomy: Autonomy;
  /** How far ahead a breach is looked for. */
  readonly horizonSeconds: number;
  /** Confidence of the lower prediction bound that must cross the threshold (0.5 < c < 1). */
  readonly confidence: number;
  /** How often the watch forecasts. */
  readonly intervalSeconds: number;
  /** How much usage history each forecast fits. */
  readonly lookbackSeconds: number;
  /** Spacing of the usage samples. */
  readonly stepSeconds: number;
  /** Namespaces watched (names, `prefix*`, `*suffix`, `*`); protected namespaces never are. */
  readonly namespaces: readonly string[];
  readonly resources: readonly PredictiveResource[];
  /** The alert rules' thresholds, as shares of the limit. */
  readonly thresholds: Readonly<Record<PredictiveResource, number>>;
  /** Forecasts without a breach before a predicted alert resolves (one clear forecast may be a wobble). */
  readonly resolveAfter: number;
}

export const DEFAULT_PREDICTIVE: PredictiveConfig = {
  enabled: false,
  autonomy: 'recommend',
  horizonSeconds: 300,
  confidence: 0.9,
  intervalSeconds: 60,
  lookbackSeconds: 1800,
  stepSeconds: 30,
  namespaces: ['*'],
  resources: ['cpu', 'memory'],
  thresholds: ALERT_LIMIT_SHARES,
  resolveAfter: 2,
};

/** Fewest samples a look-back must hold (the breach predictor's minimum). */
export const MIN_LOOKBACK_POINTS = 12;
/** Most samples a look-back may hold (each forecast costs O(n²) with a season). */
export const MAX_LOOKBACK_POINTS = 720;

/** What is wrong with a predictive section (after defaults), one line per problem; empty when it is usable. */
export function predictiveProblems(c: PredictiveConfig): string[] {
  const problems: string[] = [];
  const points = Math.floor(c.lookbackSeconds / c.stepSeconds);
  if (points < MIN_LOOKBACK_POINTS || points > MAX_LOOKBACK_POINTS)
    problems.push(
      `lookbackSeconds: ${c.lookbackSeconds}s at stepSeconds ${c.stepSeconds}s is ${points} samples; a forecast needs ${MIN_LOOKBACK_POINTS} to ${MAX_LOOKBACK_POINTS}`,
    );
  if (c.horizonSeconds < c.stepSeconds)
    problems.push(`horizonSeconds: ${c.horizonSeconds}s is shorter than one step (stepSeconds ${c.stepSeconds}s)`);
  if (c.horizonSeconds > c.lookbackSeconds)
    problems.push(
      `horizonSeconds: ${c.horizonSeconds}s reaches further ahead than lookbackSeconds ${c.lookbackSeconds}s looks back`,
    );
  if (c.enabled && c.resources.length === 0) problems.push('resources: enabled with no resource to watch');
  if (c.enabled && c.namespaces.length === 0) problems.push('namespaces: enabled with no namespace to watch');
  return problems;
}

export const PREDICTED_ALERT_NAMES: Readonly<Record<PredictiveResource, string>> = {
  cpu: 'TalonPredictedCpuSaturation',
  memory: 'TalonPredictedMemorySaturation',
};

/** Annotation keys of a predicted alert's forecast. */
export const FORECAST_ANNOTATIONS = {
  inSeconds: 'talon_forecast_in_seconds',
  probability: 'talon_forecast_probability',
  confidence: 'talon_forecast_confidence',
  horizonSeconds: 'talon_forecast_horizon_seconds',
  thresholdShare: 'talon_forecast_threshold_share',
  lastShare: 'talon_forecast_last_share',
  peakShare: 'talon_forecast_peak_share',
  model: 'talon_forecast_model',
} as const;

/** A container the watch forecasts to cross its alert threshold within the horizon. */
export interface ForecastBreach {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly resource: PredictiveResource;
  /** Seconds until the lower prediction bound crosses the threshold. */
  readonly inSeconds: number;
  /** P(usage over the threshold) then. */
  readonly probability: number;
  readonly thresholdShare: number;
  readonly lastShare: number;
  readonly peakShare: number;
  readonly model: string;
  /** The predictor's one line. */
  readonly detail: string;
}

/** The labels that make a predicted alert what it is (and its fingerprint): the rule's, plus the mark. */
export function predictedLabels(
  target: Pick<ForecastBreach, 'namespace' | 'pod' | 'container' | 'resource'>,
): Record<string, string> {
  return {
    alertname: PREDICTED_ALERT_NAMES[target.resource],
    namespace: target.namespace,
    pod: target.pod,
    container: target.container,
    severity: 'warning',
    talon_scope: 'pod',
    talon_resource: target.resource,
    [PREDICTED_LABEL]: 'true',
  };
}

/** The fingerprint of a container's predicted alert: the same for every forecast of it. */
export function predictedKey(target: Pick<ForecastBreach, 'namespace' | 'pod' | 'container' | 'resource'>): string {
  return fingerprintLabels(predictedLabels(target));
}

const pct = (share: number): string => `${Math.round(share * 1000) / 10}%`;

/** The synthetic alert for a forecast breach, as a real alert of Talon's rules would read, plus the forecast. */
export function predictedAlert(
  breach: ForecastBreach,
  settings: Pick<PredictiveConfig, 'confidence' | 'horizonSeconds'>,
  at: string,
): TalonAlert {
  const labels = predictedLabels(breach);
  const what = breach.resource === 'cpu' ? 'CPU' : 'memory';
  const summary =
    `Forecast: container ${breach.container} of ${breach.namespace}/${breach.pod} reaches ${pct(breach.thresholdShare)} ` +
    `of its ${what} limit in about ${breach.inSeconds}s (P = ${pct(breach.probability)}; now ${pct(breach.lastShare)})`;
  return {
    source: 'api',
    alertName: labels.alertname!,
    status: 'firing',
    fingerprint: fingerprintLabels(labels),
    target: { kind: 'pod', namespace: breach.namespace, pod: breach.pod, container: breach.container },
    labels,
    annotations: {
      summary,
      description: breach.detail,
      [FORECAST_ANNOTATIONS.inSeconds]: String(breach.inSeconds),
      [FORECAST_ANNOTATIONS.probability]: breach.probability.toFixed(3),
      [FORECAST_ANNOTATIONS.confidence]: String(settings.confidence),
      [FORECAST_ANNOTATIONS.horizonSeconds]: String(settings.horizonSeconds),
      [FORECAST_ANNOTATIONS.thresholdShare]: String(breach.thresholdShare),
      [FORECAST_ANNOTATIONS.lastShare]: breach.lastShare.toFixed(3),
      [FORECAST_ANNOTATIONS.peakShare]: breach.peakShare.toFixed(3),
      [FORECAST_ANNOTATIONS.model]: breach.model,
    },
    startsAt: at,
    summary,
  };
}

/** A predicted alert the watch has fired and not resolved yet. */
export interface FiringPrediction {
  readonly alert: TalonAlert;
  /** Consecutive forecasts since without a breach. */
  readonly quiet: number;
}

export interface ForecastRound {
  readonly breaches: readonly ForecastBreach[];
  /** Keys (predictedKey) of containers already over their threshold: the alert rule's case from now on. */
  readonly handovers: readonly string[];
}

export interface Reconciled {
  /** New predicted alerts to fire. */
  readonly fire: TalonAlert[];
  /** Predicted alerts to resolve (resolved notifications of the alerts fired before). */
  readonly resolve: TalonAlert[];
  readonly firing: Record<string, FiringPrediction>;
}

/**
 * One forecast round against what is firing: a breach not yet firing fires; a firing one whose container now
 * breaches for real resolves at once (the alert rule takes over, and the remediation is the real alert's); one
 * without a breach for `resolveAfter` rounds resolves. A breach already firing is not sent again: its remediation
 * has it, and a second notification would only count as a repeat.
 */
export function reconcile(
  firing: Readonly<Record<string, FiringPrediction>>,
  round: ForecastRound,
  settings: Pick<PredictiveConfig, 'confidence' | 'horizonSeconds' | 'resolveAfter'>,
  at: string,
): Reconciled {
  const next: Record<string, FiringPrediction> = {};
  const fire: TalonAlert[] = [];
  const resolve: TalonAlert[] = [];
  const breaching = new Map(round.breaches.map((b) => [predictedKey(b), b]));
  const handovers = new Set(round.handovers);
  const resolved = (alert: TalonAlert): TalonAlert => ({ ...alert, status: 'resolved', endsAt: at });
  for (const [key, f] of Object.entries(firing)) {
    if (handovers.has(key)) resolve.push(resolved(f.alert));
    else if (breaching.has(key)) next[key] = { alert: f.alert, quiet: 0 };
    else if (f.quiet + 1 >= settings.resolveAfter) resolve.push(resolved(f.alert));
    else next[key] = { alert: f.alert, quiet: f.quiet + 1 };
  }
  for (const [key, breach] of breaching) {
    if (next[key] || handovers.has(key)) continue;
    const alert = predictedAlert(breach, settings, at);
    fire.push(alert);
    next[key] = { alert, quiet: 0 };
  }
  return { fire, resolve, firing: next };
}
