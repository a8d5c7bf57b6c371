/**
 * Activities of the `pricingContract` workflow: estimate what a submission will request (the same
 * selection and request rules the task's own workflow applies), and read what a task's Jobs used once they
 * finished. Read-only and idempotent: a retried metering reads the same Jobs, and the workflow's ledger
 * charges each Job uid once whatever it is told. Made by {@link createContractActivities} from injected
 * clients; nothing here reads the environment.
 */
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { computeRequests, demandFromMetrics, GIB } from '../src/domain/placement';
import type { JobUsage, SubmissionEstimate } from '../src/domain/pricing/metering';
import { selectAlgorithm } from '../src/domain/selection';
import { TASK_ERROR_TYPES } from '../src/domain/task-errors';
import type { Taxonomy } from '../src/domain/taxonomy';
import type { KubeClients } from '../src/kube/client';
import { KubeError, KubeNotFoundError, kubeCall } from '../src/kube/errors';
import { USER_OWNED_LABEL } from '../src/pricing/config';
import { readJobUsage } from '../src/pricing/job-usage';
import { isUserOwned } from '../src/pricing/nodes';
import { TASK_ID_LABEL } from '../src/contracts/deploy-task';
import { parseActivityInput as parse } from './input';
import { toActivityFailure } from './failures';

export interface ContractActivityDeps {
  readonly clients: Pick<KubeClients, 'core' | 'batch'>;
  readonly taxonomy: () => Promise<Taxonomy>;
  /** Label marking user-owned nodes (default `talon.io/user-owned`). */
  readonly userOwnedLabel?: string;
}

const estimateSchema = z.object({
  task: z.string().min(1).max(100),
  priorities: z.record(z.string(), z.number()),
});
export type EstimateInput = z.input<typeof estimateSchema>;

const meterSchema = z.object({
  namespace: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  taskIdLabel: z.string().min(1).max(63),
});
export type MeterInput = z.input<typeof meterSchema>;

export interface ContractEstimate extends SubmissionEstimate {
  readonly algorithm: string;
}

export interface MeteredJobs {
  /** Finished Jobs of the task, with what they used. */
  readonly jobs: JobUsage[];
  /** Jobs of the task still running: metered on a later read. */
  readonly running: string[];
}

function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof KubeError) return toActivityFailure(err);
  if (err instanceof Error && (TASK_ERROR_TYPES as readonly string[]).includes(err.name)) {
    return ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: true, cause: err });
  }
  return err;
}

export function createContractActivities(deps: ContractActivityDeps) {
  const { core, batch } = deps.clients;
  const userOwnedLabel = deps.userOwnedLabel ?? USER_OWNED_LABEL;
  return {
    /** The requests placement will give the task's Job and its expected run time, from the taxonomy. */
    async estimateContractTask(input: EstimateInput): Promise<ContractEstimate> {
      const req = parse(estimateSchema, input, 'estimateContractTask input');
      try {
        const selection = selectAlgorithm(await deps.taxonomy(), req.task, req.priorities);
        const demand = demandFromMetrics(selection.selected);
        const requests = computeRequests(demand);
        return {
          algorithm: selection.selected.id,
          vcpus: requests.cpuMillicores / 1000,
          memoryGb: requests.memoryBytes / GIB,
          ...(demand.cpuSeconds !== undefined && demand.cpuCores > 0
            ? { expectedSeconds: demand.cpuSeconds / demand.cpuCores }
            : {}),
        };
      } catch (err) {
        throw toFailure(err);
      }
    },

    /** Every Job of a task (all attempts), finished ones with their usage; user-owned from the node's label. */
    async meterTaskJobs(input: MeterInput): Promise<MeteredJobs> {
      const req = parse(meterSchema, input, 'meterTaskJobs input');
      try {
        const list = await kubeCall(`list Jobs of task ${req.taskIdLabel}`, () =>
          batch.listNamespacedJob({ namespace: req.namespace, labelSelector: `${TASK_ID_LABEL}=${req.taskIdLabel}` }),
        );
        const owned = new Map<string, boolean>();
        const userOwned = async (node: string | undefined): Promise<boolean> => {
          if (!node) return false;
          if (!owned.has(node)) {
            try {
              const n = await kubeCall(`read Node ${node}`, () => core.readNode({ name: node }));
              owned.set(node, isUserOwned(n.metadata?.labels, userOwnedLabel));
            } catch (err) {
              // A node gone since the run cannot be asked: no incentive rather than no metering.
              if (!(err instanceof KubeNotFoundError)) throw err;
              owned.set(node, false);
            }
          }
          return owned.get(node)!;
        };
        const jobs: JobUsage[] = [];
        const running: string[] = [];
        for (const job of list.items) {
          const reading = readJobUsage(job);
          if (!reading.finished) running.push(reading.job);
          else jobs.push({ ...reading.usage, userOwned: await userOwned(reading.usage.node) });
        }
        return { jobs, running };
      } catch (err) {
        throw toFailure(err);
      }
    },
  };
}

export type ContractActivities = ReturnType<typeof createContractActivities>;
