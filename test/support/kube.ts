/** Kubernetes helpers for integration tests against the local KWOK cluster. */
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1Toleration,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';

export interface TestKube {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
}

export function testKube(kubeconfigPath: string): TestKube {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})` : ''}`,
  );
}

export async function createNamespace(kube: TestKube, name: string): Promise<void> {
  await kube.core.createNamespace({ body: { metadata: { name, labels: { 'talon.io/test': 'true' } } } });
}

export async function deleteNamespace(kube: TestKube, name: string): Promise<void> {
  await kube.core.deleteNamespace({ name }).catch(() => undefined);
}

/** A Deployment whose pods' simulated CPU usage is `usageCpu` against a `limitCpu` limit. */
export async function createLoadedDeployment(
  kube: TestKube,
  namespace: string,
  name: string,
  options: { usageCpu: string; limitCpu: string; replicas?: number },
): Promise<void> {
  await kube.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas: options.replicas ?? 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name }, annotations: { 'kwok.x-k8s.io/usage-cpu': options.usageCpu } },
          spec: {
            containers: [
              {
                name: 'app',
                image: 'registry.example/app:1',
                resources: {
                  requests: { cpu: options.limitCpu, memory: '128Mi' },
                  limits: { cpu: options.limitCpu, memory: '256Mi' },
                },
              },
            ],
          },
        },
      },
    },
  });
}

export async function runningPods(kube: TestKube, namespace: string, app: string): Promise<V1Pod[]> {
  const list = await kube.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` });
  return list.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
}

/** Changes a pod's simulated CPU usage, as a load change would. */
export async function setPodCpuUsage(kube: TestKube, namespace: string, pod: string, usage: string): Promise<void> {
  await kube.core.patchNamespacedPod(
    { namespace, name: pod, body: { metadata: { annotations: { 'kwok.x-k8s.io/usage-cpu': usage } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/**
 * A KWOK node private to one test, for anything that acts on "the pods of a node": tainted so that no other
 * test's pods land on it, and without the `talon.io/tier` label, so task placement never picks it. Pods that
 * should run there carry the returned toleration. Delete it with {@link deleteNode}.
 */
export async function createPrivateNode(
  kube: TestKube,
  name: string,
  shape: { cpu: string; memory: string } = { cpu: '4', memory: '8Gi' },
): Promise<V1Toleration> {
  const resources = { ...shape, pods: '110' };
  const toleration: V1Toleration = { key: 'talon.io/test-node', operator: 'Equal', value: name, effect: 'NoSchedule' };
  await kube.core.createNode({
    body: {
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok' },
      },
      spec: { taints: [{ key: toleration.key!, value: name, effect: 'NoSchedule' }] },
      status: { allocatable: resources, capacity: resources },
    },
  });
  await waitFor(`node ${name} Ready`, 60_000, async () => {
    const node = await kube.core.readNode({ name });
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
  });
  return toleration;
}

export async function deleteNode(kube: TestKube, name: string): Promise<void> {
  await kube.core.deleteNode({ name }).catch(() => undefined);
}
