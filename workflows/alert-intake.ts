/**
 * One shard of the alert intake (src/contracts/alert-intake.ts): a durable, ordered queue of acknowledged alerts.
 * Webhooks append batches by signal; this workflow hands them on, oldest first, to their remediation
 * workflows through the dispatchAlerts activity (the same signal-with-start a direct hand-off does).
 * An acknowledged alert is never dropped: the activity retries until Temporal takes it, and a worker
 * restart resumes from the last batch Temporal recorded as done. Idle for a while, the shard finishes;
 * the next batch starts it again.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { IntakeActivities } from '../activities/intake';
import {
  alertsQueuedSignal,
  intakeStateQuery,
  type AlertIntakeInput,
  type IntakeBatch,
  type IntakeState,
} from '../src/contracts/alert-intake';

/** Alerts per activity call: ≈ 150 KiB of input, a few seconds of hand-offs on a busy server. */
export const MAX_ALERTS_PER_DISPATCH = 200;
/** A backlog larger than this is drained before continuing as new (it is the new run's input). */
const MAX_CARRIED_ALERTS = 400;
const DEFAULT_MAX_HISTORY_EVENTS = 10_000;
const DEFAULT_IDLE_SECONDS = 300;

const intake = proxyActivities<IntakeActivities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '20s',
  // No attempt limit: these alerts were acknowledged to their sender, so only Temporal taking them ends the
  // retries. Alerts Temporal refuses as invalid are reported in the result instead of failing the call.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

function alertCount(batches: readonly IntakeBatch[]): number {
  return batches.reduce((sum, b) => sum + b.alerts.length, 0);
}

/** Whole batches from the front of the queue, up to `max` alerts (at least one batch). */
function takeFront(pending: IntakeBatch[], max: number): IntakeBatch[] {
  let n = 0;
  let alerts = 0;
  while (n < pending.length && (n === 0 || alerts + pending[n]!.alerts.length <= max)) {
    alerts += pending[n]!.alerts.length;
    n++;
  }
  return pending.splice(0, n);
}

export async function alertIntake(input: AlertIntakeInput): Promise<void> {
  const pending: IntakeBatch[] = [...(input.pending ?? [])];
  let dispatched = input.dispatched ?? 0;
  let dropped = 0;
  setHandler(alertsQueuedSignal, (batch) => {
    pending.push(batch);
  });
  setHandler(intakeStateQuery, (): IntakeState => ({
    shard: input.shard,
    queued: alertCount(pending),
    dispatched,
    dropped,
  }));
  const maxEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const idle = `${input.idleSeconds ?? DEFAULT_IDLE_SECONDS}s`;
  for (;;) {
    if (pending.length === 0 && !(await condition(() => pending.length > 0, idle))) {
      // Signal handlers only append; a batch arriving as this run completes makes Temporal retry the task.
      await condition(allHandlersFinished);
      if (pending.length === 0) return;
    }
    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength >= maxEvents) && alertCount(pending) <= MAX_CARRIED_ALERTS) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof alertIntake>({ ...input, pending: [...pending], dispatched });
    }
    const batches = takeFront(pending, MAX_ALERTS_PER_DISPATCH);
    const count = alertCount(batches);
    const result = await intake.dispatchAlerts.executeWithOptions(
      { summary: `hand ${count} alert(s) on to their remediations (queued from ${batches[0]!.queuedAt})` },
      [{ taskQueue: input.taskQueue, batches }],
    );
    dispatched += count - result.dropped.length;
    dropped += result.dropped.length;
  }
}
