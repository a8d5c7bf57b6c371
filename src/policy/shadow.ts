/**
 * One logged decision: the champion engine answers (the model behind its breaker, the rules as fallback), the
 * shadow challenger answers the same window at the same time through a breaker of its own, the workflow's
 * choice is computed with the workflow's own chooseCandidate (bounded exploration may pick another of its
 * candidates in an opted-in namespace), and the whole is handed to the decision log. The challenger's answer
 * is logged, never returned: a failing, slow or absent challenger changes nothing the workflow sees.
 */
import {
  alertOfContext,
  logChoice,
  type DecisionContext,
  type DecisionLogWriter,
  type DecisionRecord,
  type ExplorationSettings,
  type LoggedChallenger,
  type LoggedEngine,
  type LoggedWindow,
} from '../domain/decision-log';
import { chooseCandidate } from '../domain/escalation';
import type { PolicyDecision } from '../domain/policy';
import { workloadOf, type FeatureWindow } from '../domain/window';
import { CircuitBreaker, validateModelDecision, type PolicyEngine, type PolicyModel } from './breaker';

/** Where a decision was made: the workflow run and the decision's activity id inside it. */
export interface DecisionIds {
  readonly workflowId: string;
  readonly runId: string;
  readonly decisionId: string;
}

export interface LoggedDecisionDeps {
  readonly engine: PolicyEngine;
  /** The shadow challenger; a ModelSlot that may be empty (no challenger configured). */
  readonly shadow?: PolicyModel & { readonly loaded?: boolean };
  readonly log?: DecisionLogWriter;
  readonly exploration?: ExplorationSettings;
  /** Uniform in [0, 1); injected for tests. */
  readonly random?: () => number;
  /** Milliseconds since the epoch; injected for tests. */
  readonly now?: () => number;
  /** The challenger's own breaker: a broken challenger stops being asked, a slow one is cut off. */
  readonly shadowBreaker?: CircuitBreaker;
}

function loggedEngine(decision: PolicyDecision, ms: number): LoggedEngine {
  return {
    source: decision.source,
    ...(decision.modelVersion ? { modelVersion: decision.modelVersion } : {}),
    ...(decision.fallbackReason ? { fallbackReason: decision.fallbackReason } : {}),
    ranked: decision.ranked.map((r) => ({ policy: r.policy, score: r.score, magnitude: r.magnitude })),
    ms,
  };
}

export function loggedWindow(window: FeatureWindow): LoggedWindow {
  return {
    end: window.end,
    stepSeconds: window.stepSeconds,
    source: window.source,
    values: window.values,
    observed: window.observed,
    absentFeatures: window.absentFeatures,
    qualityScore: window.quality.score,
    ...(window.resources ? { resources: window.resources } : {}),
  };
}

const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** Builds the decide function the policy activity calls; one per worker (it holds the challenger's breaker). */
export function createLoggedDecide(deps: LoggedDecisionDeps) {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const breaker = deps.shadowBreaker ?? new CircuitBreaker({ failureThreshold: 3, openMs: 60_000, callTimeoutMs: 500 });
  const explore = deps.exploration;

  const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const started = process.hrtime.bigint();
    const value = await fn();
    return { value, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  };

  const challenger = async (window: FeatureWindow): Promise<LoggedChallenger | undefined> => {
    const shadow = deps.shadow;
    if (!shadow || shadow.loaded === false) return undefined;
    try {
      const { value, ms } = await timed(() =>
        breaker.call(async () => validateModelDecision(await shadow.decide(window))),
      );
      return loggedEngine(value, ms);
    } catch (error) {
      return { ...(shadow.version ? { modelVersion: shadow.version } : {}), error: describe(error) };
    }
  };

  /**
   * The decision the workflow gets. `ids` and `context` come from the workflow (absent outside one: then
   * nothing is logged and nothing explored); logging never throws.
   */
  return async function decide(
    window: FeatureWindow,
    context: DecisionContext | undefined,
    ids: DecisionIds | undefined,
  ): Promise<PolicyDecision> {
    const at = now();
    const [champion, shadow] = await Promise.all([
      timed(() => deps.engine.decide(window)),
      ids && deps.log ? challenger(window) : Promise.resolve(undefined),
    ]);
    let decision = champion.value;
    let choice: DecisionRecord['choice'];
    let shadowChoice: { policy: DecisionRecord['champion']['ranked'][number]['policy']; magnitude: number } | undefined;
    if (context && ids) {
      const alert = alertOfContext(context);
      const tried = new Set(context.tried);
      const optedIn =
        explore !== undefined && explore.epsilon > 0 && explore.namespaces.includes(window.target.namespace);
      const logged = logChoice(decision, alert, tried, optedIn ? explore.epsilon : 0, random(), random());
      decision = logged.decision;
      choice = logged.choice;
      if (shadow?.ranked) {
        const picked = chooseCandidate(
          { source: shadow.source ?? 'model', ranked: shadow.ranked.map((r) => ({ ...r, reason: '' })) },
          alert,
          tried,
        );
        if (picked) shadowChoice = { policy: picked.candidate.policy, magnitude: picked.candidate.magnitude };
      }
    }
    if (ids && deps.log) {
      const record: DecisionRecord = {
        ...ids,
        at,
        namespace: window.target.namespace,
        pod: window.target.pod,
        workload: workloadOf(window.target),
        window: loggedWindow(window),
        ...(context ? { context } : {}),
        champion: loggedEngine(champion.value, champion.ms),
        ...(choice ? { choice } : {}),
        ...(shadow ? { challenger: { ...shadow, ...(shadowChoice ? { choice: shadowChoice } : {}) } } : {}),
      };
      try {
        deps.log.recordDecision(record);
      } catch {
        // The log is evidence, not a precondition: a decision stands without its record.
      }
    }
    return decision;
  };
}
