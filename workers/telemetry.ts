/**
 * What a worker counts for /metrics: the workflows' sink calls (started, deduplicated, escalated, finished)
 * and, through an activity interceptor, every step's duration plus the outcome of every cluster change
 * (applied, no-op, dry run, refused by a guard, failed).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, InjectedSinks, Next } from '@temporalio/worker';
import type { Context } from '@temporalio/activity';
import type { TalonMetrics } from '../src/observability/metrics';
import type { TalonMetricsSink } from '../src/contracts/common';

export function metricsSinks(metrics: TalonMetrics): InjectedSinks<TalonMetricsSink> {
  return {
    talonMetrics: {
      workflowStarted: { fn: (_info, type) => metrics.workflowsStarted.inc({ type }) },
      alertDeduplicated: { fn: () => metrics.alertsDeduplicated.inc() },
      escalated: { fn: (_info, from, to) => metrics.escalations.inc({ from, to }) },
      decided: { fn: (_info, source) => metrics.policyDecisions.inc({ source }) },
      operatorDecision: { fn: (_info, decision) => metrics.operatorDecisions.inc({ decision }) },
      workflowFinished: { fn: (_info, type, outcome) => metrics.workflowsFinished.inc({ type, outcome }) },
    },
  };
}

/** Activities that change the cluster, and how to name the change for `talon_actions_applied_total`. */
const CHANGES: Readonly<Record<string, (input: Record<string, unknown>) => string>> = {
  applyPolicy: (input) => (typeof input.policy === 'string' ? input.policy : 'unknown'),
  taintNode: () => 'node_taint',
  untaintNode: () => 'node_untaint',
  evictPod: () => 'pod_eviction',
};

interface ChangeResult {
  readonly dryRun?: boolean;
  readonly noop?: boolean;
  readonly applied?: boolean;
  readonly alreadyApplied?: boolean;
  /** Evictions: a PodDisruptionBudget may block one. */
  readonly outcome?: string;
}

/** The outcome label of a change activity's successful result. */
export function changeOutcome(result: unknown): string {
  const r = (typeof result === 'object' && result !== null ? result : {}) as ChangeResult;
  if (r.dryRun) return 'dry_run';
  if (r.outcome === 'blocked') return 'blocked';
  if (r.noop || r.alreadyApplied || r.applied === false) return 'noop';
  return 'applied';
}

/** The guard named by a GuardRefused failure (details[0] is the guard, or an object carrying it). */
export function refusedGuard(err: unknown): string | undefined {
  if (!(err instanceof ApplicationFailure) || err.type !== 'GuardRefused') return undefined;
  const first: unknown = err.details?.[0];
  if (typeof first === 'string') return first;
  if (typeof first === 'object' && first !== null && typeof (first as { guard?: unknown }).guard === 'string')
    return (first as { guard: string }).guard;
  return 'unknown';
}

export class ActivityMetricsInterceptor implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly ctx: Context,
    private readonly metrics: TalonMetrics,
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const type = this.ctx.info.activityType;
    const change = CHANGES[type];
    const subject = (input.args[0] ?? {}) as Record<string, unknown>;
    const end = this.metrics.stepDuration.startTimer({ step: type });
    try {
      const result = await next(input);
      if (change) this.metrics.actionsApplied.inc({ policy: change(subject), outcome: changeOutcome(result) });
      return result;
    } catch (err) {
      if (change) {
        const guard = refusedGuard(err);
        if (guard) this.metrics.guardRefusals.inc({ guard });
        this.metrics.actionsApplied.inc({ policy: change(subject), outcome: guard ? 'refused' : 'failed' });
      }
      throw err;
    } finally {
      end();
    }
  }
}
