/**
 * The public SDK: hand alerts to Talon durably, and look at what Talon is doing. Every face (webhook,
 * CLI, user code) goes through here, so there is one definition of "an alert reached Temporal".
 */
import {
  Client,
  Connection,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type ConnectionOptions,
} from '@temporalio/client';
import { ApprovalRefusedError } from './errors';
import { alertWorkflowId, describeTarget, type TalonAlert } from '../domain/alert';
import type { NodeOverloadSettings, RemediationSettings } from '../domain/remediation';
import {
  alertFiredSignal,
  alertResolvedSignal,
  approveUpdate,
  cancelSignal,
  DEFAULT_TASK_QUEUE,
  rejectUpdate,
  stateQuery,
  WORKFLOW_TYPES,
  type ApprovalResult,
  type RemediationState,
} from '../shared/definitions';

export interface TalonClientOptions {
  readonly address?: string;
  readonly namespace?: string;
  readonly taskQueue?: string;
  readonly tls?: ConnectionOptions['tls'];
  readonly apiKey?: string;
  /** Reuse an existing client (tests, or an application that already talks to Temporal). */
  readonly client?: Client;
  /** Settings every remediation started through this client runs with (part of the workflow input). */
  readonly settings?: RemediationStartSettings;
}

export interface RemediationStartSettings {
  readonly remediation?: Partial<RemediationSettings>;
  readonly nodeOverload?: Partial<NodeOverloadSettings>;
}

export interface HandOffResult {
  readonly workflowId: string;
  /** 'signalled' when a workflow for this alert was already running (a repeat notification). */
  readonly action: 'started-or-signalled' | 'signalled' | 'no-workflow';
}

export interface RemediationSummary {
  readonly workflowId: string;
  readonly runId: string;
  readonly type: string;
  readonly status: string;
  readonly startTime: Date;
  readonly closeTime?: Date;
  readonly alertName?: string;
  readonly target?: string;
  readonly outcome?: string;
  readonly policies?: readonly string[];
}

function firstKeyword(value: unknown): string | undefined {
  return Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

export class TalonClient {
  readonly taskQueue: string;

  private constructor(
    readonly temporal: Client,
    private readonly ownedConnection: Connection | undefined,
    taskQueue: string,
    private readonly settings: RemediationStartSettings = {},
  ) {
    this.taskQueue = taskQueue;
  }

  static async connect(options: TalonClientOptions = {}): Promise<TalonClient> {
    const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    if (options.client) return new TalonClient(options.client, undefined, taskQueue, options.settings);
    const connection = await Connection.connect({
      address: options.address ?? '127.0.0.1:7233',
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    });
    const client = new Client({ connection, namespace: options.namespace ?? 'default' });
    return new TalonClient(client, connection, taskQueue, options.settings);
  }

  async close(): Promise<void> {
    await this.ownedConnection?.close();
  }

  /**
   * Durably hands one alert to Temporal. Firing: signal-with-start, so the first notification starts the
   * episode's workflow and repeats only signal it. Resolved: a signal to the running workflow, if any.
   * Resolves only once Temporal has accepted the request. With a deadline, the gRPC call and its retries
   * stop at that instant (nothing keeps retrying in the background after the caller gave up).
   */
  async remediate(alert: TalonAlert, deadline?: Date): Promise<HandOffResult> {
    if (deadline) return this.temporal.withDeadline(deadline, () => this.handOff(alert));
    return this.handOff(alert);
  }

  private async handOff(alert: TalonAlert): Promise<HandOffResult> {
    const workflowId = alertWorkflowId(alert);
    if (alert.status === 'resolved') {
      try {
        await this.temporal.workflow.getHandle(workflowId).signal(alertResolvedSignal, alert);
        return { workflowId, action: 'signalled' };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { workflowId, action: 'no-workflow' };
        throw err;
      }
    }
    const node = alert.target.kind === 'node';
    const settings = node ? this.settings.nodeOverload : this.settings.remediation;
    await this.temporal.workflow.signalWithStart(node ? WORKFLOW_TYPES.nodeOverload : WORKFLOW_TYPES.remediateAlert, {
      workflowId,
      taskQueue: this.taskQueue,
      args: [{ alert, ...(settings ? { settings } : {}) }],
      signal: alertFiredSignal,
      signalArgs: [alert],
      staticSummary: `${alert.alertName} on ${describeTarget(alert.target)}`,
      staticDetails: alert.summary ?? alert.annotations.summary ?? '',
    });
    return { workflowId, action: 'started-or-signalled' };
  }

  /** The live state of a remediation (step, attempts, policies tried, last verification). */
  async status(workflowId: string): Promise<RemediationState> {
    return this.temporal.workflow.getHandle(workflowId).query(stateQuery);
  }

  /** Approves the change a remediation waits for; records who. Throws ApprovalRefusedError when nothing waits. */
  async approve(workflowId: string, by: string, comment?: string): Promise<ApprovalResult> {
    return this.answerApproval(workflowId, true, by, comment);
  }

  async reject(workflowId: string, by: string, comment?: string): Promise<ApprovalResult> {
    return this.answerApproval(workflowId, false, by, comment);
  }

  private async answerApproval(
    workflowId: string,
    approve: boolean,
    by: string,
    comment?: string,
  ): Promise<ApprovalResult> {
    try {
      return await this.temporal.workflow
        .getHandle(workflowId)
        .executeUpdate(approve ? approveUpdate : rejectUpdate, { args: [{ by, ...(comment ? { comment } : {}) }] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new ApprovalRefusedError(err.cause?.message ?? err.message, err);
      }
      throw err;
    }
  }

  async cancel(workflowId: string, by: string, reason?: string): Promise<void> {
    await this.temporal.workflow.getHandle(workflowId).signal(cancelSignal, { by, ...(reason ? { reason } : {}) });
  }

  /**
   * Remediations matching a visibility query over Talon's search attributes, e.g.
   * `TalonOutcome = "needs_human"` or `TalonNamespace = "shop" AND ExecutionStatus = "Running"`.
   */
  async list(query = '', limit = 100): Promise<RemediationSummary[]> {
    const talonTypes = Object.values(WORKFLOW_TYPES)
      .map((t) => `"${t}"`)
      .join(', ');
    const scoped = `WorkflowType IN (${talonTypes})${query ? ` AND (${query})` : ''}`;
    const rows: RemediationSummary[] = [];
    for await (const wf of this.temporal.workflow.list({ query: scoped })) {
      const sa = wf.searchAttributes;
      const alertName = firstKeyword(sa.TalonAlertName);
      const target = firstKeyword(sa.TalonTarget);
      const outcome = firstKeyword(sa.TalonOutcome);
      const policies = Array.isArray(sa.TalonPolicy) ? (sa.TalonPolicy as unknown[]).map(String) : undefined;
      rows.push({
        workflowId: wf.workflowId,
        runId: wf.runId,
        type: wf.type,
        status: wf.status.name,
        startTime: wf.startTime,
        ...(wf.closeTime ? { closeTime: wf.closeTime } : {}),
        ...(alertName ? { alertName } : {}),
        ...(target ? { target } : {}),
        ...(outcome ? { outcome } : {}),
        ...(policies ? { policies } : {}),
      });
      if (rows.length >= limit) break;
    }
    return rows;
  }

  /** The full event history, e.g. to export it for replay tests. */
  async history(workflowId: string, runId?: string) {
    return this.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  }
}
