/**
 * A circuit breaker around the learned policy model, and the policy engine that uses it: the model answers
 * while it is healthy; after `failureThreshold` consecutive failures or timeouts the circuit opens and the
 * rule policy answers (saying so in `fallbackReason`) until `openMs` has passed; then one trial call
 * (half-open) decides whether the model is back. D3.6 2.4.2 names the AI policy service as the single point
 * of failure of the TALON orchestrator; this is the remedy it proposes.
 *
 * The breaker lives in the worker process (one per activity factory), not in a workflow: it is shared by
 * every remediation the worker runs, which is what makes it notice an outage.
 */
import { z } from 'zod';
import { POLICIES, rankPolicies, type PolicyDecision, type RankedPolicy } from '../domain/policy';
import type { FeatureWindow } from '../domain/window';
import { PolicyInputError } from './errors';
import { CircuitOpenError, InvalidDecisionError, ModelTimeoutError, RuleConfigError } from './rule-errors';
import { createRulePolicy } from './rules';

/** Milliseconds since the epoch; injected so tests move time by hand. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Consecutive failures (errors, timeouts, invalid answers) that open the circuit. */
  readonly failureThreshold: number;
  /** How long the circuit stays open before a trial call. */
  readonly openMs: number;
  /** A call slower than this counts as a failure; its late answer is ignored. */
  readonly callTimeoutMs: number;
  readonly clock?: Clock;
  /**
   * Errors that are the caller's fault, not the model's (an invalid window): they fail that one call but
   * neither count towards opening the circuit nor close it. Default: {@link PolicyInputError}.
   */
  readonly isInputError?: (error: unknown) => boolean;
}

const isPolicyInputError = (error: unknown): boolean => error instanceof PolicyInputError;

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = { failureThreshold: 3, openMs: 30_000, callTimeoutMs: 2_000 };

export interface BreakerSnapshot {
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  readonly openedAt?: number;
  readonly retryAt?: number;
  readonly lastFailure?: string;
  readonly calls: number;
  readonly successes: number;
  readonly failures: number;
  readonly timeouts: number;
  /** Calls answered by the open circuit without reaching the model. */
  readonly rejected: number;
  /** Calls the model refused because their input was invalid: not model failures, the circuit ignores them. */
  readonly inputErrors: number;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export class CircuitBreaker {
  private readonly options: Required<BreakerOptions>;
  private consecutiveFailures = 0;
  private openedAt: number | undefined;
  private trialInFlight = false;
  private lastFailure: string | undefined;
  private counts = { calls: 0, successes: 0, failures: 0, timeouts: 0, rejected: 0, inputErrors: 0 };

  constructor(options: Partial<BreakerOptions> = {}) {
    const merged = { ...DEFAULT_BREAKER_OPTIONS, clock: systemClock, isInputError: isPolicyInputError, ...options };
    if (!Number.isInteger(merged.failureThreshold) || merged.failureThreshold < 1) {
      throw new RuleConfigError(`failureThreshold must be a positive integer, got ${merged.failureThreshold}`);
    }
    if (!(merged.openMs >= 0) || !(merged.callTimeoutMs > 0)) {
      throw new RuleConfigError(
        `openMs must be ≥ 0 and callTimeoutMs > 0, got ${merged.openMs} / ${merged.callTimeoutMs}`,
      );
    }
    this.options = merged;
  }

  /** The state as of now: an open circuit whose pause is over reads as half-open. */
  state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.options.clock.now() >= this.openedAt + this.options.openMs ? 'half_open' : 'open';
  }

  snapshot(): BreakerSnapshot {
    const state = this.state();
    return {
      state,
      consecutiveFailures: this.consecutiveFailures,
      ...(this.openedAt === undefined ? {} : { openedAt: this.openedAt, retryAt: this.openedAt + this.options.openMs }),
      ...(this.lastFailure === undefined ? {} : { lastFailure: this.lastFailure }),
      ...this.counts,
    };
  }

  /**
   * Runs `fn` through the breaker. Throws CircuitOpenError without calling it while open (or while a
   * half-open trial is in flight), ModelTimeoutError when it is too slow, or whatever it threw.
   */
  async call<T>(fn: () => Promise<T> | T): Promise<T> {
    const state = this.state();
    if (state === 'open' || (state === 'half_open' && this.trialInFlight)) {
      this.counts.rejected++;
      throw new CircuitOpenError((this.openedAt ?? 0) + this.options.openMs, this.lastFailure);
    }
    const trial = state === 'half_open';
    if (trial) this.trialInFlight = true;
    this.counts.calls++;
    try {
      const result = await this.withTimeout(fn);
      this.counts.successes++;
      this.consecutiveFailures = 0;
      this.openedAt = undefined;
      return result;
    } catch (error) {
      // One bad window says nothing about the model's health: three of them must not open the circuit for
      // every pod. A half-open trial that hit one stays undecided; the next call tries again.
      if (this.options.isInputError(error)) {
        this.counts.inputErrors++;
        throw error;
      }
      this.counts.failures++;
      if (error instanceof ModelTimeoutError) this.counts.timeouts++;
      this.consecutiveFailures++;
      this.lastFailure = describe(error);
      // A failed trial re-opens at once; otherwise only the K-th consecutive failure opens the circuit.
      if (trial || this.consecutiveFailures >= this.options.failureThreshold) this.openedAt = this.options.clock.now();
      throw error;
    } finally {
      if (trial) this.trialInFlight = false;
    }
  }

  private withTimeout<T>(fn: () => Promise<T> | T): Promise<T> {
    const timeoutMs = this.options.callTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ModelTimeoutError(timeoutMs)), timeoutMs);
      timer.unref();
      Promise.resolve()
        .then(fn)
        .then(
          (value) => {
            clearTimeout(timer);
            resolve(value);
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
    });
  }
}

/** What the learned model (src/policy/model.ts) implements; the breaker only needs this. */
export interface PolicyModel {
  readonly version?: string;
  decide(window: FeatureWindow): Promise<PolicyDecision> | PolicyDecision;
}

const rankedSchema = z.object({
  policy: z.enum(POLICIES),
  score: z.number().min(0).max(1),
  magnitude: z.number().refine(Number.isFinite, 'magnitude must be finite'),
  reason: z.string(),
});
const decisionSchema = z.object({
  source: z.literal('model'),
  ranked: z.array(rankedSchema).min(1),
  modelVersion: z.string().optional(),
});

/** Rejects a model answer that the workflow could not act on; counted as a model failure by the breaker. */
export function validateModelDecision(value: unknown): PolicyDecision {
  const parsed = decisionSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new InvalidDecisionError(`invalid model decision: ${problems}`);
  }
  const d = parsed.data;
  return {
    source: 'model',
    ranked: d.ranked,
    ...(d.modelVersion === undefined ? {} : { modelVersion: d.modelVersion }),
  };
}

export interface PolicyEngine {
  decide(window: FeatureWindow): Promise<PolicyDecision>;
  breaker(): BreakerSnapshot;
}

export interface PolicyEngineDeps {
  /** Absent until a model is trained and loaded: the rules answer and say so. */
  readonly model?: PolicyModel;
  readonly rules?: {
    decide(window: FeatureWindow): PolicyDecision;
    /** Candidates from inputs the model cannot read (signals, workload context), added to its answer. */
    supplement?(window: FeatureWindow): readonly RankedPolicy[];
  };
  readonly breaker?: CircuitBreaker;
}

/**
 * The model's ranking with the rules' supplementary candidates merged in: one entry per policy (the higher
 * score wins, reasons kept), ranked together. The model has no output for Talon's additions and no input for
 * network, disk I/O or workload health; without this, a model answer could never propose them.
 */
export function withSupplement(decision: PolicyDecision, extra: readonly RankedPolicy[]): PolicyDecision {
  if (extra.length === 0) return decision;
  const byPolicy = new Map(decision.ranked.map((r) => [r.policy, r]));
  for (const e of extra) {
    const seen = byPolicy.get(e.policy);
    if (!seen || e.score > seen.score)
      byPolicy.set(e.policy, seen ? { ...e, reason: `${e.reason}; model: ${seen.reason}` } : e);
  }
  return { ...decision, ranked: rankPolicies([...byPolicy.values()]) };
}

/** The model through the breaker, the rules whenever the model is absent, out, slow or wrong. */
export function createPolicyEngine(deps: PolicyEngineDeps = {}): PolicyEngine {
  const rules = deps.rules ?? createRulePolicy();
  const breaker = deps.breaker ?? new CircuitBreaker();
  const fallback = (window: FeatureWindow, fallbackReason: string): PolicyDecision => ({
    ...rules.decide(window),
    source: 'rules',
    fallbackReason,
  });
  return {
    breaker: () => breaker.snapshot(),
    async decide(window) {
      const model = deps.model;
      if (!model) return fallback(window, 'no policy model configured');
      try {
        const decision = await breaker.call(async () => validateModelDecision(await model.decide(window)));
        return withSupplement(decision, rules.supplement?.(window) ?? []);
      } catch (error) {
        if (error instanceof CircuitOpenError) {
          return fallback(window, `model circuit open: ${error.message}`);
        }
        if (error instanceof PolicyInputError) {
          return fallback(window, `window not usable by the model (circuit unaffected): ${describe(error)}`);
        }
        const s = breaker.snapshot();
        const opened = s.state === 'closed' ? '' : ' (circuit now open)';
        return fallback(window, `model failed${opened}: ${describe(error)}`);
      }
    },
  };
}
