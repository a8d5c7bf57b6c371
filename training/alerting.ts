/**
 * Would one of Talon's own alert rules (tools/stack/alert-rules.ts, deployed as deploy/alerting/talon-rules.yml)
 * fire on a simulated incident? Only then does a remediation workflow start in production, so only those
 * incidents measure what Talon does; the others are reported apart.
 *
 * The mapping from a rule to the window (10 steps of 30 s, features of src/domain/features.ts):
 * - Prometheus evaluates the rules every step (the local stack's evaluation_interval equals its scrape
 *   interval; one window step is one evaluation here);
 * - `rate(x[2m])` is the mean of the last rateWindow / step = 4 steps of the per-step usage feature;
 *   a gauge (the memory working set) is read at the step;
 * - `for: 2m` holds when the condition is true at every evaluation from 2 minutes before the step up to it
 *   (4 steps back, 5 evaluations): the alert is firing at the step;
 * - TalonPodCpuNearLimit: rate of container CPU / CPU limit > cpuLimitShare        ↔ `cpu_usage`
 *   TalonPodMemoryNearLimit: working set / memory limit > memoryLimitShare         ↔ `memory_usage`
 *   TalonNodeOverloaded: rate of node CPU / allocatable > nodeCpuShare              ↔ `system_cpu_usage`
 *   (the simulator's features are exactly these ratios, with their measurement noise);
 * - an incident is caught when a rule is firing at the decision step (the window's last step). When both pod
 *   rules fire, the one firing longest (the first to reach Alertmanager) is the alert whose workflow decides;
 *   a tie goes to the rule listed first in the group. A node rule starts the node workflow (taint, evict,
 *   untaint), not the pod remediation scored here, so an incident only it catches is reported apart.
 */
import { WINDOW_STEP_SECONDS, featureIndex, type ModelFeature } from '../src/domain/features';
import type { TalonAlert } from '../src/domain/alert';
import { PRODUCTION_RULE_OPTIONS, talonAlertRules, type AlertRuleOptions } from '../tools/stack/alert-rules';

export type PodAlert = Pick<TalonAlert, 'alertName' | 'labels'>;

/** How one alert rule reads the window. */
export interface RuleReading {
  readonly alert: string;
  readonly feature: ModelFeature;
  /** Share above which the condition holds. */
  readonly threshold: number;
  /** Steps averaged (a rate over a range); 1 for a gauge read at the step. */
  readonly rateSteps: number;
  /** Steps the condition must hold before the alert fires (its `for`). */
  readonly forSteps: number;
  readonly scope: 'pod' | 'node';
  readonly labels: Readonly<Record<string, string>>;
}

export type Catchability =
  | { readonly kind: 'pod'; readonly alert: PodAlert; readonly firing: readonly string[] }
  | { readonly kind: 'node_only'; readonly firing: readonly string[] }
  | { readonly kind: 'none' };

/** Seconds of a Prometheus duration such as `2m`, `30s`, `1h30m`. */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new RangeError(`not a Prometheus duration: ${JSON.stringify(text)}`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] ?? 's'] ?? 1), 0);
}

function steps(seconds: number, stepSeconds: number, what: string): number {
  const n = seconds / stepSeconds;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${what} of ${seconds} s is not a whole number of ${stepSeconds} s steps`);
  }
  return n;
}

/**
 * Shipped rules whose signal the simulator's eight-feature window does not carry, and why. They are left out of
 * catchability by name (so the evaluation under-counts what Talon catches, never over-counts); a rule neither
 * mapped nor listed here is still an error.
 */
export const NOT_IN_SIMULATOR: Readonly<Record<string, string>> = {
  TalonPodNodeCpuHigh: "needs the pod's share of its node's busy CPU, which the window does not carry",
  TalonPodNetworkCongested: 'the simulator has no network byte or drop series',
  TalonPodIoHigh: 'the simulator has no disk I/O byte series',
  TalonContainerCrashLooping: 'the simulator has no container restarts',
};

/**
 * The three rules as the window sees them. Thresholds, durations and labels come from the rule source; the
 * feature each rule reads is the one mapping kept here, and any rule it does not know is an error (a new
 * rule must be mapped before the evaluation can claim to know what Talon catches).
 */
export function ruleReadings(
  options: AlertRuleOptions = PRODUCTION_RULE_OPTIONS,
  stepSeconds: number = WINDOW_STEP_SECONDS,
): RuleReading[] {
  const mapping: Readonly<Record<string, { feature: ModelFeature; threshold: number; rate: boolean }>> = {
    TalonPodCpuNearLimit: { feature: 'cpu_usage', threshold: options.cpuLimitShare, rate: true },
    TalonPodMemoryNearLimit: { feature: 'memory_usage', threshold: options.memoryLimitShare, rate: false },
    TalonNodeOverloaded: { feature: 'system_cpu_usage', threshold: options.nodeCpuShare, rate: true },
  };
  const rateSteps = steps(durationSeconds(options.rateWindow), stepSeconds, 'rate window');
  return talonAlertRules(options).groups.flatMap((g) =>
    g.rules
      .filter((rule) => !(rule.alert in NOT_IN_SIMULATOR))
      .map((rule): RuleReading => {
        const m = mapping[rule.alert];
        if (!m) throw new RangeError(`alert rule ${rule.alert} has no mapping onto the simulated window`);
        const scope = rule.labels.talon_scope;
        if (scope !== 'pod' && scope !== 'node') throw new RangeError(`alert rule ${rule.alert} has no talon_scope`);
        return {
          alert: rule.alert,
          feature: m.feature,
          threshold: m.threshold,
          rateSteps: m.rate ? rateSteps : 1,
          forSteps: steps(durationSeconds(rule.for), stepSeconds, `for of ${rule.alert}`),
          scope,
          labels: rule.labels,
        };
      }),
  );
}

/**
 * Steps the rule has been firing at the window's last step: 0 when it is not firing there. Throws when
 * the window is too short to tell (a rate over rateSteps, held for forSteps, needs rateSteps + forSteps steps).
 */
export function firingStreak(window: readonly (readonly number[])[], rule: RuleReading): number {
  const f = featureIndex(rule.feature);
  const n = window.length;
  const first = rule.rateSteps - 1;
  if (n - 1 - rule.forSteps < first) {
    throw new RangeError(`${rule.alert} needs ${rule.rateSteps + rule.forSteps} steps to decide, the window has ${n}`);
  }
  const value = (t: number): number => {
    let sum = 0;
    for (let k = t - rule.rateSteps + 1; k <= t; k++) sum += window[k]?.[f] ?? 0;
    return sum / rule.rateSteps;
  };
  // Longest run of true conditions ending at the last step; firing needs forSteps + 1 evaluations.
  let run = 0;
  for (let t = n - 1; t >= first && value(t) > rule.threshold; t--) run++;
  return run > rule.forSteps ? run - rule.forSteps : 0;
}

/** Which of Talon's rules fire on this window at its last step, and which pod alert would start the workflow. */
export function catchability(
  window: readonly (readonly number[])[],
  rules: readonly RuleReading[] = ruleReadings(),
): Catchability {
  const firing = rules.map((rule) => ({ rule, streak: firingStreak(window, rule) })).filter((x) => x.streak > 0);
  if (firing.length === 0) return { kind: 'none' };
  const names = firing.map((x) => x.rule.alert);
  const pods = firing.filter((x) => x.rule.scope === 'pod');
  // Stable sort: equal streaks keep the rule group's order.
  const first = [...pods].sort((a, b) => b.streak - a.streak)[0];
  if (!first) return { kind: 'node_only', firing: names };
  return { kind: 'pod', alert: { alertName: first.rule.alert, labels: { ...first.rule.labels } }, firing: names };
}
