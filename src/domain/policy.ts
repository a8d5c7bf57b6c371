/**
 * The policy catalogue: names from the TALON documents (D3.6 Table 1 and the Resource Manager's
 * magnitude guide) plus Talon's additions, and the ranked-decision shape that both the rule policy and
 * the learned model return. Pure: safe inside workflows.
 */

/** Policies the TALON Resource Manager predicts, in the model's output order. */
export const MODEL_POLICIES = [
  'cpu_scale_up',
  'cpu_scale_down',
  'memory_scale_up',
  'memory_scale_down',
  'task_offloading',
  'data_offloading',
  'no_action',
] as const;

/**
 * Talon's additions: the self-healing rules of D3.6 2.6 (replica scaling, node overload, restarting a
 * malfunctioning container) and network QoS of D3.3 1.4.2. The learned model has no output for them; the rules
 * propose them (src/policy/rules.ts), also next to a model's answer.
 */
export const EXTRA_POLICIES = [
  'replica_scale_down',
  'replica_scale_up',
  'node_overload',
  'network_qos',
  'container_restart',
] as const;

export const POLICIES = [...MODEL_POLICIES, ...EXTRA_POLICIES] as const;

export type ModelPolicy = (typeof MODEL_POLICIES)[number];
export type PolicyName = (typeof POLICIES)[number];

export function isPolicyName(value: unknown): value is PolicyName {
  return typeof value === 'string' && (POLICIES as readonly string[]).includes(value);
}

/** Inclusive range a magnitude must fall in, and what the number means. */
export interface MagnitudeRange {
  readonly min: number;
  readonly max: number;
  readonly meaning: string;
}

/**
 * The magnitude guide of D3.6 2.5, with upper/lower bounds Talon adds so no single step is reckless
 * (the documents only say "> 1.0"). Guards may narrow these further per installation.
 */
export const MAGNITUDE_GUIDE: Readonly<Record<PolicyName, MagnitudeRange>> = {
  cpu_scale_up: { min: 1.05, max: 3, meaning: 'factor to scale CPU up (1.5 = +50%)' },
  cpu_scale_down: { min: 0.3, max: 0.95, meaning: 'factor to scale CPU down (0.7 = 70% of current)' },
  memory_scale_up: { min: 1.05, max: 3, meaning: 'factor to scale memory up (1.5 = +50%)' },
  memory_scale_down: { min: 0.3, max: 0.95, meaning: 'factor to scale memory down (0.7 = 70% of current)' },
  task_offloading: { min: 0.1, max: 0.9, meaning: 'share of tasks to offload' },
  data_offloading: { min: 0.1, max: 0.9, meaning: 'share of data to offload' },
  no_action: { min: 1, max: 1, meaning: 'always 1.0 (no change)' },
  replica_scale_down: { min: 0.1, max: 0.95, meaning: 'factor applied to the replica count' },
  replica_scale_up: { min: 1.05, max: 4, meaning: 'factor applied to the replica count' },
  node_overload: { min: 1, max: 1, meaning: 'taint, evict the heaviest pod, untaint later' },
  network_qos: { min: 0.1, max: 1, meaning: 'share of the configured bandwidth ceiling to allow' },
  container_restart: { min: 1, max: 1, meaning: 'replace the pod of a crash-looping or stuck container' },
};

/** Whether a policy is one of Talon's additions, which only the rules propose. */
export function isExtraPolicy(policy: PolicyName): boolean {
  return (EXTRA_POLICIES as readonly string[]).includes(policy);
}

/** Clamps a magnitude into the guide's range for the policy; NaN becomes the range's safest end. */
export function clampMagnitude(policy: PolicyName, magnitude: number): number {
  const { min, max } = MAGNITUDE_GUIDE[policy];
  if (!Number.isFinite(magnitude)) return policy.endsWith('_up') ? min : max;
  return Math.min(max, Math.max(min, magnitude));
}

/** One entry of a ranked decision. */
export interface RankedPolicy {
  readonly policy: PolicyName;
  /** Confidence in [0, 1]; rule policies use a fixed scale documented with the rules. */
  readonly score: number;
  readonly magnitude: number;
  readonly reason: string;
}

export type DecisionSource = 'model' | 'rules';

/** What a policy engine answers: every candidate, best first, and where the answer came from. */
export interface PolicyDecision {
  readonly source: DecisionSource;
  readonly ranked: readonly RankedPolicy[];
  /** Set when the rules answered because the model could not (circuit open, bad output, ...). */
  readonly fallbackReason?: string;
  readonly modelVersion?: string;
}

/** Sorts best first; ties keep the catalogue order so results are deterministic. */
export function rankPolicies(entries: readonly RankedPolicy[]): RankedPolicy[] {
  return [...entries].sort((a, b) => b.score - a.score || POLICIES.indexOf(a.policy) - POLICIES.indexOf(b.policy));
}
