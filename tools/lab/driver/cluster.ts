/**
 * The lab driver's view of the cluster and its writes to it: one LIST of the run's pods and one of its nodes
 * per tick, usage annotations KWOK turns into the kubelet's series, and the pod status of an OOM kill (restart
 * count, `lastState.terminated.reason: OOMKilled`, not ready during the restart).
 */
import type { V1Node, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { parseQuantity } from '../../../src/domain/quantity';
import { PatchStrategy, patchAs, type KubeClients } from '../../../src/kube/client';
import { LAB_LABELS, LAB_STARTUP_ANNOTATION, USAGE_ANNOTATIONS } from '../plan';

/** A lab pod with what the model reads and what the driver needs to write back. */
export interface LabPod {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly copy: string;
  readonly workload: string;
  readonly node?: string;
  readonly running: boolean;
  readonly deleting: boolean;
  readonly ready: boolean;
  /** Unix seconds the container (re)started, from its status. */
  readonly startedAt: number;
  readonly restartCount: number;
  readonly container: string;
  readonly cpuLimitCores: number;
  readonly memoryLimitBytes: number;
  readonly annotations: Readonly<Record<string, string>>;
  readonly raw: V1Pod;
}

export interface LabNode {
  readonly name: string;
  readonly copy: string;
  /** The scenario's name of the node. */
  readonly local: string;
  readonly tier: 'edge' | 'cloud';
  readonly cpuCores: number;
  readonly memoryBytes: number;
  readonly taints: readonly string[];
}

const number = (q: string | number | undefined): number => {
  if (q === undefined || q === '') return 0;
  try {
    return parseQuantity(String(q)).asApproximateFloat64();
  } catch {
    return 0;
  }
};

const seconds = (d: Date | string | undefined): number | undefined => {
  if (d === undefined) return undefined;
  const ms = d instanceof Date ? d.getTime() : Date.parse(d);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
};

export function labPodOf(pod: V1Pod, now: number): LabPod | undefined {
  const meta = pod.metadata;
  const labels = meta?.labels ?? {};
  const copy = labels[LAB_LABELS.copy];
  const workload = labels[LAB_LABELS.workload];
  if (!meta?.uid || !meta.name || !meta.namespace || !copy || !workload) return undefined;
  const container = pod.spec?.containers[0];
  const status = pod.status?.containerStatuses?.[0];
  const started = seconds(status?.state?.running?.startedAt) ?? seconds(pod.status?.startTime) ?? now;
  const deleting = meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null;
  return {
    uid: meta.uid,
    namespace: meta.namespace,
    name: meta.name,
    copy,
    workload,
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    running: pod.status?.phase === 'Running' && !!pod.spec?.nodeName && !deleting,
    deleting,
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    startedAt: started,
    restartCount: status?.restartCount ?? 0,
    container: container?.name ?? 'main',
    cpuLimitCores: number(container?.resources?.limits?.cpu),
    memoryLimitBytes: number(container?.resources?.limits?.memory),
    annotations: meta.annotations ?? {},
    raw: pod,
  };
}

export function labNodeOf(node: V1Node): LabNode | undefined {
  const labels = node.metadata?.labels ?? {};
  const copy = labels[LAB_LABELS.copy];
  const local = labels[LAB_LABELS.node];
  const name = node.metadata?.name;
  if (!copy || !local || !name) return undefined;
  return {
    name,
    copy,
    local,
    tier: labels['talon.io/tier'] === 'cloud' ? 'cloud' : 'edge',
    cpuCores: number(node.status?.allocatable?.cpu),
    memoryBytes: number(node.status?.allocatable?.memory),
    taints: (node.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`),
  };
}

export interface ClusterView {
  readonly pods: LabPod[];
  readonly nodes: LabNode[];
}

/** Two LISTs: the run's pods (every namespace) and nodes. */
export async function readCluster(clients: KubeClients, run: string, now: number): Promise<ClusterView> {
  const selector = `${LAB_LABELS.run}=${run}`;
  const [pods, nodes] = await Promise.all([
    clients.core.listPodForAllNamespaces({ labelSelector: selector }),
    clients.core.listNode({ labelSelector: selector }),
  ]);
  return {
    pods: pods.items.map((p) => labPodOf(p, now)).filter((p): p is LabPod => p !== undefined),
    nodes: nodes.items.map(labNodeOf).filter((n): n is LabNode => n !== undefined),
  };
}

/** The annotation values KWOK reads; CPU in millicores (at least 1m), memory in bytes. */
export function usageAnnotations(cpuCores: number, memoryBytes: number): Record<string, string> {
  return {
    [USAGE_ANNOTATIONS.cpu]: `${Math.max(1, Math.round(cpuCores * 1000))}m`,
    [USAGE_ANNOTATIONS.memory]: `${Math.max(1, Math.round(memoryBytes))}`,
  };
}

/** Whether usage moved enough since it was last written to be worth an apiserver write (2 % or 5m / 1 MiB). */
export function usageChanged(last: { cpu: number; memory: number } | undefined, cpu: number, memory: number): boolean {
  if (!last) return true;
  return (
    Math.abs(cpu - last.cpu) > Math.max(0.005, last.cpu * 0.02) ||
    Math.abs(memory - last.memory) > Math.max(2 ** 20, last.memory * 0.02)
  );
}

export async function writeUsage(
  clients: KubeClients,
  pod: LabPod,
  annotations: Record<string, string>,
): Promise<void> {
  await clients.core.patchNamespacedPod(
    { namespace: pod.namespace, name: pod.name, body: { metadata: { annotations } } },
    patchAs(PatchStrategy.MergePatch),
  );
}

function conditions(pod: V1Pod, ready: boolean, at: string): V1PodCondition[] {
  const wanted = ready ? 'True' : 'False';
  const current = pod.status?.conditions ?? [];
  const out = current.map((c) =>
    c.type === 'Ready' || c.type === 'ContainersReady'
      ? {
          ...c,
          status: wanted,
          lastTransitionTime: c.status === wanted ? c.lastTransitionTime : (at as unknown as Date),
        }
      : c,
  );
  for (const type of ['Ready', 'ContainersReady']) {
    if (!out.some((c) => c.type === type))
      out.push({ type, status: wanted, lastTransitionTime: at as unknown as Date });
  }
  return out;
}

/**
 * What the kubelet writes when the kernel OOM-kills a container: one more restart, the last state terminated
 * with reason OOMKilled (exit 137), a new running state, and the pod not ready until the container is back.
 */
export function oomStatus(pod: LabPod, now: Date): Record<string, unknown> {
  const at = now.toISOString();
  const previous = pod.raw.status?.containerStatuses?.[0];
  const startedBefore = previous?.state?.running?.startedAt ?? pod.raw.status?.startTime ?? now;
  return {
    conditions: conditions(pod.raw, false, at),
    containerStatuses: [
      {
        ...(previous ?? { name: pod.container, image: pod.raw.spec?.containers[0]?.image ?? 'lab' }),
        ready: false,
        started: true,
        restartCount: pod.restartCount + 1,
        lastState: {
          terminated: {
            exitCode: 137,
            reason: 'OOMKilled',
            startedAt: startedBefore instanceof Date ? startedBefore.toISOString() : startedBefore,
            finishedAt: at,
          },
        },
        state: { running: { startedAt: at } },
      },
    ],
  };
}

/**
 * When a running pod that is not Ready should be: its container's start plus its workload's start-up time (the
 * pod's `talon.io/lab-startup-seconds`), as a readiness probe passes once the application has started (KWOK's
 * `talon-lab-pod-starting` stage starts lab pods not Ready). Undefined for a pod that is Ready, not running, or
 * terminating.
 */
export function startupReadyAt(pod: LabPod, fallbackSeconds = 10): number | undefined {
  if (pod.ready || !pod.running || pod.deleting) return undefined;
  const declared = Number(pod.annotations[LAB_STARTUP_ANNOTATION]);
  return pod.startedAt + (Number.isFinite(declared) && declared >= 0 ? declared : fallbackSeconds);
}

/** The container is serving again: ready, as the kubelet reports it once its probe passes. */
export function readyStatus(pod: LabPod, now: Date): Record<string, unknown> {
  const previous = pod.raw.status?.containerStatuses?.[0];
  return {
    conditions: conditions(pod.raw, true, now.toISOString()),
    containerStatuses: previous ? [{ ...previous, ready: true }] : [],
  };
}

export async function writeStatus(clients: KubeClients, pod: LabPod, status: Record<string, unknown>): Promise<void> {
  await clients.core.patchNamespacedPodStatus(
    { namespace: pod.namespace, name: pod.name, body: { status } },
    patchAs(PatchStrategy.MergePatch),
  );
}
