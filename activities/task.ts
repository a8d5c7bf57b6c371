/**
 * Task-submission activities (D3.3 1.4): load the taxonomy, list the nodes placement may use with their
 * current load from Prometheus, create one attempt's Kubernetes Job idempotently, wait for it while
 * heartbeating, read what the run left behind, and delete the Job on cancellation. Made by
 * {@link createTaskActivities} from injected clients; nothing here reads the environment. Invalid input
 * and permanent Kubernetes answers are non-retryable; an unavailable apiserver or Prometheus is retryable.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { FAILURE_TYPES } from '../src/contracts/failures';
import type { NodeLoad } from '../src/domain/node-load';
import type { Taxonomy } from '../src/domain/taxonomy';
import type { KubeClients } from '../src/kube/client';
import { KubeConflictError, KubeNotFoundError, kubeCall } from '../src/kube/errors';
import {
  observeJob,
  observedRun,
  parseRunReport,
  taskJobManifest,
  taskNodeCandidates,
  TASK_CONTAINER,
  TIER_LABEL,
  type JobObservation,
  type NodePrices,
} from '../src/kube/task-job';
import { TASK_ID_LABEL, type TaskRunMetrics } from '../src/contracts/deploy-task';
import type { NodeCandidate } from '../src/domain/placement';
import { activityContext, cancellableSleep as sleep } from './context';
import { mapFailures as run, permanentFailure } from './failures';
import { parseActivityInput as parse } from './input';

export interface TaskActivityDeps {
  readonly clients: Pick<KubeClients, 'core' | 'batch'>;
  /** The bundled taxonomy plus users' registrations (`loadTaxonomy` in workers). */
  readonly taxonomy: () => Promise<Taxonomy>;
  /** Current node usage from Prometheus (the same source task offloading ranks nodes with). */
  readonly nodeUsage: () => Promise<readonly NodeLoad[]>;
  /**
   * The current offer's CPU prices (Smart Pricing), so placement's cost share prefers user-owned nodes.
   * Absent: placement has no price figures and says so in its notes.
   */
  readonly nodePrices?: () => Promise<NodePrices>;
  /** How long a loaded taxonomy is reused (default 30 s): a burst of submissions reads the file once. */
  readonly taxonomyCacheMs?: number;
  /** How often a running Job is read while waiting (default 1 s). */
  readonly pollMs?: number;
  readonly tierLabel?: string;
}

const k8sName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'not a Kubernetes name');

const createSchema = z.object({
  namespace: k8sName,
  name: k8sName,
  workflowId: z.string().min(1).max(1000),
  taskIdLabel: z.string().min(1).max(63),
  attempt: z.number().int().min(1).max(100),
  task: k8sName,
  algorithm: k8sName,
  image: z.string().min(1),
  command: z.array(z.string().min(1)).min(1),
  requests: z.object({ cpu: z.string().min(1), memory: z.string().min(1) }),
  node: z.string().min(1).max(253),
  tier: z.enum(['edge', 'cloud']),
  input: z
    .object({
      path: z.string().min(1).optional(),
      output: z.string().min(1).optional(),
      dataSite: z.string().optional(),
    })
    .optional(),
  activeDeadlineSeconds: z.number().int().positive(),
  ttlSecondsAfterFinished: z.number().int().min(0),
  podAnnotations: z
    .record(
      z
        .string()
        .min(1)
        .max(253)
        .regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/),
      z.string().max(4096),
    )
    .optional(),
});
export type CreateTaskJobInput = z.input<typeof createSchema>;

const jobRefSchema = z.object({ namespace: k8sName, name: k8sName });
export type TaskJobRef = z.input<typeof jobRefSchema>;

const awaitSchema = jobRefSchema.extend({ timeoutSeconds: z.number().int().positive().max(86_400) });
export type AwaitTaskJobInput = z.input<typeof awaitSchema>;

const nodesSchema = z.object({
  exclude: z.array(z.string()).max(10_000).optional(),
  dataSite: z.string().max(253).optional(),
});
export type TaskNodesInput = z.input<typeof nodesSchema>;

export interface TaskNodes {
  readonly nodes: NodeCandidate[];
  /** Candidates simulated by KWOK: a container placed there does not really run. */
  readonly simulated: string[];
  readonly notes: string[];
}

export interface CreatedTaskJob {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** False when the Job already existed (a retried create): still success. */
  readonly created: boolean;
  readonly createdAt: string;
}

export interface TaskJobOutcome extends JobObservation {
  /** The node the Job's pod ran on (or was bound to). */
  readonly node?: string;
}

export type CollectedRun = Omit<TaskRunMetrics, 'taxonomy'>;

export function createTaskActivities(deps: TaskActivityDeps) {
  const { core, batch } = deps.clients;
  const pollMs = deps.pollMs ?? 1_000;
  const tierLabel = deps.tierLabel ?? TIER_LABEL;
  const cacheMs = deps.taxonomyCacheMs ?? 30_000;
  let cached: { at: number; taxonomy: Promise<Taxonomy> } | undefined;
  const taxonomy = (): Promise<Taxonomy> => {
    const now = Date.now();
    if (!cached || now - cached.at > cacheMs) {
      const pending = deps.taxonomy();
      const entry = { at: now, taxonomy: pending };
      cached = entry;
      // A failed load is not kept: the next call tries again.
      pending.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.taxonomy;
  };

  // Prices steer placement but never block it: without an offer, placement goes on without the cost share.
  const offerPrices = async (): Promise<{ prices?: NodePrices; notes: string[] }> => {
    if (!deps.nodePrices) return { notes: [] };
    try {
      return { prices: await deps.nodePrices(), notes: [] };
    } catch (err) {
      return { notes: [`no offer prices for placement: ${err instanceof Error ? err.message : String(err)}`] };
    }
  };

  const readJob = (namespace: string, name: string) =>
    kubeCall(`read Job ${namespace}/${name}`, () => batch.readNamespacedJob({ namespace, name }));
  const jobPods = async (namespace: string, name: string): Promise<V1Pod[]> =>
    (
      await kubeCall(`list pods of Job ${namespace}/${name}`, () =>
        core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` }),
      )
    ).items;
  const newest = (pods: readonly V1Pod[]): V1Pod | undefined =>
    [...pods].sort(
      (a, b) =>
        new Date(b.metadata?.creationTimestamp ?? 0).getTime() - new Date(a.metadata?.creationTimestamp ?? 0).getTime(),
    )[0];

  return {
    /** The taxonomy selection runs on (bundled file plus user registrations), validated. */
    async loadTaskTaxonomy(): Promise<Taxonomy> {
      return run(taxonomy);
    },

    /** Nodes a task may be placed on, with Prometheus' current usage; `exclude` leaves out nodes already tried. */
    async taskNodes(input: TaskNodesInput = {}): Promise<TaskNodes> {
      const req = parse(nodesSchema, input, 'taskNodes input');
      return run(async () => {
        const [list, loads, priced] = await Promise.all([
          kubeCall('list Nodes', () => core.listNode({ labelSelector: tierLabel, resourceVersion: '0' })),
          deps.nodeUsage(),
          offerPrices(),
        ]);
        const { candidates, simulated, notes } = taskNodeCandidates(list.items, loads, {
          ...req,
          ...(priced.prices ? { prices: priced.prices } : {}),
        });
        return { nodes: candidates, simulated, notes: [...priced.notes, ...notes] };
      });
    },

    /**
     * Creates one attempt's Job. Idempotent: the name derives from the workflow id and attempt, so a retry
     * finds its own Job (AlreadyExists with the same task id label is success); a foreign Job of that name
     * is a permanent error.
     */
    async createTaskJob(input: CreateTaskJobInput): Promise<CreatedTaskJob> {
      const spec = parse(createSchema, input, 'createTaskJob input');
      return run(async () => {
        const body = taskJobManifest(spec);
        let job: V1Job;
        let created = true;
        try {
          job = await kubeCall(`create Job ${spec.namespace}/${spec.name}`, () =>
            batch.createNamespacedJob({ namespace: spec.namespace, body, fieldManager: 'talon' }),
          );
        } catch (err) {
          if (!(err instanceof KubeConflictError)) throw err;
          job = await readJob(spec.namespace, spec.name);
          if (job.metadata?.labels?.[TASK_ID_LABEL] !== spec.taskIdLabel) {
            throw permanentFailure(
              FAILURE_TYPES.JobNameTaken,
              `Job ${spec.namespace}/${spec.name} exists but belongs to another submission`,
            );
          }
          created = false;
        }
        const createdAt = job.metadata?.creationTimestamp;
        return {
          namespace: spec.namespace,
          name: spec.name,
          uid: job.metadata?.uid ?? '',
          created,
          createdAt: createdAt ? new Date(createdAt).toISOString() : new Date().toISOString(),
        };
      });
    },

    /**
     * Waits until the Job succeeds or fails, reading it every `pollMs` and heartbeating what it saw, so a
     * worker crash is noticed within the heartbeat timeout and the wait resumes on another worker. A Job
     * still running after `timeoutSeconds` is reported failed (DeadlineExceeded), like Kubernetes would.
     */
    async awaitTaskJob(input: AwaitTaskJobInput): Promise<TaskJobOutcome> {
      const req = parse(awaitSchema, input, 'awaitTaskJob input');
      const ctx = activityContext();
      const deadline = Date.now() + req.timeoutSeconds * 1000;
      return run(async () => {
        for (;;) {
          let observed: JobObservation;
          try {
            observed = observeJob(await readJob(req.namespace, req.name));
          } catch (err) {
            if (err instanceof KubeNotFoundError) {
              return {
                outcome: 'failed',
                reason: 'JobDeleted',
                message: 'the Job was deleted while running',
                active: 0,
              };
            }
            throw err;
          }
          const pod = newest(await jobPods(req.namespace, req.name));
          const node = pod?.spec?.nodeName;
          const outcome: TaskJobOutcome = { ...observed, ...(node ? { node } : {}) };
          ctx?.heartbeat({ outcome: outcome.outcome, active: outcome.active, node });
          if (outcome.outcome !== 'running') return outcome;
          if (Date.now() >= deadline) {
            return {
              ...outcome,
              outcome: 'failed',
              reason: 'DeadlineExceeded',
              message: `still running after ${req.timeoutSeconds}s`,
            };
          }
          await sleep(pollMs, ctx?.cancellationSignal);
        }
      });
    },

    /** What the finished run left behind: Job and container timestamps, and the run's own report when its log is readable. */
    async collectTaskRun(input: TaskJobRef & { simulated: boolean }): Promise<CollectedRun> {
      const req = parse(jobRefSchema.extend({ simulated: z.boolean() }), input, 'collectTaskRun input');
      return run(async () => {
        const job = await readJob(req.namespace, req.name);
        const pod = newest(await jobPods(req.namespace, req.name));
        const observed = observedRun(job, pod);
        const notes: string[] = [];
        let reported: Record<string, number | string> | undefined;
        if (req.simulated) {
          notes.push(
            'the node is simulated by KWOK: the container did not run, so only the Kubernetes timestamps are ' +
              'measured; algorithm figures come from the taxonomy',
          );
        } else if (pod?.metadata?.name) {
          const name = pod.metadata.name;
          try {
            const log = await kubeCall(`read log of ${req.namespace}/${name}`, () =>
              core.readNamespacedPodLog({ namespace: req.namespace, name, container: TASK_CONTAINER, tailLines: 20 }),
            );
            reported = parseRunReport(String(log));
            if (!reported) notes.push('the run printed no metrics report');
          } catch (err) {
            notes.push(`the run's log could not be read: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
        if (!pod) notes.push("the Job's pod is gone: container timestamps unavailable");
        return { observed, ...(reported ? { reported } : {}), simulated: req.simulated, notes };
      });
    },

    /** Deletes the Job and its pods (background propagation); an already deleted Job is success. */
    async deleteTaskJob(input: TaskJobRef): Promise<{ deleted: boolean }> {
      const req = parse(jobRefSchema, input, 'deleteTaskJob input');
      return run(async () => {
        try {
          await kubeCall(`delete Job ${req.namespace}/${req.name}`, () =>
            batch.deleteNamespacedJob({ namespace: req.namespace, name: req.name, propagationPolicy: 'Background' }),
          );
          return { deleted: true };
        } catch (err) {
          if (err instanceof KubeNotFoundError) return { deleted: false };
          throw err;
        }
      });
    },
  };
}

export type TaskActivities = ReturnType<typeof createTaskActivities>;
