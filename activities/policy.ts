/**
 * Policy activities: rank the policies for a feature window, through the circuit breaker to the learned
 * model when one is injected, with the rule policy as the answer whenever the model is absent or out. The
 * engine (and so the breaker's memory of failures) lives as long as the worker, shared by every workflow.
 * With a decision log, every decision made inside a workflow is logged (src/policy/shadow.ts): the window,
 * both engines' rankings when a shadow challenger is configured, the workflow's choice and its propensity.
 */
import { z } from 'zod';
import { FAILURE_TYPES } from '../src/contracts/failures';
import { MODEL_FEATURES } from '../src/domain/features';
import type { DecisionContext, DecisionLogWriter, ExplorationSettings } from '../src/domain/decision-log';
import type { PolicyDecision } from '../src/domain/policy';
import type { FeatureWindow, WindowTarget } from '../src/domain/window';
import type { WorkloadContext } from '../src/domain/workload-context';
import {
  CircuitBreaker,
  createPolicyEngine,
  type BreakerOptions,
  type BreakerSnapshot,
  type PolicyEngine,
  type PolicyModel,
} from '../src/policy/breaker';
import { createRulePolicy, ruleConfig, type RuleConfigOverrides } from '../src/policy/rules';
import { createLoggedDecide, type DecisionIds } from '../src/policy/shadow';
import { activityContext } from './context';
import { permanentFailure } from './failures';
import { parseActivityInput } from './input';

/**
 * Namespace label that forces the engine for the namespace's pods: `rules` (the rule policy answers, the model
 * is not asked) or `model` (the default: the model through its breaker, the rules as fallback). The incident
 * lab runs the same scenario under both engines side by side this way (docs/LAB.md).
 */
export const POLICY_ENGINE_LABEL = 'talon.io/policy-engine';

export interface PolicyActivityDeps {
  /** A ready engine; otherwise one is built from the parts below. */
  readonly engine?: PolicyEngine;
  readonly model?: PolicyModel;
  readonly rules?: RuleConfigOverrides;
  readonly breaker?: Partial<BreakerOptions>;
  /** The labels of a namespace (cached by the caller); enables {@link POLICY_ENGINE_LABEL}. */
  readonly namespaceLabels?: (namespace: string) => Promise<Readonly<Record<string, string>>>;
  /**
   * Reads the pod's owning workload and container health (src/kube/workload-context) for the rules that need
   * it (replica scaling, restarting a malfunctioning container). Without it, or when it fails, those rules
   * stay silent and the decision goes on without them.
   */
  readonly workloadContext?: (target: WindowTarget) => Promise<WorkloadContext | undefined>;
  /** Told when the workload context could not be read (the worker logs it). */
  readonly onContextError?: (target: WindowTarget, error: unknown) => void;
  /** Decides alongside the model on every logged decision; its answer is logged, never used. */
  readonly shadow?: PolicyModel & { readonly loaded?: boolean };
  /** Where decisions made inside a workflow are logged; nothing is logged without it. */
  readonly decisionLog?: DecisionLogWriter;
  /** Bounded exploration for opted-in namespaces (off unless a namespace is listed). */
  readonly exploration?: ExplorationSettings;
  /** Uniform in [0, 1) for exploration; injected for tests. */
  readonly random?: () => number;
}

const finite = z.number().refine(Number.isFinite, 'must be finite');
const windowSchema = z
  .object({
    kind: z.literal('window'),
    target: z.object({ namespace: z.string().min(1), pod: z.string().min(1) }).loose(),
    source: z.enum(['prometheus', 'influx']),
    end: finite,
    stepSeconds: z.number().int().positive(),
    steps: z.number().int().min(2),
    features: z.array(z.string()),
    values: z.array(z.array(finite)),
    observed: z.array(z.array(z.boolean())),
    absentFeatures: z.array(z.enum(MODEL_FEATURES)),
    quality: z.object({ score: finite.pipe(z.number().min(0).max(1)) }).loose(),
  })
  .loose()
  .refine(
    (w) =>
      w.features.length === MODEL_FEATURES.length &&
      w.features.every((f, i) => f === MODEL_FEATURES[i]) &&
      w.values.length === w.steps &&
      w.values.every((row) => row.length === MODEL_FEATURES.length),
    { message: `values must be [steps × ${MODEL_FEATURES.length}] in the model's feature order` },
  );

/**
 * Per call: the policy file's rule thresholds for this alert (onto the worker's rule configuration), and the
 * decision context the decision log records (the alert, what the episode tried, the attempt).
 */
export interface DecideOptions extends Partial<DecisionContext> {
  readonly rules?: RuleConfigOverrides;
}

const contextSchema = z.object({
  alertName: z.string().min(1).max(200),
  resource: z.string().max(63).optional(),
  tried: z.array(z.string().max(63)).max(64),
  attempt: z.number().int().min(1),
  episode: z.number().int().min(1).optional(),
});

/** The workflow run and decision slot this call belongs to, when it runs as an activity of a workflow. */
function decisionIds(): DecisionIds | undefined {
  const info = activityContext()?.info;
  if (!info?.workflowExecution) return undefined;
  return {
    workflowId: info.workflowExecution.workflowId,
    runId: info.workflowExecution.runId,
    decisionId: info.activityId,
  };
}

export function createPolicyActivities(deps: PolicyActivityDeps = {}) {
  const rules = createRulePolicy(ruleConfig(deps.rules));
  // One rule policy per distinct set of thresholds, built once (a policy file has a handful).
  const byThresholds = new Map<string, ReturnType<typeof createRulePolicy>>();
  const rulePolicyFor = (overrides: RuleConfigOverrides): ReturnType<typeof createRulePolicy> => {
    const merged: RuleConfigOverrides = {
      ...deps.rules,
      ...overrides,
      cpu: { ...deps.rules?.cpu, ...overrides.cpu },
      memory: { ...deps.rules?.memory, ...overrides.memory },
    };
    const key = JSON.stringify(merged);
    let policy = byThresholds.get(key);
    if (!policy) {
      policy = createRulePolicy(ruleConfig(merged));
      if (byThresholds.size > 100) byThresholds.clear();
      byThresholds.set(key, policy);
    }
    return policy;
  };
  const engine =
    deps.engine ??
    createPolicyEngine({
      ...(deps.model ? { model: deps.model } : {}),
      rules,
      breaker: new CircuitBreaker(deps.breaker),
    });
  const decide = createLoggedDecide({
    engine,
    ...(deps.shadow ? { shadow: deps.shadow } : {}),
    ...(deps.decisionLog ? { log: deps.decisionLog } : {}),
    ...(deps.exploration ? { exploration: deps.exploration } : {}),
    ...(deps.random ? { random: deps.random } : {}),
  });
  return {
    /**
     * The ranked policies for a window, best first. `source` says who answered; `fallbackReason` is set
     * when the rules answered because the model could not. An insufficient-data outcome is not a window:
     * passing one is a non-retryable InvalidWindow failure. `context` (the alert, what the episode tried,
     * the attempt) lets the log record the workflow's choice; in an opted-in namespace, bounded exploration
     * may put another of the workflow's own candidates first (its reason says so).
     */
    async decidePolicy(window: FeatureWindow, options: DecideOptions = {}): Promise<PolicyDecision> {
      const parsed = windowSchema.safeParse(window);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        throw permanentFailure(FAILURE_TYPES.InvalidWindow, `not a usable feature window: ${problems}`);
      }
      const context = deps.workloadContext
        ? await deps.workloadContext(window.target).catch((err: unknown) => {
            deps.onContextError?.(window.target, err);
            return undefined;
          })
        : undefined;
      const seen = context ? { ...window, workload: context } : window;
      // The operator's thresholds for this alert (policy file), onto the worker's rule configuration.
      let thresholds = rules;
      if (options.rules) {
        try {
          thresholds = rulePolicyFor(options.rules);
        } catch (err) {
          throw permanentFailure(FAILURE_TYPES.InvalidInput, `rule thresholds: ${(err as Error).message}`);
        }
      }
      const labels = deps.namespaceLabels ? await deps.namespaceLabels(window.target.namespace).catch(() => ({})) : {};
      const forced = (labels as Record<string, string | undefined>)[POLICY_ENGINE_LABEL];
      if (forced === 'rules') {
        return {
          ...thresholds.decide(seen),
          source: 'rules',
          fallbackReason: `namespace label ${POLICY_ENGINE_LABEL}=rules`,
        };
      }
      const { rules: _operatorRules, ...logged } = options;
      const checked =
        logged.alertName === undefined ? undefined : parseActivityInput(contextSchema, logged, 'decision context');
      const decision = await decide(seen, checked, decisionIds());
      if (decision.source !== 'rules' || !options.rules) return decision;
      // The rule answer is recomputed with the operator's thresholds (the model has none).
      return {
        ...thresholds.decide(seen),
        source: 'rules',
        ...(decision.fallbackReason ? { fallbackReason: decision.fallbackReason } : {}),
      };
    },

    /** The breaker's state and counters, for health checks and the worker's metrics. */
    async policyBreakerState(): Promise<BreakerSnapshot> {
      return engine.breaker();
    },
  };
}

export type PolicyActivities = ReturnType<typeof createPolicyActivities>;
