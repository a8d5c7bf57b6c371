/**
 * Which workflow an alert starts, and with what input: pod alerts `remediateAlert`, node alerts
 * `nodeOverload`, each with the settings of the face that handed it off. The one place that decides it, used
 * by the direct hand-off and by the intake's (src/client/hand-off.ts). Deterministic, no I/O.
 */
import type { TalonAlert } from '../domain/alert';
import { WORKFLOW_TYPES } from './common';
import type { NodeOverloadInput, NodeOverloadSettings } from './node-overload';
import type { RemediateAlertInput, RemediationSettings } from './remediate-alert';

/** Settings every remediation handed off by one face (webhook, CLI, SDK) starts with; part of the workflow input. */
export interface RemediationStartSettings {
  readonly remediation?: Partial<RemediationSettings>;
  readonly nodeOverload?: Partial<NodeOverloadSettings>;
}

export type AlertWorkflowStart =
  | { readonly workflowType: typeof WORKFLOW_TYPES.remediateAlert; readonly input: RemediateAlertInput }
  | { readonly workflowType: typeof WORKFLOW_TYPES.nodeOverload; readonly input: NodeOverloadInput };

export function alertWorkflowStart(alert: TalonAlert, settings: RemediationStartSettings): AlertWorkflowStart {
  if (alert.target.kind === 'node') {
    const own = settings.nodeOverload;
    return { workflowType: WORKFLOW_TYPES.nodeOverload, input: { alert, ...(own ? { settings: own } : {}) } };
  }
  const own = settings.remediation;
  return { workflowType: WORKFLOW_TYPES.remediateAlert, input: { alert, ...(own ? { settings: own } : {}) } };
}
