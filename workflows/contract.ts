/**
 * One purchased bundle or pay-as-you-go contract (D3.6 §2.7), for its whole life: tasks are submitted
 * under it (update `submitToContract`), each admitted only if the contract can pay for its worst case
 * (every attempt running to its deadline, the deadline shortened to what is left) and then run as a child
 * `deployTask` workflow; when the task ends, its Jobs are read and what they used (requests × observed run
 * time) is charged to the ledger, once per Job uid. The ledger lives in this workflow's state, so it
 * survives worker restarts; a retried metering activity or a replay cannot charge a Job twice.
 * Ends when closed (signal), when its pay-as-you-go period is over, or an hour after it has nothing left,
 * always once no task of it runs. Deterministic: Kubernetes is read by activities only.
 */
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { ContractActivities } from '../activities/contract';
import {
  admitSubmission,
  applyUsage,
  EMPTY_LEDGER,
  exhausted,
  remaining,
  type Charge,
  type Reservation,
} from '../src/domain/pricing/metering';
import {
  closeContractSignal,
  contractStatusQuery,
  DEFAULT_CONTRACT_SETTINGS,
  submitToContractUpdate,
  type ContractInput,
  type ContractRefusal,
  type ContractState,
  type ContractStatus,
  type ContractSubmission,
  type ContractTaskRecord,
} from '../src/contracts/pricing-contract';
import { DEFAULT_DEPLOY_TASK_SETTINGS, taskIdLabelValue } from '../src/contracts/deploy-task';
import { deployTask } from './deploy-task';

export type { ContractInput, ContractStatus } from '../src/contracts/pricing-contract';

const TASKS_KEPT = 50;

const estimateOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
};
// Metering must not give up: what a task used is owed whatever the apiserver's mood.
const meterOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '60s',
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
};
const contract = proxyActivities<ContractActivities>(estimateOptions);

export async function pricingContract(input: ContractInput): Promise<ContractStatus> {
  const info = workflowInfo();
  const settings = { ...DEFAULT_CONTRACT_SETTINGS, ...input.settings };
  const { terms } = input;
  const namespace = input.namespace ?? 'default';
  const purchasedAt = input.purchasedAt ?? info.startTime.toISOString();
  const validUntil = terms.validUntil !== undefined ? Date.parse(terms.validUntil) : undefined;
  let ledger = input.carried?.ledger ?? EMPTY_LEDGER;
  let submitted = input.carried?.submitted ?? 0;
  let refused = input.carried?.refused ?? 0;
  let lastRefusal = input.carried?.lastRefusal;
  const tasks: ContractTaskRecord[] = [...(input.carried?.tasks ?? [])];
  const running = new Map<string, Reservation>();
  const metering: Promise<void>[] = [];
  let closed: string | undefined;
  let expired = validUntil !== undefined && Date.now() >= validUntil;

  const state = (): ContractState =>
    closed !== undefined ? 'closed' : expired ? 'expired' : exhausted(terms, ledger) ? 'exhausted' : 'active';
  const status = (): ContractStatus => {
    const charges = Object.values(ledger.charges);
    return {
      contractId: input.contractId,
      state: state(),
      terms,
      ...(input.owner ? { owner: input.owner } : {}),
      purchasedAt,
      used: ledger.used,
      charged: ledger.charged,
      cost: ledger.cost,
      remaining: remaining(terms, ledger, [...running.values()]),
      running: [...running.values()],
      jobsMetered: charges.length,
      userOwnedShare: ledger.used.vcpuHours > 0 ? ledger.userOwnedVcpuHours / ledger.used.vcpuHours : 0,
      submitted,
      refused,
      ...(lastRefusal ? { lastRefusal } : {}),
      recentCharges: charges.slice(-settings.recentCharges),
      tasks: [...tasks],
    };
  };

  setHandler(contractStatusQuery, status);
  setHandler(closeContractSignal, (reason) => {
    closed ??= reason ?? 'closed on request';
  });
  upsertSearchAttributes({ TalonKind: ['contract'], TalonTarget: [`contract/${input.contractId}`] });

  // Read through a function: a close signal may arrive while a handler awaits.
  const closedReason = (): string | undefined => closed;
  const refuse = (code: ContractRefusal, reason: string): ApplicationFailure => {
    refused++;
    lastRefusal = `${code}: ${reason}`;
    return ApplicationFailure.nonRetryable(reason, code);
  };

  /** Waits for a task to end, then charges its Jobs (re-reading while one still runs) and frees its reservation. */
  const meterWhenDone = async (
    taskId: string,
    task: string,
    jobNamespace: string,
    child: ChildWorkflowHandle<typeof deployTask>,
  ): Promise<void> => {
    let outcome: ContractTaskRecord['outcome'] = 'succeeded';
    try {
      await child.result();
    } catch (err) {
      outcome = isCancellation(err) ? 'cancelled' : 'failed';
    }
    const charged: Charge[] = [];
    for (let read = 0; ; read++) {
      const metered = await contract.meterTaskJobs.executeWithOptions(
        { ...meterOptions, summary: `meter the Jobs of task ${taskId} (${task})` },
        [{ namespace: jobNamespace, taskIdLabel: taskIdLabelValue(taskId) }],
      );
      const applied = applyUsage(ledger, terms, metered.jobs, task);
      ledger = applied.ledger;
      charged.push(...applied.charged);
      if (metered.running.length === 0 || read >= settings.meterRetries) break;
      await sleep(settings.meterRetrySeconds * 1000);
    }
    running.delete(taskId);
    tasks.push({
      taskId,
      task,
      outcome,
      jobs: charged.length,
      vcpuHours: charged.reduce((a, c) => a + c.vcpuHours, 0),
      gbHours: charged.reduce((a, c) => a + c.gbHours, 0),
      cost: charged.reduce((a, c) => a + c.cost, 0),
      meteredAt: new Date().toISOString(),
    });
    if (tasks.length > TASKS_KEPT) tasks.splice(0, tasks.length - TASKS_KEPT);
  };

  setHandler(
    submitToContractUpdate,
    async (submission) => {
      if (closed !== undefined) throw refuse('ContractClosed', `the contract is closed (${closed})`);
      if (expired) throw refuse('ContractExpired', `the contract ended at ${terms.validUntil}`);
      if (exhausted(terms, ledger)) throw refuse('ContractExhausted', 'the contract has nothing left');
      const estimate = await contract.estimateContractTask.executeWithOptions(
        { ...estimateOptions, summary: `estimate what task ${submission.task} will request` },
        [{ task: submission.task, priorities: { ...submission.priorities } }],
      );
      // Decided without awaiting in between: concurrent submissions see each other's reservations.
      const closedMeanwhile = closedReason();
      if (closedMeanwhile !== undefined) throw refuse('ContractClosed', `the contract is closed (${closedMeanwhile})`);
      const wanted = { ...DEFAULT_DEPLOY_TASK_SETTINGS, ...submission.settings };
      const admission = admitSubmission(
        terms,
        ledger,
        [...running.values()],
        estimate,
        wanted.runTimeoutSeconds,
        wanted.maxAttempts,
        Date.now(),
      );
      if (!admission.ok) throw refuse(admission.code, admission.reason);
      submitted++;
      const taskId = `${info.workflowId}.task-${submitted}`;
      const reservation: Reservation = {
        ...admission.reservation,
        taskId,
        task: submission.task,
        reservedAt: new Date().toISOString(),
      };
      running.set(taskId, reservation);
      const jobNamespace = submission.namespace ?? namespace;
      let child: ChildWorkflowHandle<typeof deployTask>;
      try {
        child = await startChild(deployTask, {
          workflowId: taskId,
          args: [
            {
              task: submission.task,
              priorities: submission.priorities,
              ...(submission.input ? { input: submission.input } : {}),
              namespace: jobNamespace,
              settings: { ...submission.settings, runTimeoutSeconds: admission.runTimeoutSeconds },
            },
          ],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        });
      } catch (err) {
        running.delete(taskId);
        throw err;
      }
      metering.push(meterWhenDone(taskId, submission.task, jobNamespace, child));
      return { taskId, runTimeoutSeconds: admission.runTimeoutSeconds, reservation };
    },
    {
      validator: (submission: ContractSubmission) => {
        if (typeof submission?.task !== 'string' || submission.task === '')
          throw new Error('a submission needs a task');
        if (typeof submission.priorities !== 'object' || submission.priorities === null) {
          throw new Error('a submission needs priorities');
        }
      },
    },
  );

  const idle = () => running.size === 0;
  for (;;) {
    const wait = validUntil !== undefined && !expired ? Math.max(1, validUntil - Date.now()) : undefined;
    const done = () => (closed !== undefined || expired || exhausted(terms, ledger)) && idle();
    const long = () => idle() && workflowInfo().continueAsNewSuggested;
    if (wait !== undefined) {
      if (!(await condition(() => done() || long(), wait))) {
        expired = true;
        continue;
      }
    } else {
      await condition(() => done() || long());
    }
    if (done() && closed === undefined && !expired) {
      // Nothing left: stay a while so late submissions are refused with the reason and the status is read.
      const more = await condition(
        () => closed !== undefined || !idle(),
        settings.closeWhenExhaustedAfterSeconds * 1000,
      );
      if (more) continue;
    }
    if (done()) break;
    await condition(allHandlersFinished);
    if (!idle()) continue;
    await continueAsNew<typeof pricingContract>({
      ...input,
      purchasedAt,
      carried: { ledger, submitted, refused, ...(lastRefusal ? { lastRefusal } : {}), tasks },
    });
  }
  await Promise.all(metering);
  await condition(allHandlersFinished);
  return status();
}
