/**
 * The Temporal activity context as the Kubernetes activities use it: optional (the same functions run outside
 * a worker in tests and `talon alerts replay`), heartbeats that carry the actuator's checkpoints, and waits
 * that end as soon as the activity is cancelled.
 */
import { Context } from '@temporalio/activity';
import type { OperationContext } from '../src/kube/actuator';
import type { Checkpoint } from '../src/kube/types';

/** The running activity's context, or undefined outside an activity. */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Sleeps `ms`, or rejects with the cancellation as soon as `signal` aborts (a cancelled activity stops waiting). */
export function cancellableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    // The listener goes with the timer: a long wait polls many times on the same signal.
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function isCheckpoint(value: unknown): value is Checkpoint {
  return typeof value === 'object' && value !== null && typeof (value as Checkpoint).operationId === 'string';
}

/**
 * The actuator's per-call context, wired to Temporal heartbeats when running as an activity: every checkpoint
 * the actuator records travels in the heartbeat details, so a retry after a worker crash resumes from it
 * (Temporal hands the last details to the next attempt) instead of writing again.
 */
export function operationContext(operationId: string, dryRun: boolean): OperationContext {
  const ctx = activityContext();
  const details: unknown = ctx?.info.heartbeatDetails;
  let saved: Checkpoint | undefined = isCheckpoint(details) ? details : undefined;
  return {
    operationId,
    dryRun,
    ...(saved ? { restored: saved } : {}),
    checkpoint: (checkpoint) => {
      saved = checkpoint;
      ctx?.heartbeat(checkpoint);
    },
    heartbeat: () => ctx?.heartbeat(saved),
  };
}
