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
import type { FeatureWindow } from '../src/domain/window';
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

export interface PolicyActivityDeps {
  /** A ready engine; otherwise one is built from the parts below. */
  readonly engine?: PolicyEngine;
  readonly model?: PolicyModel;
  readonly rules?: RuleConfigOverrides;
  readonly breaker?: Partial<BreakerOptions>;
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

const contextSchema = z.object({
  alertName: z.string().min(1).max(200),
  resource: z.string().max(63).optional(),
  tried: z.array(z.string().max(63)).max(64),
  attempt: z.number().int().min(1),
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
  const engine =
    deps.engine ??
    createPolicyEngine({
      ...(deps.model ? { model: deps.model } : {}),
      rules: createRulePolicy(ruleConfig(deps.rules)),
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
    async decidePolicy(window: FeatureWindow, context?: DecisionContext): Promise<PolicyDecision> {
      const parsed = windowSchema.safeParse(window);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        throw permanentFailure(FAILURE_TYPES.InvalidWindow, `not a usable feature window: ${problems}`);
      }
      const checked =
        context === undefined ? undefined : parseActivityInput(contextSchema, context, 'decision context');
      return decide(window, checked, decisionIds());
    },

    /** The breaker's state and counters, for health checks and the worker's metrics. */
    async policyBreakerState(): Promise<BreakerSnapshot> {
      return engine.breaker();
    },
  };
}

export type PolicyActivities = ReturnType<typeof createPolicyActivities>;
