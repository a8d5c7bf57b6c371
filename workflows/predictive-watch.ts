/**
 * The predictive watch (issue 15 §3, src/contracts/predictive-watch.ts): every round it asks the forecastBreaches
 * activity which watched containers will cross their alert threshold within the horizon, fires a predicted alert
 * for each new one and resolves those no longer forecast (or already over the line: the real alert's case), through
 * the intake's dispatchAlerts activity — the same hand-off real alerts take, so a predicted alert becomes the
 * workload's ordinary remediation under the operator policy (`predictiveAutonomy`, `recommend` by default). Time is
 * workflow time and waits are durable timers: a worker restart loses no round and fires nothing twice.
 */
import { ActivityFailure, continueAsNew, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { IntakeActivities } from '../activities/intake';
import { describeTarget, type TalonAlert } from '../src/domain/alert';
import { reconcile, type FiringPrediction } from '../src/domain/predictive';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';
import {
  predictiveWatchStateQuery,
  type ForecastTick,
  type PredictiveActivities,
  type PredictiveWatchInput,
  type PredictiveWatchResult,
  type PredictiveWatchState,
} from '../src/contracts/predictive-watch';

const DEFAULT_MAX_HISTORY_EVENTS = 2_000;
/** A round that failed is tried again after this long (Prometheus out, a bad answer). */
const RETRY_ROUND_SECONDS = 30;

const predictive = proxyActivities<PredictiveActivities>({
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '20s',
    maximumAttempts: 3,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
});
const intake = proxyActivities<IntakeActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '20s',
  // Like the intake: a predicted alert that was decided on is handed on until Temporal takes it.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

function failureText(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

export async function predictiveWatch(input: PredictiveWatchInput): Promise<PredictiveWatchResult> {
  let firing: Record<string, FiringPrediction> = { ...input.firing };
  let rounds = input.rounds ?? 0;
  let last: PredictiveWatchState['last'];
  let error: string | undefined;
  setHandler(predictiveWatchStateQuery, (): PredictiveWatchState => ({
    rounds,
    firing: Object.values(firing).map((f) => ({
      alert: f.alert.alertName,
      target: describeTarget(f.alert.target),
      summary: f.alert.summary ?? '',
    })),
    ...(last ? { last } : {}),
    ...(error ? { error } : {}),
  }));
  const maxEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const hand = async (alerts: readonly TalonAlert[], what: string): Promise<void> => {
    if (alerts.length === 0) return;
    const named = alerts.slice(0, 5).map((a) => `${a.alertName} ${describeTarget(a.target)}`);
    const more = alerts.length > named.length ? ` and ${alerts.length - named.length} more` : '';
    await intake.dispatchAlerts.executeWithOptions({ summary: `${what}: ${named.join(', ')}${more}` }, [
      { taskQueue: input.taskQueue, batches: [{ alerts, queuedAt: new Date(Date.now()).toISOString() }] },
    ]);
  };
  for (;;) {
    const at = Date.now();
    let tick: ForecastTick;
    try {
      tick = await predictive.forecastBreaches.executeWithOptions(
        { summary: `forecast round ${rounds + 1}: which watched containers will cross their alert threshold?` },
        [{ at: Math.floor(at / 1000) }],
      );
    } catch (err) {
      error = `round ${rounds + 1} failed: ${failureText(err)}`;
      await sleep(RETRY_ROUND_SECONDS * 1000, { summary: `${error}; try again in ${RETRY_ROUND_SECONDS}s` });
      continue;
    }
    rounds++;
    error = undefined;
    const iso = new Date(at).toISOString();
    if (!tick.enabled) {
      // The policy turned the watch off: nothing it raised may stay firing with nobody to resolve it.
      const open = Object.values(firing).map((f): TalonAlert => ({ ...f.alert, status: 'resolved', endsAt: iso }));
      await hand(open, 'predictive watch disabled by the policy, resolve what it raised');
      return { rounds, reason: `disabled by policy ${tick.policyVersion ?? '(no policy file)'}` };
    }
    last = {
      enabled: tick.enabled,
      ...(tick.policyVersion ? { policyVersion: tick.policyVersion } : {}),
      intervalSeconds: tick.intervalSeconds,
      confidence: tick.confidence,
      horizonSeconds: tick.horizonSeconds,
      resolveAfter: tick.resolveAfter,
      forecast: tick.forecast,
      clear: tick.clear,
      refused: tick.refused,
      at: iso,
      breaches: tick.breaches.length,
    };
    const next = reconcile(firing, tick, tick, iso);
    await hand(next.resolve, 'resolve predicted alerts no longer forecast, or now the alert rule’s');
    await hand(next.fire, 'raise predicted alerts');
    firing = next.firing;
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength >= maxEvents) {
      await continueAsNew<typeof predictiveWatch>({ ...input, firing, rounds });
    }
    await sleep(tick.intervalSeconds * 1000, {
      summary: `next forecast in ${tick.intervalSeconds}s (${Object.keys(firing).length} predicted alert(s) firing)`,
    });
  }
}
