/**
 * Fixtures for the actuator's integration tests on the local KWOK cluster: a private namespace, private fake
 * nodes (tainted so nobody else's pods land there, labelled with a private tier), workload factories, a
 * stand-in for the kubelet's side of in-place resize, which KWOK does not simulate, and the activity group
 * the worker registers (createRemediationActivities), wired to this run's clients and namespaces.
 */
import { randomBytes } from 'node:crypto';
import {
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1Pod,
  type V1PodSpec,
  type V1Toleration,
} from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { createRemediationActivities, type RemediationActivityDeps } from '../../activities/remediation';
import type { PolicyName } from '../../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import { createKubeClients, RequestCounter, type KubeClients } from '../../src/kube/client';
import type { ActionResult, Expectation } from '../../src/kube/types';
import { localStack } from './stack';

export interface ActuatorFixture {
  readonly kc: KubeConfig;
  readonly clients: KubeClients;
  readonly counter: RequestCounter;
  /** Unique run id; prefixes every name this fixture creates. */
  readonly id: string;
  readonly namespace: string;
  /** Holds the write-budget Leases of this run. */
  readonly talonNamespace: string;
  /** Taint on this run's private nodes; pods made by {@link podSpec} tolerate it. */
  readonly isolation: V1Toleration;
  readonly nodes: string[];
  cleanup(): Promise<void>;
}

export const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(localStack().kubeconfigPath);
  return kc;
}

export async function actuatorFixture(prefix: string): Promise<ActuatorFixture> {
  const kc = loadKubeConfig();
  const counter = new RequestCounter();
  const clients = createKubeClients(kc, { counter });
  const id = `${prefix}-${randomBytes(3).toString('hex')}`;
  const namespace = id;
  const talonNamespace = `${id}-talon`;
  for (const name of [namespace, talonNamespace]) {
    await clients.core.createNamespace({ body: { metadata: { name, labels: { 'talon.io/test': 'true' } } } });
  }
  const isolation: V1Toleration = { key: 'talon.io/test-run', operator: 'Equal', value: id, effect: 'NoSchedule' };
  const nodes: string[] = [];
  return {
    kc,
    clients,
    counter,
    id,
    namespace,
    talonNamespace,
    isolation,
    nodes,
    async cleanup() {
      await Promise.all(
        [namespace, talonNamespace].map((name) => clients.core.deleteNamespace({ name }).catch(() => undefined)),
      );
      await Promise.all(nodes.map((name) => clients.core.deleteNode({ name }).catch(() => undefined)));
    },
  };
}

/** A KWOK fake node private to this run: tainted for isolation, with a private tier label. */
export async function addNode(
  f: ActuatorFixture,
  suffix: string,
  tier: string,
  shape: { cpu: string; memory: string; pods?: string } = { cpu: '16', memory: '64Gi' },
): Promise<string> {
  const name = `${f.id}-${suffix}`;
  const resources = { cpu: shape.cpu, memory: shape.memory, pods: shape.pods ?? '110' };
  await f.clients.core.createNode({
    body: {
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          type: 'kwok',
          'talon.io/tier': tier,
          'talon.io/test-run': f.id,
        },
      },
      spec: { taints: [{ key: 'talon.io/test-run', value: f.id, effect: 'NoSchedule' }] },
      status: { allocatable: resources, capacity: resources },
    },
  });
  f.nodes.push(name);
  // Ready is not enough: the node lifecycle controller removes its own node.kubernetes.io/not-ready taint a
  // moment later, and until then the scheduler and Talon's placement both (rightly) avoid the node.
  await waitUntil(`node ${name} Ready and free of node.kubernetes.io taints`, 60_000, async () => {
    const node = await f.clients.core.readNode({ name });
    const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const lifecycleTaint = (node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    return ready && !lifecycleTaint ? true : undefined;
  });
  return name;
}

export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface PodOptions {
  readonly cpu?: { readonly request: string; readonly limit?: string };
  readonly memory?: { readonly request: string; readonly limit?: string };
  /** Simulated usage (KWOK annotations). */
  readonly usageCpu?: string;
  readonly usageMemory?: string;
  /** More pod annotations, e.g. simulated network or disk I/O rates (`kwok.x-k8s.io/usage-fs-write`). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Pin to one node (nodeName), e.g. a run's private node. */
  readonly node?: string;
  /** Keep pods on this run's private nodes of a tier. */
  readonly tier?: string;
  readonly restartPolicy?: 'Always' | 'Never' | 'OnFailure';
  readonly extraContainers?: V1Container[];
}

export function podSpec(f: ActuatorFixture, o: PodOptions = {}): V1PodSpec {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (o.cpu) {
    requests.cpu = o.cpu.request;
    if (o.cpu.limit) limits.cpu = o.cpu.limit;
  }
  if (o.memory) {
    requests.memory = o.memory.request;
    if (o.memory.limit) limits.memory = o.memory.limit;
  }
  return {
    containers: [
      { name: 'app', image: 'registry.example/app:1', resources: { requests, limits } },
      ...(o.extraContainers ?? []),
    ],
    tolerations: [f.isolation],
    terminationGracePeriodSeconds: 0,
    ...(o.node ? { nodeName: o.node } : {}),
    ...(o.tier ? { nodeSelector: { 'talon.io/tier': o.tier, 'talon.io/test-run': f.id } } : {}),
    ...(o.restartPolicy ? { restartPolicy: o.restartPolicy } : {}),
  };
}

function usageAnnotations(o: PodOptions): Record<string, string> {
  return {
    ...(o.usageCpu ? { 'kwok.x-k8s.io/usage-cpu': o.usageCpu } : {}),
    ...(o.usageMemory ? { 'kwok.x-k8s.io/usage-memory': o.usageMemory } : {}),
    ...o.annotations,
  };
}

export async function createPod(f: ActuatorFixture, name: string, o: PodOptions = {}): Promise<V1Pod> {
  await f.clients.core.createNamespacedPod({
    namespace: f.namespace,
    body: { metadata: { name, labels: { app: name }, annotations: usageAnnotations(o) }, spec: podSpec(f, o) },
  });
  return waitPodReady(f, name);
}

export async function waitPodReady(f: ActuatorFixture, name: string, timeoutMs = 60_000): Promise<V1Pod> {
  return waitUntil(`pod ${f.namespace}/${name} Ready`, timeoutMs, async () => {
    const pod = await f.clients.core.readNamespacedPod({ name, namespace: f.namespace });
    return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? pod : undefined;
  });
}

export async function readyPodsOf(f: ActuatorFixture, selector: string, count: number): Promise<V1Pod[]> {
  return waitUntil(`${count} ready pods (${selector})`, 90_000, async () => {
    const list = await f.clients.core.listNamespacedPod({ namespace: f.namespace, labelSelector: selector });
    const ready = list.items.filter(
      (p) =>
        !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    return ready.length === count && list.items.length === count ? ready : undefined;
  });
}

export async function createDeployment(
  f: ActuatorFixture,
  name: string,
  replicas: number,
  o: PodOptions = {},
): Promise<V1Pod[]> {
  await f.clients.apps.createNamespacedDeployment({
    namespace: f.namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: { metadata: { labels: { app: name }, annotations: usageAnnotations(o) }, spec: podSpec(f, o) },
      },
    },
  });
  return readyPodsOf(f, `app=${name}`, replicas);
}

export async function createStatefulSet(
  f: ActuatorFixture,
  name: string,
  replicas: number,
  o: PodOptions = {},
): Promise<V1Pod[]> {
  await f.clients.apps.createNamespacedStatefulSet({
    namespace: f.namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        serviceName: name,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name }, annotations: usageAnnotations(o) }, spec: podSpec(f, o) },
      },
    },
  });
  return readyPodsOf(f, `app=${name}`, replicas);
}

export async function createDaemonSet(
  f: ActuatorFixture,
  name: string,
  nodes: number,
  o: PodOptions = {},
): Promise<V1Pod[]> {
  await f.clients.apps.createNamespacedDaemonSet({
    namespace: f.namespace,
    body: {
      metadata: { name },
      spec: {
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name }, annotations: usageAnnotations(o) },
          spec: { ...podSpec(f, o), nodeSelector: { 'talon.io/test-run': f.id } },
        },
      },
    },
  });
  return readyPodsOf(f, `app=${name}`, nodes);
}

/** A Job and its first pod (Running or already Succeeded). */
export async function createJob(f: ActuatorFixture, name: string, o: PodOptions = {}): Promise<V1Pod> {
  await f.clients.batch.createNamespacedJob({
    namespace: f.namespace,
    body: {
      metadata: { name },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { app: name }, annotations: usageAnnotations(o) },
          spec: { ...podSpec(f, o), restartPolicy: 'Never' },
        },
      },
    },
  });
  // KWOK runs a Job's pod to completion at once (its pod-complete stage): Running or Succeeded will do.
  return waitUntil(`a pod of Job ${name}`, 60_000, async () => {
    const list = await f.clients.core.listNamespacedPod({ namespace: f.namespace, labelSelector: `app=${name}` });
    return list.items.find((p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded');
  });
}

/**
 * Plays the kubelet's part of in-place resize: reports the pod's spec resources as the running containers'
 * resources (what a resize-capable kubelet does, and what the apiserver checks before it accepts a resize).
 * Container statuses are an atomic list, so the whole list is written back.
 */
export async function kubeletReportsResources(f: ActuatorFixture, name: string): Promise<void> {
  const pod = await f.clients.core.readNamespacedPod({ name, namespace: f.namespace });
  const statuses = (pod.status?.containerStatuses ?? []).map((s) => {
    const c = pod.spec?.containers.find((x) => x.name === s.name);
    return { ...JSON.parse(JSON.stringify(s)), resources: JSON.parse(JSON.stringify(c?.resources ?? {})) } as object;
  });
  await f.clients.core.patchNamespacedPodStatus(
    { name, namespace: f.namespace, body: { status: { containerStatuses: statuses } } },
    merge,
  );
}

export type RemediationOverrides = Omit<Partial<RemediationActivityDeps>, 'guards'> & {
  readonly guards?: NonNullable<RemediationActivityDeps['guards']>;
};

/**
 * The remediation activities exactly as the worker builds them, on this run's clients, with the write-budget
 * Leases in this run's Talon namespace (and that namespace protected, as Talon's own is).
 */
export function remediationActivities(f: ActuatorFixture, overrides: RemediationOverrides = {}) {
  const { guards, ...rest } = overrides;
  return createRemediationActivities({
    clients: f.clients,
    nodeUsage: async () => [],
    ...rest,
    guards: { talonNamespace: f.talonNamespace, ...guards },
  });
}

/** The input the remediation workflow gives applyPolicy, for a pod of this run's namespace. */
export function applyInput(
  f: ActuatorFixture,
  policy: PolicyName,
  pod: string,
  magnitude: number,
  operationId: string,
  more: { readonly container?: string; readonly dryRun?: boolean; readonly namespace?: string } = {},
): ApplyPolicyInput {
  return {
    target: { namespace: more.namespace ?? f.namespace, pod, ...(more.container ? { container: more.container } : {}) },
    policy,
    magnitude,
    operationId,
    dryRun: more.dryRun ?? false,
  };
}

/** What verifyPolicy is handed: an applied change carrying the expectation to observe. */
export function appliedWith(expectation: Expectation | ActionResult): { applied: ApplyPolicyResult } {
  const expect = 'expect' in expectation ? expectation.expect : expectation;
  return {
    applied: {
      policy: 'no_action',
      magnitude: 1,
      summary: '',
      changes: [],
      noop: false,
      dryRun: false,
      expectation: expect,
    },
  };
}

/** The expectation applyPolicy returned, typed for assertions on its kind. */
export function expectationOf(r: ApplyPolicyResult): Expectation {
  return r.expectation as Expectation;
}

export async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected an ApplicationFailure');
}
