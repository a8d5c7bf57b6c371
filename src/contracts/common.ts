/**
 * What every Talon workflow and face shares: the task queue, the registered workflow type names, and the
 * counters workflows report. Imported by workflows, so it must stay deterministic (no I/O).
 */
import type { Sinks } from '@temporalio/workflow';

export const DEFAULT_TASK_QUEUE = 'talon-remediation';

/**
 * The workflows the faces list and start, by registered type name (a workflow registers under its exported
 * function's name; src/client/workflows.ts checks each name against workflows/index.ts at compile time).
 */
export const WORKFLOW_TYPES = {
  remediateAlert: 'remediateAlert',
  nodeOverload: 'nodeOverload',
  deployTask: 'deployTask',
  offloadRelease: 'offloadRelease',
} as const;

/**
 * Counters the workflows report to their worker's /metrics. Sinks are not recorded in history and are not
 * called again on replay, so a worker restart never counts an episode twice and adding a call changes no
 * history.
 */
export interface TalonMetricsSink extends Sinks {
  talonMetrics: {
    workflowStarted(type: string): void;
    /** A firing notification reached a remediation that was already running. */
    alertDeduplicated(type: string): void;
    escalated(from: string, to: string): void;
    /** A policy ranking was taken: from the model, or from the rules (fallback, or no usable window). */
    decided(source: string): void;
    /** An operator-policy decision or change (observe, recommend, approved, brake_wait, applied, …). */
    operatorDecision(decision: string): void;
    workflowFinished(type: string, outcome: string): void;
  };
}
