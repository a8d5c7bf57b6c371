/**
 * One task submission (D3.3 1.4–1.4.5, 1.7.1): select the algorithm by the user's priorities, place it on
 * an edge or cloud node by the same priorities and the nodes' current load, run it as a Kubernetes Job,
 * wait for it, collect what the run measured, and return it all. Progress is a query (`taskState`) while it
 * runs. A failed Job is retried on a node not tried yet, up to `maxAttempts`, then the submission fails.
 * Cancellation deletes the running Job in a non-cancellable scope. Deterministic: the cluster and
 * Prometheus are touched only by activities; selection and placement are pure and run here.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { TaskActivities } from '../activities/task';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';
import { planTask, type TaskPlan } from '../src/domain/task-plan';
import { TASK_ERROR_TYPES } from '../src/domain/task-errors';
import type { Taxonomy } from '../src/domain/taxonomy';
import {
  DEFAULT_DEPLOY_TASK_SETTINGS,
  taskIdLabelValue,
  taskJobName,
  taskStateQuery,
  type DeployTaskInput,
  type DeployTaskResult,
  type DeployTaskSettings,
  type TaskAlgorithmSummary,
  type TaskAttempt,
  type TaskOutcome,
  type TaskPlacementSummary,
  type TaskRunMetrics,
  type TaskState,
  type TaskStep,
  type TaskTimings,
} from '../src/contracts/deploy-task';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../src/contracts/search-attributes';

/** Permanent failures of the activities: retrying the same call cannot help. */
const PERMANENT: string[] = [...NON_RETRYABLE_FAILURE_TYPES];

const quick: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: PERMANENT,
  },
};
const task = proxyActivities<TaskActivities>(quick);

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Domain errors (unknown task, bad priorities, no feasible node) thrown here fail the workflow, not its task. */
function asFailure(err: unknown): unknown {
  if (
    err instanceof Error &&
    !(err instanceof ApplicationFailure) &&
    (TASK_ERROR_TYPES as readonly string[]).includes(err.name)
  ) {
    return ApplicationFailure.nonRetryable(err.message, err.name);
  }
  return err;
}

function algorithmSummary(plan: TaskPlan): TaskAlgorithmSummary {
  return {
    id: plan.algorithm.id,
    name: plan.algorithm.name,
    coefficient: plan.selection.ranking[0]?.coefficient ?? 0,
    image: plan.algorithm.image,
    command: plan.algorithm.command,
    explanation: plan.selection.summary,
  };
}

function placementSummary(plan: TaskPlan): TaskPlacementSummary {
  return {
    node: plan.placement.node,
    tier: plan.placement.tier,
    requests: { cpu: plan.placement.requests.cpu, memory: plan.placement.requests.memory },
    explanation: plan.placement.explanation,
  };
}

export async function deployTask(input: DeployTaskInput): Promise<DeployTaskResult> {
  const info = workflowInfo();
  const settings: DeployTaskSettings = { ...DEFAULT_DEPLOY_TASK_SETTINGS, ...input.settings };
  const namespace = input.namespace ?? 'default';
  const started = info.startTime.getTime();
  const elapsed = () => Date.now() - started;
  let step: TaskStep = 'starting';
  let outcome: TaskOutcome | undefined;
  let algorithm: TaskAlgorithmSummary | undefined;
  let placement: TaskPlacementSummary | undefined;
  let metrics: TaskRunMetrics | undefined;
  let error: string | undefined;
  const attempts: TaskAttempt[] = [];
  const timings: { -readonly [K in keyof TaskTimings]: TaskTimings[K] } = {
    submittedAt: info.startTime.toISOString(),
  };

  setHandler(taskStateQuery, (): TaskState => ({
    workflowId: info.workflowId,
    task: input.task,
    priorities: input.priorities,
    namespace,
    step,
    attempts: [...attempts],
    timings: { ...timings },
    ...(outcome ? { outcome } : {}),
    ...(algorithm ? { algorithm } : {}),
    ...(placement ? { placement } : {}),
    ...(metrics ? { metrics } : {}),
    ...(error ? { error } : {}),
  }));
  upsertTalonSearchAttributes(
    { key: SEARCH_ATTRIBUTES.TalonKind, value: 'task' },
    { key: SEARCH_ATTRIBUTES.TalonTarget, value: `task/${input.task}` },
    { key: SEARCH_ATTRIBUTES.TalonNamespace, value: namespace },
  );

  const finish = (result: TaskOutcome, why?: string): void => {
    outcome = result;
    step = 'done';
    if (why) error = why;
    timings.finishedAt = new Date().toISOString();
    timings.totalMs = elapsed();
    upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonOutcome, value: result });
  };

  let running: { namespace: string; name: string } | undefined;
  try {
    step = 'planning';
    const taxonomy: Taxonomy = await task.loadTaskTaxonomy.executeWithOptions(
      { ...quick, summary: `load the taxonomy for task ${input.task}` },
      [],
    );
    const tried: string[] = [];
    const failures: string[] = [];
    for (let attempt = 1; attempt <= settings.maxAttempts; attempt++) {
      step = 'planning';
      const nodes = await task.taskNodes.executeWithOptions(
        {
          ...quick,
          summary: `nodes and their load from Prometheus${tried.length > 0 ? `, without ${tried.join(', ')}` : ''}`,
        },
        [{ exclude: tried, ...(input.input?.dataSite ? { dataSite: input.input.dataSite } : {}) }],
      );
      let plan: TaskPlan;
      try {
        plan = planTask(taxonomy, input.task, input.priorities, nodes.nodes);
      } catch (err) {
        if (attempt > 1 && err instanceof Error && err.name === 'NoFeasibleNodeError') {
          throw ApplicationFailure.nonRetryable(
            `task ${input.task} failed on ${tried.join(', ')} and no other node can take it: ${failures.join('; ')}`,
            'TaskFailed',
          );
        }
        throw asFailure(err);
      }
      algorithm = algorithmSummary(plan);
      placement = placementSummary(plan);
      timings.plannedAt ??= new Date().toISOString();
      if (attempt === 1)
        upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonPolicy, value: [plan.algorithm.id] });

      step = 'creating';
      const name = taskJobName(info.workflowId, attempt);
      running = { namespace, name };
      const job = await task.createTaskJob.executeWithOptions(
        {
          ...quick,
          summary: `run ${plan.algorithm.id} for ${input.task} on ${plan.placement.node} (${plan.placement.tier}) as Job ${namespace}/${name}`,
        },
        [
          {
            namespace,
            name,
            workflowId: info.workflowId,
            taskIdLabel: taskIdLabelValue(info.workflowId),
            attempt,
            task: input.task,
            algorithm: plan.algorithm.id,
            image: plan.algorithm.image,
            command: [...plan.algorithm.command],
            requests: { cpu: plan.placement.requests.cpu, memory: plan.placement.requests.memory },
            node: plan.placement.node,
            tier: plan.placement.tier,
            ...(input.input ? { input: input.input } : {}),
            activeDeadlineSeconds: settings.runTimeoutSeconds,
            ttlSecondsAfterFinished: settings.keepFinishedSeconds,
            ...(settings.podAnnotations ? { podAnnotations: { ...settings.podAnnotations } } : {}),
          },
        ],
      );
      if (attempt === 1) {
        timings.jobCreatedAt = new Date().toISOString();
        timings.toJobCreatedMs = elapsed();
      }
      attempts.push({
        attempt,
        job: job.name,
        node: plan.placement.node,
        tier: plan.placement.tier,
        outcome: 'running',
      });

      step = 'running';
      const done = await task.awaitTaskJob.executeWithOptions(
        {
          startToCloseTimeout: `${settings.runTimeoutSeconds + 60}s`,
          heartbeatTimeout: '30s',
          summary: `wait for Job ${namespace}/${name} on ${plan.placement.node}`,
          retry: { ...quick.retry, maximumAttempts: 10 },
        },
        [{ namespace, name, timeoutSeconds: settings.runTimeoutSeconds + 30 }],
      );
      const node = done.node ?? plan.placement.node;
      const index = attempts.length - 1;
      attempts[index] = {
        attempt,
        job: job.name,
        node,
        tier: plan.placement.tier,
        outcome: done.outcome === 'succeeded' ? 'succeeded' : 'failed',
        ...(done.outcome === 'succeeded'
          ? {}
          : { reason: [done.reason, done.message].filter(Boolean).join(': ') || 'failed' }),
      };
      if (done.outcome !== 'succeeded') {
        running = undefined;
        tried.push(node);
        failures.push(`${node}: ${attempts[index]?.reason ?? 'failed'}`);
        continue;
      }
      running = undefined;

      step = 'collecting';
      const run = await task.collectTaskRun.executeWithOptions(
        { ...quick, summary: `read what Job ${namespace}/${name} measured` },
        [{ namespace, name, simulated: nodes.simulated.includes(node) }],
      );
      metrics = {
        ...run,
        taxonomy: {
          dataset: plan.algorithm.dataset,
          ...(plan.algorithm.measuredAt ? { measuredAt: plan.algorithm.measuredAt } : {}),
          metrics: plan.algorithm.metrics,
        },
      };
      finish('succeeded');
      return {
        workflowId: info.workflowId,
        task: input.task,
        outcome: 'succeeded',
        algorithm,
        placement,
        attempts: [...attempts],
        metrics,
        timings: { ...timings },
      };
    }
    throw ApplicationFailure.nonRetryable(
      `task ${input.task} failed ${attempts.length} time(s): ${failures.join('; ')}`,
      'TaskFailed',
    );
  } catch (err) {
    if (isCancellation(err)) {
      const job = running;
      await CancellationScope.nonCancellable(async () => {
        if (job) {
          await task.deleteTaskJob.executeWithOptions(
            { ...quick, summary: `cancelled: delete Job ${job.namespace}/${job.name}` },
            [job],
          );
          const last = attempts.at(-1);
          if (last && last.outcome === 'running') {
            attempts[attempts.length - 1] = { ...last, outcome: 'failed', reason: 'cancelled: Job deleted' };
          }
        }
        finish('cancelled', 'cancelled');
      });
      throw err;
    }
    const failure = asFailure(err);
    const type = failureType(failure);
    finish('failed', `${type ? `${type}: ` : ''}${failureMessage(failure)}`);
    throw failure;
  }
}
