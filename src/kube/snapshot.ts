/**
 * Reads what a remediation needs to know about its target pod: where it runs, what owns it and each
 * container's requests and limits. One GET; the answer is validated before anything trusts it.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';

export interface ContainerResources {
  readonly name: string;
  readonly requests: Readonly<Record<string, string>>;
  readonly limits: Readonly<Record<string, string>>;
}

export interface PodSnapshot {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly node: string | null;
  readonly phase: string;
  readonly ready: boolean;
  readonly owner: { readonly kind: string; readonly name: string } | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly containers: readonly ContainerResources[];
  readonly resourceVersion: string;
}

/** The apiserver answered with something that is not a usable Pod. */
export class MalformedPodError extends Error {
  override readonly name = 'MalformedPodError';
}

function quantities(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') throw new MalformedPodError('container resources are not an object');
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

export function snapshotFromPod(pod: V1Pod): PodSnapshot {
  const meta = pod.metadata;
  if (!meta?.name || !meta.namespace || !meta.uid) throw new MalformedPodError('pod has no name, namespace or uid');
  const containers = pod.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0)
    throw new MalformedPodError(`pod ${meta.name} has no containers`);
  const controller = meta.ownerReferences?.find((o) => o.controller) ?? meta.ownerReferences?.[0];
  return {
    namespace: meta.namespace,
    name: meta.name,
    uid: meta.uid,
    node: pod.spec?.nodeName ?? null,
    phase: pod.status?.phase ?? 'Unknown',
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    owner: controller ? { kind: controller.kind, name: controller.name } : null,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    containers: containers.map((c) => ({
      name: c.name,
      requests: quantities(c.resources?.requests),
      limits: quantities(c.resources?.limits),
    })),
    resourceVersion: meta.resourceVersion ?? '',
  };
}

export async function readPodSnapshot(core: CoreV1Api, namespace: string, name: string): Promise<PodSnapshot> {
  return snapshotFromPod(await core.readNamespacedPod({ namespace, name }));
}
