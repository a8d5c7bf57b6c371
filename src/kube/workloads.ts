/**
 * Reading and rewriting workloads: which object owns a pod (resolved without needless GETs), typed access
 * to controllers' pod templates, the operation record Talon leaves on what it changed, and clean manifests
 * for delete-and-recreate.
 */
import type {
  V1Deployment,
  V1DaemonSet,
  V1Job,
  V1ObjectMeta,
  V1Pod,
  V1PodSpec,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { ContainerResourcesSpec } from '../domain/resource-plan';
import { quantityText } from '../domain/resource-plan';
import type { KubeClients } from './client';
import { isNotFound, kubeCall, UnsupportedTargetError } from './errors';
import { ANNOTATIONS, type ControllerKind, type OperationRecord, type Placement, type WorkloadRef } from './types';

export type Controller = V1Deployment | V1StatefulSet | V1DaemonSet;

/** The owner a pod names, before it is confirmed by reading it. */
export interface OwnerCandidate {
  readonly kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'Pod';
  readonly name: string;
  /** For Deployments: the ReplicaSet in between, read only if the name guess turns out wrong. */
  readonly replicaSet?: string;
}

/**
 * The workload that owns a pod, from its controller reference. A ReplicaSet's Deployment is derived from the
 * ReplicaSet's name minus the pod-template-hash (`web-7c9f8b` → `web`) and confirmed when the Deployment is
 * read, which saves a GET of the ReplicaSet.
 */
export function ownerCandidate(pod: V1Pod): OwnerCandidate {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? undefined;
  const name = pod.metadata?.name ?? '';
  if (!owner) return { kind: 'Pod', name };
  switch (owner.kind) {
    case 'ReplicaSet': {
      const hash = pod.metadata?.labels?.['pod-template-hash'];
      const guess = hash && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : owner.name;
      return { kind: 'Deployment', name: guess, replicaSet: owner.name };
    }
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job':
      return { kind: owner.kind, name: owner.name };
    default:
      throw new UnsupportedTargetError(
        `pod ${pod.metadata?.namespace}/${name} is controlled by a ${owner.kind} (${owner.name}); Talon changes ` +
          'Deployments, StatefulSets, DaemonSets, Jobs and standalone pods only',
      );
  }
}

function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export async function readController(
  clients: Pick<KubeClients, 'apps'>,
  kind: ControllerKind,
  namespace: string,
  name: string,
): Promise<Controller> {
  const op = `read ${kind} ${namespace}/${name}`;
  switch (kind) {
    case 'Deployment':
      return kubeCall(op, () => clients.apps.readNamespacedDeployment({ name, namespace }));
    case 'StatefulSet':
      return kubeCall(op, () => clients.apps.readNamespacedStatefulSet({ name, namespace }));
    case 'DaemonSet':
      return kubeCall(op, () => clients.apps.readNamespacedDaemonSet({ name, namespace }));
  }
}

/**
 * Reads the controller a pod belongs to. A wrong Deployment guess (a bare ReplicaSet, or a name that only
 * looks like one) falls back to reading the ReplicaSet's own owner.
 */
export async function readOwningController(
  clients: Pick<KubeClients, 'apps'>,
  pod: V1Pod,
  candidate: OwnerCandidate & { kind: ControllerKind },
): Promise<{ ref: WorkloadRef; object: Controller }> {
  const namespace = pod.metadata?.namespace ?? '';
  const labels = pod.metadata?.labels ?? {};
  if (candidate.kind !== 'Deployment' || candidate.replicaSet === undefined) {
    const object = await readController(clients, candidate.kind, namespace, candidate.name);
    return { ref: { kind: candidate.kind, namespace, name: candidate.name }, object };
  }
  try {
    const object = await readController(clients, 'Deployment', namespace, candidate.name);
    if (selectorMatches(object.spec?.selector.matchLabels, labels)) {
      return { ref: { kind: 'Deployment', namespace, name: candidate.name }, object };
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const rsName = candidate.replicaSet;
  const rs = await kubeCall(`read ReplicaSet ${namespace}/${rsName}`, () =>
    clients.apps.readNamespacedReplicaSet({ name: rsName, namespace }),
  );
  const owner = rs.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'Deployment');
  if (!owner) {
    throw new UnsupportedTargetError(
      `pod ${namespace}/${pod.metadata?.name} belongs to ReplicaSet ${rsName}, which no Deployment owns; ` +
        'change its owner instead',
    );
  }
  const object = await readController(clients, 'Deployment', namespace, owner.name);
  return { ref: { kind: 'Deployment', namespace, name: owner.name }, object };
}

/** The containers of a pod spec with their resources as text. */
export function containersOf(spec: V1PodSpec | undefined): ContainerResourcesSpec[] {
  return (spec?.containers ?? []).map((c) => {
    const text = (m: Record<string, unknown> | undefined) =>
      Object.fromEntries(
        Object.entries(m ?? {})
          .map(([k, v]) => [k, quantityText(v)] as const)
          .filter((e): e is readonly [string, string] => e[1] !== undefined),
      );
    return { name: c.name, requests: text(c.resources?.requests), limits: text(c.resources?.limits) };
  });
}

/** The operation record Talon left on an object, if any and well formed. */
export function operationOf(meta: V1ObjectMeta | undefined): OperationRecord | undefined {
  const raw = meta?.annotations?.[ANNOTATIONS.operation];
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<OperationRecord>;
    return typeof value.id === 'string' && typeof value.policy === 'string' && typeof value.at === 'string'
      ? (value as OperationRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

export function operationAnnotation(record: OperationRecord): Record<string, string> {
  return { [ANNOTATIONS.operation]: JSON.stringify(record) };
}

const GENERATED_JOB_LABELS = [
  'controller-uid',
  'batch.kubernetes.io/controller-uid',
  'job-name',
  'batch.kubernetes.io/job-name',
];

function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function keepMeta(meta: V1ObjectMeta | undefined, dropLabels: readonly string[] = []): V1ObjectMeta {
  const labels = Object.fromEntries(Object.entries(meta?.labels ?? {}).filter(([k]) => !dropLabels.includes(k)));
  return {
    name: meta?.name ?? '',
    namespace: meta?.namespace ?? '',
    ...(Object.keys(labels).length ? { labels } : {}),
    ...(meta?.annotations ? { annotations: { ...meta.annotations } } : {}),
  };
}

/**
 * A standalone pod's manifest for recreation: identity, status and the scheduler's decision removed (the new
 * pod is scheduled afresh), the service-account token volume left for admission to inject again.
 */
export function podManifestForRecreate(pod: V1Pod): V1Pod {
  const spec = plain(pod.spec ?? { containers: [] });
  delete spec.nodeName;
  const tokenVolumes = new Set(
    (spec.volumes ?? []).filter((v) => v.name.startsWith('kube-api-access-') && v.projected).map((v) => v.name),
  );
  if (tokenVolumes.size) {
    spec.volumes = (spec.volumes ?? []).filter((v) => !tokenVolumes.has(v.name));
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      if (c.volumeMounts) c.volumeMounts = c.volumeMounts.filter((m) => !tokenVolumes.has(m.name));
    }
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata: keepMeta(pod.metadata), spec };
}

/** A Job's manifest for recreation: the generated selector and controller-uid labels removed. */
export function jobManifestForRecreate(job: V1Job): V1Job {
  const spec = plain(job.spec ?? { template: {} });
  delete spec.selector;
  delete spec.manualSelector;
  if (spec.template.metadata?.labels) {
    spec.template.metadata.labels = Object.fromEntries(
      Object.entries(spec.template.metadata.labels).filter(([k]) => !GENERATED_JOB_LABELS.includes(k)),
    );
  }
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: keepMeta(job.metadata, GENERATED_JOB_LABELS), spec };
}

/**
 * The spec's node constraints with the tier label moved to `tier`: a workload that declares
 * `talon.io/tier: edge` and is offloaded to the cloud must declare the cloud afterwards, or the scheduler
 * would refuse the move. Other labels and expressions are kept.
 */
export function retier(spec: V1PodSpec, tierLabel: string, tier: string): V1PodSpec {
  const copy = plain(spec);
  if (copy.nodeSelector && tierLabel in copy.nodeSelector) copy.nodeSelector[tierLabel] = tier;
  const required = copy.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required) {
    required.nodeSelectorTerms = required.nodeSelectorTerms.map((t) => ({
      ...t,
      ...(t.matchExpressions ? { matchExpressions: t.matchExpressions.filter((e) => e.key !== tierLabel) } : {}),
    }));
  }
  return copy;
}

/** A pod spec's node constraints (affinity, node selector) as plain JSON: the snapshot an offload records. */
export function placementOf(spec: V1PodSpec | undefined): Placement {
  return {
    ...(spec?.affinity ? { affinity: plain(spec.affinity) } : {}),
    ...(spec?.nodeSelector ? { nodeSelector: { ...spec.nodeSelector } } : {}),
  };
}

/** Pins a pod spec to one node with required node affinity on `metadata.name`, keeping its other terms. */
export function pinToNode(spec: V1PodSpec, node: string): NonNullable<V1PodSpec['affinity']> {
  const affinity = plain(spec.affinity ?? {});
  const pin = { key: 'metadata.name', operator: 'In', values: [node] };
  const terms = affinity.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const pinned = (terms.length ? terms : [{}]).map((t) => ({
    ...t,
    matchFields: [...(t.matchFields ?? []).filter((f) => f.key !== 'metadata.name'), pin],
  }));
  affinity.nodeAffinity = {
    ...affinity.nodeAffinity,
    requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: pinned },
  };
  return affinity;
}
