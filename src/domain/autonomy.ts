/**
 * The operator's contract, as Talon applies it: what the policy file (src/config/policy-file.ts reads and
 * validates it) says Talon may do for one alert, and when the storm brake holds remediations back. Pure and
 * deterministic, free of zod and I/O, so the workflows can import it: the worker resolves a policy for an alert
 * (resolvePolicy) and the workflow acts on the answer it recorded.
 *
 * Autonomy levels, as peers name them: `observe` records what Talon would do and changes nothing, `recommend`
 * posts the recommendation (a Kubernetes Event, the workflow's record) and changes nothing, `approve` waits for an
 * approval from an allowed identity before every change, `auto` applies (policies in `requireApproval` still
 * wait for one).
 */
import type { CooldownConfig } from './cooldown';
import type { PredictiveConfig } from './predictive';
import { DEFAULT_COOLDOWN } from './cooldown';
import type { WriteBudget } from './guards';
import type { PolicyName } from './policy';

export const AUTONOMY_LEVELS = ['observe', 'recommend', 'approve', 'auto'] as const;
export type Autonomy = (typeof AUTONOMY_LEVELS)[number];

/** The more cautious of two autonomy levels (the order of AUTONOMY_LEVELS: observe is the most cautious). */
export function mostCautious(a: Autonomy, b: Autonomy): Autonomy {
  return AUTONOMY_LEVELS.indexOf(a) <= AUTONOMY_LEVELS.indexOf(b) ? a : b;
}

/**
 * The label of an alert the predictive watch raised before the breach happened (src/domain/predictive.ts): its
 * remediation runs at the scope's `predictiveAutonomy` when that is more cautious than its `autonomy`.
 */
export const PREDICTED_LABEL = 'talon_predicted';

export function isPredicted(labels: Readonly<Record<string, string>>): boolean {
  return labels[PREDICTED_LABEL] === 'true';
}

/** Policies Talon applies: the pod actions and node_overload. */
export const ACTIONABLE_POLICIES = [
  'cpu_scale_up',
  'cpu_scale_down',
  'memory_scale_up',
  'memory_scale_down',
  'replica_scale_up',
  'replica_scale_down',
  'task_offloading',
  'data_offloading',
  'network_qos',
  'node_overload',
] as const satisfies readonly PolicyName[];

/** Rule thresholds, onto the rule policy's defaults (src/policy/rules.ts, same shape as its overrides). */
export interface RuleThresholdOverrides {
  readonly cpu?: Partial<{ high: number; warn: number; low: number; target: number }>;
  readonly memory?: Partial<{ high: number; warn: number; low: number; target: number }>;
  readonly energyLimitWatts?: number | null;
  readonly recentSteps?: number;
  readonly minQualityForScaleDown?: number;
}

/** How far one change may grow a target: caps that only narrow Talon's own bounds. */
export interface GrowthCaps {
  /** Largest factor per scale-up policy (e.g. cpu_scale_up: 2 = at most double). */
  readonly maxFactor?: Readonly<Partial<Record<PolicyName, number>>>;
  /** Largest CPU a container may reach (a Kubernetes quantity). */
  readonly containerCpuMax?: string;
  /** Largest memory a container may reach. */
  readonly containerMemoryMax?: string;
  /** Most replicas a workload may reach. */
  readonly replicasMax?: number;
}

/** Everything the policy file decides for one alert, fully resolved. */
export interface OperatorSettings {
  readonly autonomy: Autonomy;
  /**
   * The most a remediation of a predicted alert may do (`recommend` by default): it runs at the more cautious of
   * this and `autonomy`, so a forecast never does more than the alert it anticipates would.
   */
  readonly predictiveAutonomy: Autonomy;
  /** Policies Talon may choose; the others are skipped as if tried. */
  readonly allowedPolicies: readonly PolicyName[];
  /** Policies that wait for an approval even in `auto`. */
  readonly requireApproval: readonly PolicyName[];
  /** Identities allowed to approve or reject (`*` anyone; a trailing or leading `*` matches a prefix or suffix). */
  readonly approvers: readonly string[];
  readonly approvalTimeoutSeconds: number;
  readonly maxAttempts: number;
  readonly cooldown: CooldownConfig;
  /** How long a node stays tainted after the eviction (node_overload). */
  readonly untaintAfterSeconds: number;
  readonly rules: RuleThresholdOverrides;
  readonly growth: GrowthCaps;
}

/** What an override sets: any part of the settings; objects merge, lists replace. */
export interface SettingsPatch {
  readonly autonomy?: Autonomy;
  readonly predictiveAutonomy?: Autonomy;
  readonly allowedPolicies?: readonly PolicyName[];
  readonly requireApproval?: readonly PolicyName[];
  readonly approvers?: readonly string[];
  readonly approvalTimeoutSeconds?: number;
  readonly maxAttempts?: number;
  readonly cooldown?: Partial<CooldownConfig>;
  readonly untaintAfterSeconds?: number;
  readonly rules?: RuleThresholdOverrides;
  readonly growth?: GrowthCaps;
}

export interface LabelExpression {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

/** Which alerts an override applies to: every field given must match (a Kubernetes-style label selector). */
export interface OverrideMatch {
  /** Namespace names; `*` at the end matches a prefix (`team-*`). */
  readonly namespaces?: readonly string[];
  /** Alert names, as the sender names them (free text allowed). */
  readonly alertNames?: readonly string[];
  /** Target kinds: pod alerts, node alerts. */
  readonly kinds?: readonly ('pod' | 'node')[];
  /** Alert labels that must have these values (matchLabels). */
  readonly labels?: Readonly<Record<string, string>>;
  /** matchExpressions over the alert's labels. */
  readonly labelExpressions?: readonly LabelExpression[];
}

export interface PolicyOverride {
  /** Shown in every decision it shaped; `overrides[i]` when absent. */
  readonly name?: string;
  readonly match: OverrideMatch;
  readonly set: SettingsPatch;
}

/** The storm brake, like a MachineHealthCheck's maxUnhealthy: too much under remediation at once stops new changes. */
export interface StormBrakeConfig {
  readonly enabled: boolean;
  /** Engage when more alert remediations than this run at once, cluster-wide (pod and node alerts). */
  readonly maxAlerts?: number;
  /** Engage for a namespace when more than this percentage of its pods are under remediation. */
  readonly maxNamespacePodsPercent?: number;
  /** Engage for node remediations when more than this percentage of the cluster's nodes are under remediation. */
  readonly maxClusterNodesPercent?: number;
  /** The percentage rules need at least this many remediations (2 of 3 pods is not a storm). */
  readonly minRemediations: number;
  /** What a held remediation does: wait until the brake releases, or continue in `observe`. */
  readonly action: 'wait' | 'observe';
  /** `auto`: released as soon as the counts are back under the limits; `manual`: only by `talon brake release`. */
  readonly release: 'auto' | 'manual';
  /** How often a waiting remediation checks the brake again. */
  readonly recheckSeconds: number;
  /**
   * A remediation is first judged this long after its workflow started, so a burst of alerts arriving together
   * (one notification of a whole group) is counted whole: the counts come from Temporal visibility, which shows a
   * new remediation a moment after it starts. 0 judges at once.
   */
  readonly settleSeconds: number;
  /** A remediation held longer than this ends as needs_human. */
  readonly maxWaitSeconds: number;
}

export interface WriteBudgets {
  /** Writes per namespace per window (each guarded namespace has its own). */
  readonly perNamespace: WriteBudget;
  /** Writes across the whole cluster per window; absent: no cluster-wide budget. */
  readonly cluster?: WriteBudget;
}

/** A loaded, validated policy file. */
export interface OperatorPolicy {
  /** `<version in the file>@<first 12 hex of the content's SHA-256>`: what every decision records. */
  readonly version: string;
  readonly defaults: OperatorSettings;
  readonly overrides: readonly PolicyOverride[];
  /** Namespaces Talon never changes (Talon's own is always added). */
  readonly protectedNamespaces: readonly string[];
  readonly writeBudgets: WriteBudgets;
  readonly stormBrake: StormBrakeConfig;
  /** The predictive watch: off unless the file enables it. */
  readonly predictive: PredictiveConfig;
}

/** What an alert is, as far as the policy can match on it. */
export interface AlertScope {
  readonly alertName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly kind: 'pod' | 'node';
  readonly namespace?: string;
}

/** The policy for one alert: the settings in force, which overrides made them, and the version that decided. */
export interface ResolvedPolicy {
  readonly version: string;
  readonly settings: OperatorSettings;
  /** Names of the overrides that applied, in order. */
  readonly matched: readonly string[];
  /** Set when the alert's namespace is protected: the rule that protects it. */
  readonly protectedBy?: string;
  readonly stormBrake: StormBrakeConfig;
  readonly writeBudgets: WriteBudgets;
  readonly protectedNamespaces: readonly string[];
  /** Set for a predicted alert: the autonomy its remediation runs at, and whether that is below the scope's own. */
  readonly predicted?: { readonly autonomy: Autonomy; readonly capped: boolean };
}

/** Talon's behaviour without a policy file, and what a file's omitted settings fall back to. */
export const DEFAULT_OPERATOR_SETTINGS: OperatorSettings = {
  autonomy: 'auto',
  predictiveAutonomy: 'recommend',
  allowedPolicies: ACTIONABLE_POLICIES,
  requireApproval: [],
  approvers: ['*'],
  approvalTimeoutSeconds: 900,
  maxAttempts: 3,
  cooldown: DEFAULT_COOLDOWN,
  untaintAfterSeconds: 60,
  rules: {},
  growth: {},
};

export const DEFAULT_STORM_BRAKE: StormBrakeConfig = {
  enabled: true,
  maxAlerts: 50,
  maxNamespacePodsPercent: 50,
  maxClusterNodesPercent: 30,
  minRemediations: 3,
  action: 'wait',
  release: 'auto',
  recheckSeconds: 30,
  settleSeconds: 5,
  maxWaitSeconds: 3600,
};

export const DEFAULT_WRITE_BUDGETS: WriteBudgets = { perNamespace: { maxWrites: 10, windowSeconds: 600 } };

/** Overrides onto settings: objects merge one level deep (cool-down, rules per resource, growth), lists replace. */
export function mergeSettings(base: OperatorSettings, patch: SettingsPatch): OperatorSettings {
  const rules: RuleThresholdOverrides = patch.rules
    ? {
        ...base.rules,
        ...patch.rules,
        ...(base.rules.cpu || patch.rules.cpu ? { cpu: { ...base.rules.cpu, ...patch.rules.cpu } } : {}),
        ...(base.rules.memory || patch.rules.memory ? { memory: { ...base.rules.memory, ...patch.rules.memory } } : {}),
      }
    : base.rules;
  const growth: GrowthCaps = patch.growth
    ? {
        ...base.growth,
        ...patch.growth,
        ...(base.growth.maxFactor || patch.growth.maxFactor
          ? { maxFactor: { ...base.growth.maxFactor, ...patch.growth.maxFactor } }
          : {}),
      }
    : base.growth;
  return {
    autonomy: patch.autonomy ?? base.autonomy,
    predictiveAutonomy: patch.predictiveAutonomy ?? base.predictiveAutonomy,
    allowedPolicies: patch.allowedPolicies ?? base.allowedPolicies,
    requireApproval: patch.requireApproval ?? base.requireApproval,
    approvers: patch.approvers ?? base.approvers,
    approvalTimeoutSeconds: patch.approvalTimeoutSeconds ?? base.approvalTimeoutSeconds,
    maxAttempts: patch.maxAttempts ?? base.maxAttempts,
    cooldown: patch.cooldown ? { ...base.cooldown, ...patch.cooldown } : base.cooldown,
    untaintAfterSeconds: patch.untaintAfterSeconds ?? base.untaintAfterSeconds,
    rules,
    growth,
  };
}

/** `name` matched against a pattern: exact, `*` for anything, or `*` at one end for a prefix or suffix. */
export function globMatches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.length > 1 && pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  if (pattern.length > 1 && pattern.startsWith('*')) return name.endsWith(pattern.slice(1));
  return pattern === name;
}

function labelOf(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(labels, key) && labels[key] !== '' ? labels[key] : undefined;
}

/** Whether an override's selector matches the alert. An empty selector matches every alert. */
export function overrideMatches(match: OverrideMatch, scope: AlertScope): boolean {
  if (match.kinds && !match.kinds.includes(scope.kind)) return false;
  if (match.namespaces && !(scope.namespace && match.namespaces.some((p) => globMatches(p, scope.namespace!))))
    return false;
  if (match.alertNames && !match.alertNames.includes(scope.alertName)) return false;
  for (const [key, value] of Object.entries(match.labels ?? {})) if (labelOf(scope.labels, key) !== value) return false;
  for (const e of match.labelExpressions ?? []) {
    const value = labelOf(scope.labels, e.key);
    const listed = value !== undefined && (e.values ?? []).includes(value);
    if (e.operator === 'In' && !listed) return false;
    if (e.operator === 'NotIn' && listed) return false;
    if (e.operator === 'Exists' && value === undefined) return false;
    if (e.operator === 'DoesNotExist' && value !== undefined) return false;
  }
  return true;
}

/** The policy in force for one alert: the defaults, then every matching override in file order. */
export function resolvePolicy(policy: OperatorPolicy, scope: AlertScope): ResolvedPolicy {
  let settings = policy.defaults;
  const matched: string[] = [];
  policy.overrides.forEach((o, i) => {
    if (!overrideMatches(o.match, scope)) return;
    settings = mergeSettings(settings, o.set);
    matched.push(o.name ?? `overrides[${i}]`);
  });
  const protectedBy = scope.namespace
    ? policy.protectedNamespaces.find((p) => globMatches(p, scope.namespace!))
    : undefined;
  let predicted: ResolvedPolicy['predicted'];
  if (isPredicted(scope.labels)) {
    const autonomy = mostCautious(settings.autonomy, settings.predictiveAutonomy);
    predicted = { autonomy, capped: autonomy !== settings.autonomy };
    settings = { ...settings, autonomy };
  }
  return {
    version: policy.version,
    settings,
    matched,
    ...(protectedBy !== undefined ? { protectedBy } : {}),
    ...(predicted ? { predicted } : {}),
    stormBrake: policy.stormBrake,
    writeBudgets: policy.writeBudgets,
    protectedNamespaces: policy.protectedNamespaces,
  };
}

/** Whether `identity` may approve or reject under `approvers`. An empty identity never may. */
export function isApprover(approvers: readonly string[], identity: string): boolean {
  return identity.trim() !== '' && approvers.some((p) => globMatches(p, identity));
}

/** What the operator's settings let Talon do with one chosen policy. */
export type OperatorAction = 'apply' | 'approve' | 'observe' | 'recommend';

export function actionFor(settings: OperatorSettings, policy: PolicyName): OperatorAction {
  if (settings.autonomy === 'observe') return 'observe';
  if (settings.autonomy === 'recommend') return 'recommend';
  if (settings.autonomy === 'approve' || settings.requireApproval.includes(policy)) return 'approve';
  return 'apply';
}

/** Policies the settings do not allow: the workflow skips them as if already tried. */
export function disallowedPolicies(settings: OperatorSettings): PolicyName[] {
  return ACTIONABLE_POLICIES.filter((p) => !settings.allowedPolicies.includes(p));
}

/** A scope of the storm brake: the whole cluster, node remediations, or one namespace. */
export type BrakeScope = 'cluster' | 'nodes' | `namespace/${string}`;

/**
 * What the brake is judged on, counted by the worker (Temporal visibility and the Kubernetes API). A remediation
 * counts while an episode is open: one that has ended its episode and only watches for a re-fire changes nothing.
 */
export interface BrakeCounts {
  /** Alert remediations with an open episode, cluster-wide (pod and node). */
  readonly remediations: number;
  readonly namespace?: {
    readonly name: string;
    /** Remediations with an open episode in the namespace (absent in states recorded before it: the pods count). */
    readonly remediations?: number;
    /** Pods of the workloads those remediations act on (a change to a workload rolls every pod of it). */
    readonly underRemediation: number;
    readonly pods: number;
  };
  readonly nodes?: { readonly underRemediation: number; readonly total: number };
}

/**
 * Pods under remediation in a namespace: every pod of each remediated workload (at least one per remediation,
 * for a workload whose pods are gone or named otherwise), never more than the namespace holds.
 */
export function podsUnderRemediation(
  workloads: readonly string[],
  podNames: readonly string[],
  workloadOfPod: (pod: string) => string,
): number {
  const perWorkload = new Map<string, number>();
  for (const pod of podNames) {
    const w = workloadOfPod(pod);
    perWorkload.set(w, (perWorkload.get(w) ?? 0) + 1);
  }
  const total = [...new Set(workloads)].reduce((sum, w) => sum + Math.max(1, perWorkload.get(w) ?? 0), 0);
  return podNames.length > 0 ? Math.min(total, podNames.length) : total;
}

export interface BrakeTrip {
  readonly scope: BrakeScope;
  readonly reason: string;
}

/** The limits the counts cross right now (empty: none). "More than" as in a MachineHealthCheck's maxUnhealthy. */
export function brakeTrips(config: StormBrakeConfig, counts: BrakeCounts): BrakeTrip[] {
  if (!config.enabled) return [];
  const trips: BrakeTrip[] = [];
  if (config.maxAlerts !== undefined && counts.remediations > config.maxAlerts) {
    trips.push({
      scope: 'cluster',
      reason: `${counts.remediations} alert remediations running, more than maxAlerts ${config.maxAlerts}`,
    });
  }
  const ns = counts.namespace;
  if (
    config.maxNamespacePodsPercent !== undefined &&
    ns &&
    (ns.remediations ?? ns.underRemediation) >= config.minRemediations
  ) {
    const percent = ns.pods > 0 ? (100 * ns.underRemediation) / ns.pods : 100;
    if (percent > config.maxNamespacePodsPercent) {
      trips.push({
        scope: `namespace/${ns.name}`,
        reason: `${ns.underRemediation} of ${ns.pods} pods of namespace ${ns.name} under remediation (${Math.round(percent)}%${ns.remediations !== undefined ? `, ${ns.remediations} remediations` : ''}), more than ${config.maxNamespacePodsPercent}%`,
      });
    }
  }
  const nodes = counts.nodes;
  if (config.maxClusterNodesPercent !== undefined && nodes && nodes.underRemediation >= config.minRemediations) {
    const percent = nodes.total > 0 ? (100 * nodes.underRemediation) / nodes.total : 100;
    if (percent > config.maxClusterNodesPercent) {
      trips.push({
        scope: 'nodes',
        reason: `${nodes.underRemediation} of ${nodes.total} nodes under remediation (${Math.round(percent)}%), more than ${config.maxClusterNodesPercent}%`,
      });
    }
  }
  return trips;
}

/** Whether a latched scope (manual release) or a manual engagement holds the remediation of `scope`. */
export function latchApplies(latched: BrakeScope, namespace: string | undefined, kind: 'pod' | 'node'): boolean {
  if (latched === 'cluster') return true;
  if (latched === 'nodes') return kind === 'node';
  return kind === 'pod' && latched === `namespace/${namespace ?? ''}`;
}

/** The brake as one remediation sees it: engaged or not, why, and whether only a person can release it. */
export interface BrakeState {
  readonly engaged: boolean;
  readonly trips: readonly BrakeTrip[];
  /** Scopes engaged and kept engaged until `talon brake release` (release: manual, or engaged by hand). */
  readonly latched: readonly { readonly scope: BrakeScope; readonly since: string; readonly reason: string }[];
  readonly counts: BrakeCounts;
  readonly release: 'auto' | 'manual';
  readonly action: 'wait' | 'observe';
}

/** One line for histories, events and the CLI. */
export function describeBrake(state: BrakeState): string {
  if (!state.engaged) return 'storm brake released';
  const reasons = [
    ...state.trips.map((t) => t.reason),
    ...state.latched
      .filter((l) => !state.trips.some((t) => t.scope === l.scope))
      .map(
        (l) =>
          `${l.scope} held since ${l.since} (${l.reason}); release with \`talon brake release --scope ${l.scope}\``,
      ),
  ];
  return `storm brake engaged: ${reasons.join('; ')}`;
}
