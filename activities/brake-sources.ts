/**
 * The storm brake's sources on a live installation: Temporal visibility for the remediations, the Kubernetes
 * API for pods, nodes and the manual latch. One factory for the worker and `talon brake`, so both count alike.
 */
import type { WorkflowClient } from '@temporalio/client';
import type { KubeClients } from '../src/kube/client';
import { BrakeLatchStore, countNodes, namespacePodNames } from '../src/kube/storm-brake';
import type { BrakeSources } from './operator';

export function liveBrakeSources(
  workflows: Pick<WorkflowClient, 'count' | 'list'>,
  clients: KubeClients,
  talonNamespace: string,
): BrakeSources {
  return {
    countWorkflows: async (query) => Number((await workflows.count(query)).count),
    listWorkflowIds: async (query, limit) => {
      const ids: string[] = [];
      for await (const execution of workflows.list({ query, pageSize: Math.min(limit, 1_000) })) {
        ids.push(execution.workflowId);
        if (ids.length >= limit) break;
      }
      return ids;
    },
    namespacePods: (namespace) => namespacePodNames(clients, namespace),
    countNodes: () => countNodes(clients),
    latches: new BrakeLatchStore(clients, talonNamespace),
  };
}
