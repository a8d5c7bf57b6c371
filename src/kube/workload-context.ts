/**
 * What the rules need to know about a pod beyond its metrics (src/domain/workload-context.ts): the owning
 * workload's replicas, the HorizontalPodAutoscaler that scales it (if any) and each container's health.
 * Read when a decision is made: one GET of the pod, one of its controller, one LIST of the namespace's HPAs.
 */
import type { V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ContainerHealth, WorkloadContext } from '../domain/workload-context';
import type { KubeClients } from './client';
import { kubeCall } from './errors';
import type { WorkloadRef } from './types';
import { ownerCandidate, readOwningController } from './workloads';

/** The HPA whose scale target is this workload, if one exists (the first by name when several do). */
export async function owningHpa(
  clients: Pick<KubeClients, 'autoscaling'>,
  ref: Pick<WorkloadRef, 'kind' | 'namespace' | 'name'>,
): Promise<V2HorizontalPodAutoscaler | undefined> {
  const list = await kubeCall(`list HorizontalPodAutoscalers in ${ref.namespace}`, () =>
    clients.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: ref.namespace }),
  );
  return list.items
    .filter((h) => h.spec?.scaleTargetRef.kind === ref.kind && h.spec.scaleTargetRef.name === ref.name)
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))[0];
}

function seconds(from: Date | string | undefined, now: number): number | undefined {
  if (from === undefined) return undefined;
  const t = new Date(from).getTime();
  return Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : undefined;
}

/** Each container's restarts, readiness and waiting reason, and how long a running one has not been ready. */
export function containerHealth(pod: V1Pod, now: number): ContainerHealth[] {
  const readySince = pod.status?.conditions?.find((c) => c.type === 'Ready');
  return (pod.status?.containerStatuses ?? []).map((s) => {
    const running = s.state?.running;
    const since =
      running && !s.ready
        ? Math.min(
            seconds(running.startedAt, now) ?? Infinity,
            readySince?.status === 'False' ? (seconds(readySince.lastTransitionTime, now) ?? Infinity) : Infinity,
          )
        : undefined;
    return {
      name: s.name,
      restarts: s.restartCount ?? 0,
      ready: s.ready ?? false,
      ...(s.state?.waiting?.reason ? { waitingReason: s.state.waiting.reason } : {}),
      ...(since !== undefined && Number.isFinite(since) ? { notReadySeconds: Math.round(since) } : {}),
    };
  });
}

/** The pod's owning workload and its containers' health, as the rules read them. */
export async function readWorkloadContext(
  clients: Pick<KubeClients, 'core' | 'apps' | 'autoscaling'>,
  namespace: string,
  name: string,
  now: number = Date.now(),
): Promise<WorkloadContext> {
  const pod = await kubeCall(`read Pod ${namespace}/${name}`, () =>
    clients.core.readNamespacedPod({ name, namespace }),
  );
  const containers = containerHealth(pod, now);
  const owner = ownerCandidate(pod);
  if (owner.kind !== 'Deployment' && owner.kind !== 'StatefulSet') {
    return { kind: owner.kind, name: owner.name, containers };
  }
  const { ref, object } = await readOwningController(clients, pod, { ...owner, kind: owner.kind });
  const hpa = await owningHpa(clients, ref);
  const status = object.status as { readyReplicas?: number } | undefined;
  return {
    kind: owner.kind,
    name: ref.name,
    replicas: (object.spec as { replicas?: number } | undefined)?.replicas ?? 1,
    readyReplicas: status?.readyReplicas ?? 0,
    ...(hpa?.metadata?.name && hpa.spec
      ? { hpa: { name: hpa.metadata.name, minReplicas: hpa.spec.minReplicas ?? 1, maxReplicas: hpa.spec.maxReplicas } }
      : {}),
    containers,
  };
}
