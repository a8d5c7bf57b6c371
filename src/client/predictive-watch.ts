/**
 * Starts the predictive watch of a task queue (one per queue; every worker may ask, the first start wins and the
 * others find it running). The worker asks whenever the policy in force enables the watch; the watch ends itself
 * when a later policy disables it.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { PREDICTIVE_WATCH_TYPE, predictiveWatchId, type PredictiveWatchInput } from '../contracts/predictive-watch';
import type { predictiveWatch } from '../../workflows/predictive-watch';

export async function startPredictiveWatch(temporal: Client, taskQueue: string): Promise<'started' | 'running'> {
  try {
    await temporal.workflow.start<typeof predictiveWatch>(PREDICTIVE_WATCH_TYPE, {
      taskQueue,
      workflowId: predictiveWatchId(taskQueue),
      args: [{ taskQueue } satisfies PredictiveWatchInput],
      staticSummary: `predictive watch of task queue ${taskQueue}`,
      staticDetails:
        'Forecasts watched containers’ usage and raises predicted alerts before the real ones fire (issue 15 §3).',
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'running';
    throw err;
  }
}
