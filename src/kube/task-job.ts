/**
 * The Kubernetes side of a task submission, as pure functions over API objects: the Job manifest of one
 * attempt (image and command from the taxonomy entry, requests from placement, required node affinity to
 * the chosen node, Talon's labels), the reading of a Job's status into an outcome, the nodes placement
 * may choose from, and the run's observed timestamps. The activities in `activities/task.ts` do the I/O.
 */
import type { V1Job, V1Node, V1Pod } from '@kubernetes/client-node';
import type { NodeCandidate, Tier } from '../domain/placement';
import type { NodeLoad } from '../domain/node-load';
import {
  TASK_ALGORITHM_LABEL,
  TASK_ATTEMPT_LABEL,
  TASK_ID_LABEL,
  TASK_WORKFLOW_ANNOTATION,
  type TaskDataInput,
  type TaskRunMetrics,
} from '../contracts/deploy-task';
import { nodeInfo } from './node-cache';

export const TIER_LABEL = 'talon.io/tier';
/** Nodes at the data's site: `talon.io/site=<site>` matched against the submission's `dataSite`. */
export const SITE_LABEL = 'talon.io/site';
/** Watts per busy core a node draws, when its operator knows (e.g. "12.5"). */
export const ENERGY_LABEL = 'talon.io/energy-per-core-watts';
/** KWOK marks the nodes it simulates with this annotation. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
export const TASK_CONTAINER = 'task';

export interface TaskJobSpec {
  readonly namespace: string;
  readonly name: string;
  readonly workflowId: string;
  readonly taskIdLabel: string;
  readonly attempt: number;
  readonly task: string;
  readonly algorithm: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly node: string;
  readonly tier: Tier;
  readonly input?: TaskDataInput;
  readonly activeDeadlineSeconds: number;
  readonly ttlSecondsAfterFinished: number;
  /** Added to the pod template's annotations; Talon's own annotation wins on a clash. */
  readonly podAnnotations?: Readonly<Record<string, string>>;
}

/** The command the container runs: the registry entry's, plus `--input`/`--output` when given. */
export function taskCommand(command: readonly string[], input: TaskDataInput | undefined): string[] {
  return [
    ...command,
    ...(input?.path ? ['--input', input.path] : []),
    ...(input?.output ? ['--output', input.output] : []),
  ];
}

/**
 * One attempt's Job. No retries inside Kubernetes (`backoffLimit: 0`): a failed run is retried by the
 * workflow on another node. Required node affinity (rather than `nodeName`) keeps the scheduler's checks.
 */
export function taskJobManifest(spec: TaskJobSpec): V1Job {
  const labels = {
    'app.kubernetes.io/managed-by': 'talon',
    'app.kubernetes.io/component': 'task',
    [TASK_ID_LABEL]: spec.taskIdLabel,
    [TASK_ATTEMPT_LABEL]: String(spec.attempt),
    [TASK_ALGORITHM_LABEL]: spec.algorithm,
    'talon.io/task': spec.task,
    [TIER_LABEL]: spec.tier,
  };
  const annotations = { [TASK_WORKFLOW_ANNOTATION]: spec.workflowId };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: spec.name, namespace: spec.namespace, labels, annotations },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
      template: {
        metadata: { labels, annotations: { ...spec.podAnnotations, ...annotations } },
        spec: {
          restartPolicy: 'Never',
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [spec.node] }] }],
              },
            },
          },
          containers: [
            {
              name: TASK_CONTAINER,
              image: spec.image,
              command: taskCommand(spec.command, spec.input),
              resources: { requests: { cpu: spec.requests.cpu, memory: spec.requests.memory } },
            },
          ],
        },
      },
    },
  };
}

export interface JobObservation {
  readonly outcome: 'running' | 'succeeded' | 'failed';
  readonly reason?: string;
  readonly message?: string;
  readonly active: number;
  readonly startTime?: string;
  readonly completionTime?: string;
}

function iso(value: unknown): string | undefined {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' && value) return new Date(value).toISOString();
  return undefined;
}

/** Reads a Job's status: `Complete`/`SuccessCriteriaMet` is success, `Failed`/`FailureTarget` failure. */
export function observeJob(job: V1Job): JobObservation {
  const conditions = job.status?.conditions ?? [];
  const isTrue = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  const done = isTrue('Complete') ?? isTrue('SuccessCriteriaMet');
  const failed = isTrue('Failed') ?? isTrue('FailureTarget');
  const startTime = iso(job.status?.startTime);
  const completionTime = iso(job.status?.completionTime);
  const base = {
    active: job.status?.active ?? 0,
    ...(startTime ? { startTime } : {}),
    ...(completionTime ? { completionTime } : {}),
  };
  if (failed) {
    return {
      outcome: 'failed',
      ...base,
      ...(failed.reason ? { reason: failed.reason } : {}),
      ...(failed.message ? { message: failed.message } : {}),
    };
  }
  if (done) return { outcome: 'succeeded', ...base, ...(done.reason ? { reason: done.reason } : {}) };
  return { outcome: 'running', ...base };
}

/** The current offer's pay-as-you-go CPU prices (€/vCPU-hour), for placement's cost share. */
export interface NodePrices {
  readonly commercialPerVcpuHour: number;
  readonly userOwnedPerVcpuHour: number;
  /** The node label whose value `true` marks a user-owned (non-commercial) node. */
  readonly userOwnedLabel: string;
}

/**
 * Nodes placement may choose from: tier-labelled, Ready, schedulable, without NoSchedule/NoExecute taints,
 * not excluded; usage from Prometheus (a node Prometheus does not know yet counts as idle, and says so);
 * with `prices`, each node's offer price (user-owned nodes at the incentive price).
 */
export function taskNodeCandidates(
  nodes: readonly V1Node[],
  loads: readonly NodeLoad[],
  options: { readonly exclude?: readonly string[]; readonly dataSite?: string; readonly prices?: NodePrices } = {},
): { candidates: NodeCandidate[]; simulated: string[]; notes: string[] } {
  const exclude = new Set(options.exclude ?? []);
  const byNode = new Map(loads.map((l) => [l.node, l]));
  const candidates: NodeCandidate[] = [];
  const simulated: string[] = [];
  const notes: string[] = [];
  for (const node of nodes) {
    const info = nodeInfo(node);
    const tier = info.labels[TIER_LABEL];
    if (tier !== 'edge' && tier !== 'cloud') continue;
    if (exclude.has(info.name)) continue;
    if (!info.ready || info.unschedulable) continue;
    if (info.taints.some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute')) continue;
    const load = byNode.get(info.name);
    if (!load) notes.push(`${info.name}: no usage in Prometheus yet, counted as idle`);
    const energy = Number(info.labels[ENERGY_LABEL]);
    candidates.push({
      name: info.name,
      tier,
      allocatable: info.allocatable,
      usage: { cpuCores: load?.cpuCores ?? 0, memoryBytes: load?.memoryBytes ?? 0 },
      ...(info.labels[ENERGY_LABEL] !== undefined && Number.isFinite(energy) && energy >= 0
        ? { energyPerCoreWatts: energy }
        : {}),
      ...(options.dataSite && info.labels[SITE_LABEL] === options.dataSite ? { nearData: true } : {}),
      ...nodePrice(info.labels, options.prices),
    });
    if (node.metadata?.annotations?.[KWOK_NODE_ANNOTATION] !== undefined) simulated.push(info.name);
  }
  candidates.sort((a, b) => a.name.localeCompare(b.name));
  return { candidates, simulated, notes };
}

function nodePrice(
  labels: Readonly<Record<string, string>>,
  prices: NodePrices | undefined,
): { pricePerVcpuHour?: number; userOwned?: boolean } {
  if (!prices) return {};
  const userOwned = (labels[prices.userOwnedLabel] ?? '').toLowerCase() === 'true';
  return {
    pricePerVcpuHour: userOwned ? prices.userOwnedPerVcpuHour : prices.commercialPerVcpuHour,
    ...(userOwned ? { userOwned } : {}),
  };
}

/** What the Kubernetes objects say about a finished run: Job and container timestamps, exit code. */
export function observedRun(job: V1Job, pod: V1Pod | undefined): TaskRunMetrics['observed'] {
  const start = iso(job.status?.startTime);
  const end = iso(job.status?.completionTime);
  const status = pod?.status?.containerStatuses?.find((c) => c.name === TASK_CONTAINER);
  const terminated = status?.state?.terminated;
  const startedAt = iso(terminated?.startedAt);
  const finishedAt = iso(terminated?.finishedAt);
  return {
    ...(start ? { jobStartTime: start } : {}),
    ...(end ? { jobCompletionTime: end } : {}),
    ...(start && end ? { jobDurationSeconds: (Date.parse(end) - Date.parse(start)) / 1000 } : {}),
    ...(startedAt ? { containerStartedAt: startedAt } : {}),
    ...(finishedAt ? { containerFinishedAt: finishedAt } : {}),
    ...(terminated?.exitCode !== undefined ? { exitCode: terminated.exitCode } : {}),
  };
}

/** The last JSON object line of a run's log: `src/tasks/run.ts` reports its metrics that way. */
export function parseRunReport(log: string): Record<string, number | string> | undefined {
  const lines = log.split(/\r?\n/).filter((l) => l.trim().startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const value = JSON.parse(lines[i] as string) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const out: Record<string, number | string> = {};
        for (const [k, v] of Object.entries(value)) if (typeof v === 'number' || typeof v === 'string') out[k] = v;
        return out;
      }
    } catch {
      // not the report
    }
  }
  return undefined;
}
