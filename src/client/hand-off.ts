/**
 * The one definition of "an alert reached Temporal": used by TalonClient (webhook, CLI, SDK) and by the
 * intake's dispatch activity, so an alert that queued through the intake starts exactly the workflow it
 * would have started directly.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  alertWorkflowId,
  alertWorkload,
  describeTarget,
  legacyAlertWorkflowId,
  type TalonAlert,
} from '../domain/alert';
import { alertFiredSignal, alertResolvedSignal } from '../contracts/alert-episode';
import { alertWorkflowStart, type RemediationStartSettings } from '../contracts/alert-workflows';
import type { nodeOverload } from '../../workflows/node-overload';
import type { remediateAlert } from '../../workflows/remediate-alert';

export interface HandOffResult {
  readonly workflowId: string;
  /**
   * 'started-or-signalled': firing, signal-with-start. 'signalled': resolved, reached its running workflow.
   * 'no-workflow': resolved, nothing was running. 'queued': appended to the alert intake, which hands it on.
   */
  readonly action: 'started-or-signalled' | 'signalled' | 'no-workflow' | 'queued';
}

/**
 * Firing: signal-with-start, so the first notification starts the workload's remediation and every later one
 * (a repeat, or another pod of the same workload) only signals it. Resolved: a signal to the running
 * workflow, if any (or to one started under the per-alert id of earlier versions). Resolves once Temporal
 * accepted it.
 */
export async function handOffAlert(
  temporal: Client,
  taskQueue: string,
  settings: RemediationStartSettings,
  alert: TalonAlert,
): Promise<HandOffResult> {
  const workflowId = alertWorkflowId(alert);
  if (alert.status === 'resolved') {
    const legacy = legacyAlertWorkflowId(alert);
    for (const id of legacy ? [workflowId, legacy] : [workflowId]) {
      try {
        await temporal.workflow.getHandle(id).signal(alertResolvedSignal, alert);
        return { workflowId: id, action: 'signalled' };
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
    return { workflowId, action: 'no-workflow' };
  }
  const workload = alertWorkload(alert);
  const options = {
    workflowId,
    taskQueue,
    signal: alertFiredSignal,
    signalArgs: [alert] as [TalonAlert],
    staticSummary:
      alert.target.kind === 'pod'
        ? `${alert.alertName} on ${alert.target.namespace}/${workload ?? alert.target.pod} (first: ${alert.target.pod})`
        : `${alert.alertName} on ${describeTarget(alert.target)}`,
    staticDetails: alert.summary ?? alert.annotations.summary ?? '',
  };
  const start = alertWorkflowStart(alert, settings);
  // The type argument is the workflow function itself, so its input is checked here (and go-to-definition leads there).
  if (start.workflowType === 'nodeOverload') {
    await temporal.workflow.signalWithStart<typeof nodeOverload, [TalonAlert]>(start.workflowType, {
      ...options,
      args: [start.input],
    });
  } else {
    await temporal.workflow.signalWithStart<typeof remediateAlert, [TalonAlert]>(start.workflowType, {
      ...options,
      args: [start.input],
    });
  }
  return { workflowId, action: 'started-or-signalled' };
}
