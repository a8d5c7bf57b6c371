/**
 * What a finished task Job used, read from the Job object alone (its pods may already be gone): the
 * requests of its pod template, the node it was pinned to (placement's required node affinity) or its pod
 * ran on, and its observed run time, from `status.startTime` to `completionTime` or, for a failed Job, to
 * the time its Failed condition was set. A Job still running has no usage yet.
 */
import type { V1Job } from '@kubernetes/client-node';
import type { JobUsage } from '../domain/pricing/metering';
import { parseQuantity } from '../domain/quantity';
import { observeJob } from '../kube/task-job';

const GIB = 1024 ** 3;

function amount(q: unknown): number {
  if (typeof q !== 'string' && typeof q !== 'number') return 0;
  try {
    return parseQuantity(String(q)).asApproximateFloat64();
  } catch {
    return 0;
  }
}

const time = (v: unknown): number | undefined => {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string' && v) return Date.parse(v);
  return undefined;
};

/** The node a task Job was pinned to by placement (`matchFields metadata.name In [node]`). */
export function pinnedNode(job: V1Job): string | undefined {
  const terms =
    job.spec?.template?.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  for (const term of terms) {
    for (const f of term.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
    }
  }
  return job.spec?.template?.spec?.nodeName;
}

export type JobReading =
  | { readonly finished: true; readonly usage: Omit<JobUsage, 'userOwned'> }
  | { readonly finished: false; readonly job: string };

export function readJobUsage(job: V1Job, node?: string): JobReading {
  const name = job.metadata?.name ?? '';
  const observed = observeJob(job);
  if (observed.outcome === 'running') return { finished: false, job: name };
  const containers = job.spec?.template?.spec?.containers ?? [];
  const vcpus = containers.reduce((a, c) => a + amount(c.resources?.requests?.cpu), 0);
  const memoryGb = containers.reduce((a, c) => a + amount(c.resources?.requests?.memory), 0) / GIB;
  const start = time(job.status?.startTime);
  const failedAt = (job.status?.conditions ?? []).find(
    (c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True',
  )?.lastTransitionTime;
  const end = time(job.status?.completionTime) ?? time(failedAt);
  const seconds = start !== undefined && end !== undefined ? Math.max(0, (end - start) / 1000) : 0;
  const where = node ?? pinnedNode(job);
  return {
    finished: true,
    usage: {
      uid: job.metadata?.uid ?? '',
      job: name,
      namespace: job.metadata?.namespace ?? '',
      ...(where ? { node: where } : {}),
      vcpus,
      memoryGb,
      seconds,
      ...(start !== undefined ? { startedAt: new Date(start).toISOString() } : {}),
      ...(end !== undefined ? { finishedAt: new Date(end).toISOString() } : {}),
    },
  };
}
