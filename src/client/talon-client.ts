/**
 * The public SDK: hand alerts to Talon durably, and look at what Talon is doing. Every face (webhook,
 * CLI, user code) goes through here, so there is one definition of "an alert reached Temporal".
 */
import { randomBytes } from 'node:crypto';
import {
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type ConnectionOptions,
} from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import { ApprovalRefusedError } from './errors';
import type { TalonAlert } from '../domain/alert';
import { describeWeights, normalisePriorities } from '../domain/priorities';
import { selectAlgorithm } from '../domain/selection';
import type { Taxonomy } from '../domain/taxonomy';
import { cancelSignal, stateQuery, type RemediationState } from '../contracts/alert-episode';
import {
  alertsQueuedSignal,
  INTAKE_WORKFLOW_TYPE,
  intakeStateQuery,
  intakeWorkflowId,
  type AlertIntakeInput,
  type IntakeBatch,
  type IntakeState,
} from '../contracts/alert-intake';
import type { RemediationStartSettings } from '../contracts/alert-workflows';
import { DEFAULT_TASK_QUEUE, WORKFLOW_TYPES } from '../contracts/common';
import {
  taskStateQuery,
  type DeployTaskInput,
  type DeployTaskResult,
  type DeployTaskSettings,
  type TaskDataInput,
  type TaskState,
} from '../contracts/deploy-task';
import { approveUpdate, rejectUpdate, type ApprovalResult } from '../contracts/remediate-alert';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes';
import { AUDIT_MEMO_KEY, type AuditEntry } from '../contracts/operator';
import type { alertIntake } from '../../workflows/alert-intake';
import type { deployTask } from '../../workflows/deploy-task';
import { handOffAlert, type HandOffResult } from './hand-off';
import type { TalonWorkflowType } from './workflow-types';

export interface TalonClientOptions {
  readonly address?: string;
  readonly namespace?: string;
  readonly taskQueue?: string;
  readonly tls?: ConnectionOptions['tls'];
  readonly apiKey?: string;
  /** Reuse an existing client (tests, or an application that already talks to Temporal). */
  readonly client?: Client;
  /**
   * Who this client is to Temporal (src/config/identity.ts): recorded on the approvals it sends and checked
   * against the policy file's approvers. Absent: the SDK's default, and approvals carry only `by`.
   */
  readonly identity?: string;
  /** Settings every remediation started through this client runs with (part of the workflow input). */
  readonly settings?: RemediationStartSettings;
  /**
   * The taxonomy task submissions are checked against before anything starts (unknown task, no
   * candidates, unscorable priorities fail at once); without it only the priorities are checked here.
   */
  readonly taxonomy?: Taxonomy;
}

/** A task submission: which task, what to optimise ("quality 70 / energy 30"), where the data is. */
export interface SubmitTaskRequest {
  readonly task: string;
  readonly priorities: Readonly<Record<string, number>>;
  readonly input?: TaskDataInput;
  /** Namespace the Job runs in (default `default`). */
  readonly namespace?: string;
  readonly settings?: Partial<DeployTaskSettings>;
}

/** A submitted task: its id, its live state, its result. */
export interface TaskHandle {
  readonly id: string;
  /** The result once the Job finished; rejects with the workflow's failure (WorkflowFailedError). */
  result(): Promise<DeployTaskResult>;
  /** Progress while running (step, algorithm, placement, attempts), the outcome after. */
  state(): Promise<TaskState>;
  /** Cancels the submission; the workflow deletes the running Job. */
  cancel(): Promise<void>;
}

/** Where a submission is, for faces that only have its id (REST GET, `talon task status`). */
export interface TaskStatus {
  readonly id: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT. */
  readonly status: string;
  readonly state?: TaskState;
  readonly result?: DeployTaskResult;
  readonly error?: string;
}

export interface TaskSummary {
  readonly id: string;
  readonly status: string;
  readonly task?: string;
  readonly algorithm?: string;
  readonly outcome?: string;
  readonly startTime: Date;
  readonly closeTime?: Date;
}

/** The submission does not exist (or is not a task submission). */
export class TaskNotFoundError extends Error {
  override readonly name = 'TaskNotFoundError';
  constructor(
    readonly id: string,
    cause?: unknown,
  ) {
    super(`no task submission ${id}`, { cause });
  }
}

export type { RemediationStartSettings } from '../contracts/alert-workflows';
export type { HandOffResult } from './hand-off';

/** One audit entry with the workflow it belongs to. */
export interface AuditRecord extends AuditEntry {
  readonly workflowId: string;
  readonly target?: string;
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
    private readonly taxonomy?: Taxonomy,
    readonly identity?: string,
  ) {
    this.taskQueue = taskQueue;
  }

  static async connect(options: TalonClientOptions = {}): Promise<TalonClient> {
    const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    if (options.client) {
      return new TalonClient(
        options.client,
        undefined,
        taskQueue,
        options.settings,
        options.taxonomy,
        options.identity ?? options.client.options.identity,
      );
    }
    const connection = await Connection.connect({
      address: options.address ?? '127.0.0.1:7233',
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    });
    const client = new Client({
      connection,
      namespace: options.namespace ?? 'default',
      ...(options.identity ? { identity: options.identity } : {}),
    });
    return new TalonClient(client, connection, taskQueue, options.settings, options.taxonomy, options.identity);
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
    return handOffAlert(this.temporal, this.taskQueue, this.settings, alert);
  }

  /**
   * Appends alerts to intake shard `shard` in one durable write (signal-with-start of its `alertIntake`
   * workflow); the intake hands each on to its remediation as `remediate` would. Resolves once Temporal
   * accepted the batch; with a deadline, the call and its retries stop at that instant.
   */
  async queueAlerts(shard: number, alerts: readonly TalonAlert[], deadline?: Date): Promise<void> {
    const batch: IntakeBatch = {
      alerts,
      ...(this.settings.remediation || this.settings.nodeOverload ? { settings: this.settings } : {}),
      queuedAt: new Date().toISOString(),
    };
    const input: AlertIntakeInput = { taskQueue: this.taskQueue, shard };
    const append = () =>
      this.temporal.workflow.signalWithStart<typeof alertIntake, [IntakeBatch]>(INTAKE_WORKFLOW_TYPE, {
        workflowId: intakeWorkflowId(this.taskQueue, shard),
        taskQueue: this.taskQueue,
        args: [input],
        signal: alertsQueuedSignal,
        signalArgs: [batch],
        staticSummary: `alert intake, shard ${shard} of ${this.taskQueue}`,
        staticDetails: 'Alerts acknowledged in batches during a storm, handed on to their remediations in order.',
      });
    await (deadline ? this.temporal.withDeadline(deadline, append) : append());
  }

  /** Alerts waiting in one intake shard, and how many it handed on; undefined when the shard is not running. */
  async intakeState(shard: number): Promise<IntakeState | undefined> {
    try {
      return await this.temporal.workflow.getHandle(intakeWorkflowId(this.taskQueue, shard)).query(intakeStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
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
      return await this.temporal.workflow.getHandle(workflowId).executeUpdate(approve ? approveUpdate : rejectUpdate, {
        args: [{ by, ...(comment ? { comment } : {}), ...(this.identity ? { identity: this.identity } : {}) }],
      });
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
    const types: readonly TalonWorkflowType[] = Object.values(WORKFLOW_TYPES);
    const talonTypes = types.map((t) => `"${t}"`).join(', ');
    const scoped = `WorkflowType IN (${talonTypes})${query ? ` AND (${query})` : ''}`;
    const rows: RemediationSummary[] = [];
    for await (const wf of this.temporal.workflow.list({ query: scoped })) {
      const sa = wf.searchAttributes;
      const alertName = firstKeyword(sa[SEARCH_ATTRIBUTES.TalonAlertName.name]);
      const target = firstKeyword(sa[SEARCH_ATTRIBUTES.TalonTarget.name]);
      const outcome = firstKeyword(sa[SEARCH_ATTRIBUTES.TalonOutcome.name]);
      const listed = sa[SEARCH_ATTRIBUTES.TalonPolicy.name];
      const policies = Array.isArray(listed) ? (listed as unknown[]).map(String) : undefined;
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

  /**
   * Submits a task (D3.3 1.4): starts a durable `deployTask` workflow that selects the algorithm by the
   * priorities, places it on an edge or cloud node, runs it as a Kubernetes Job and reports its metrics.
   * Invalid priorities (and, with a taxonomy, an unknown task or one without candidates) throw the domain's
   * errors before anything starts. Resolves once Temporal has accepted the submission; with a deadline,
   * the start call and its retries stop at that instant, as for `remediate`.
   */
  async submitTask(request: SubmitTaskRequest, deadline?: Date): Promise<TaskHandle> {
    const weights = normalisePriorities(request.priorities);
    const selection = this.taxonomy ? selectAlgorithm(this.taxonomy, request.task, request.priorities) : undefined;
    const id = `task-${request.task}-${randomBytes(6).toString('hex')}`;
    const input: DeployTaskInput = {
      task: request.task,
      priorities: { ...request.priorities },
      ...(request.input ? { input: request.input } : {}),
      ...(request.namespace ? { namespace: request.namespace } : {}),
      ...(request.settings ? { settings: request.settings } : {}),
    };
    const start = () =>
      this.temporal.workflow.start<typeof deployTask>(WORKFLOW_TYPES.deployTask, {
        workflowId: id,
        taskQueue: this.taskQueue,
        args: [input],
        staticSummary: `task ${request.task} for ${describeWeights(weights)}`,
        staticDetails: selection ? `expected algorithm: ${selection.summary}` : '',
      });
    await (deadline ? this.temporal.withDeadline(deadline, start) : start());
    return this.task(id);
  }

  /** A handle on an existing submission. */
  task(id: string): TaskHandle {
    const handle = this.temporal.workflow.getHandle<typeof deployTask>(id);
    return {
      id,
      result: () => handle.result(),
      state: () => handle.query(taskStateQuery),
      cancel: async () => {
        await handle.cancel();
      },
    };
  }

  /** Where a submission is: running (with its state), finished (with its result), or failed (with why). */
  async taskStatus(id: string): Promise<TaskStatus> {
    const handle = this.temporal.workflow.getHandle<typeof deployTask>(id);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new TaskNotFoundError(id, err);
      throw err;
    }
    if (description.type !== WORKFLOW_TYPES.deployTask) throw new TaskNotFoundError(id);
    const status = description.status.name;
    // A query needs a worker (a closed workflow is replayed to answer it): bounded, and optional.
    const query = () =>
      this.temporal
        .withDeadline(Date.now() + 5_000, () => handle.query(taskStateQuery))
        .catch((): TaskState | undefined => undefined);
    if (status === 'RUNNING') {
      const state = await query();
      return { id, status, ...(state ? { state } : {}) };
    }
    try {
      const result = await handle.result();
      return { id, status, result };
    } catch (err) {
      const state = await query();
      const cause = err instanceof WorkflowFailedError && err.cause ? err.cause : err;
      const error = cause instanceof Error ? cause.message : String(cause);
      return { id, status, error, ...(state ? { state } : {}) };
    }
  }

  /** Task submissions, newest first. */
  async listTasks(limit = 50): Promise<TaskSummary[]> {
    const rows: TaskSummary[] = [];
    for await (const wf of this.temporal.workflow.list({ query: `WorkflowType = "${WORKFLOW_TYPES.deployTask}"` })) {
      const sa = wf.searchAttributes;
      const target = firstKeyword(sa[SEARCH_ATTRIBUTES.TalonTarget.name]);
      const listed = sa[SEARCH_ATTRIBUTES.TalonPolicy.name];
      const algorithm = Array.isArray(listed) ? String((listed as unknown[])[0]) : undefined;
      const outcome = firstKeyword(sa[SEARCH_ATTRIBUTES.TalonOutcome.name]);
      rows.push({
        id: wf.workflowId,
        status: wf.status.name,
        startTime: wf.startTime,
        ...(wf.closeTime ? { closeTime: wf.closeTime } : {}),
        ...(target ? { task: target.replace(/^task\//, '') } : {}),
        ...(algorithm ? { algorithm } : {}),
        ...(outcome ? { outcome } : {}),
      });
      if (rows.length >= limit) break;
    }
    return rows;
  }

  /**
   * The operator's audit trail (decisions and changes with who, what, why and the policy version) of the alert
   * workflows running now or closed since `since`, from Temporal visibility: each workflow keeps its trail in its
   * memo (workflows/operator.ts). Entries at or after `since`, oldest first.
   */
  async audit(options: { since: Date; query?: string; limit?: number }): Promise<AuditRecord[]> {
    const types = [WORKFLOW_TYPES.remediateAlert, WORKFLOW_TYPES.nodeOverload].map((t) => `"${t}"`).join(', ');
    const since = options.since.toISOString();
    const scoped =
      `WorkflowType IN (${types}) AND (ExecutionStatus = "Running" OR CloseTime >= "${since}")` +
      (options.query ? ` AND (${options.query})` : '');
    const records: AuditRecord[] = [];
    const limit = options.limit ?? 1000;
    for await (const wf of this.temporal.workflow.list({ query: scoped })) {
      const trail = wf.memo?.[AUDIT_MEMO_KEY];
      if (!Array.isArray(trail)) continue;
      const target = firstKeyword(wf.searchAttributes[SEARCH_ATTRIBUTES.TalonTarget.name]);
      for (const entry of trail as AuditEntry[]) {
        if (typeof entry?.at !== 'string' || entry.at < since) continue;
        records.push({ ...entry, workflowId: wf.workflowId, ...(target ? { target } : {}) });
      }
      if (records.length >= limit * 4) break;
    }
    return records.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).slice(-limit);
  }

  /** The full event history, e.g. to export it for replay tests. */
  async history(workflowId: string, runId?: string): Promise<History> {
    return this.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  }
}
