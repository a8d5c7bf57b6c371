/**
 * The one definition of "an alert reached Temporal": used by TalonClient (webhook, CLI, SDK) and by the
 * intake's dispatch activity, so an alert that queued through the intake starts exactly the workflow it
 * would have started directly.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { alertWorkflowId, describeTarget, type TalonAlert } from '../domain/alert';
import type { RemediationStartSettings } from '../domain/remediation';
import { alertFiredSignal, alertResolvedSignal, WORKFLOW_TYPES } from '../shared/definitions';

export interface HandOffResult {
  readonly workflowId: string;
  /**
   * 'started-or-signalled': firing, signal-with-start. 'signalled': resolved, reached its running workflow.
   * 'no-workflow': resolved, nothing was running. 'queued': appended to the alert intake, which hands it on.
   */
  readonly action: 'started-or-signalled' | 'signalled' | 'no-workflow' | 'queued';
}

/**
 * Firing: signal-with-start, so the first notification starts the episode's workflow and repeats only
 * signal it. Resolved: a signal to the running workflow, if any. Resolves once Temporal accepted it.
 */
export async function handOffAlert(
  temporal: Client,
  taskQueue: string,
  settings: RemediationStartSettings,
  alert: TalonAlert,
): Promise<HandOffResult> {
  const workflowId = alertWorkflowId(alert);
  if (alert.status === 'resolved') {
    try {
      await temporal.workflow.getHandle(workflowId).signal(alertResolvedSignal, alert);
      return { workflowId, action: 'signalled' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { workflowId, action: 'no-workflow' };
      throw err;
    }
  }
  const node = alert.target.kind === 'node';
  const workflowSettings = node ? settings.nodeOverload : settings.remediation;
  await temporal.workflow.signalWithStart(node ? WORKFLOW_TYPES.nodeOverload : WORKFLOW_TYPES.remediateAlert, {
    workflowId,
    taskQueue,
    args: [{ alert, ...(workflowSettings ? { settings: workflowSettings } : {}) }],
    signal: alertFiredSignal,
    signalArgs: [alert],
    staticSummary: `${alert.alertName} on ${describeTarget(alert.target)}`,
    staticDetails: alert.summary ?? alert.annotations.summary ?? '',
  });
  return { workflowId, action: 'started-or-signalled' };
}
