/** KWOK pods with simulated usage for metrics tests: create, steer usage by annotation, delete; and polling. */
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { localStack } from './stack';

export const USAGE_CPU = 'kwok.x-k8s.io/usage-cpu';
export const USAGE_MEMORY = 'kwok.x-k8s.io/usage-memory';

export function coreApi(): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(localStack().kubeconfigPath);
  return kc.makeApiClient(CoreV1Api);
}

export interface UsagePod {
  readonly name: string;
  readonly node: string;
  readonly cpuLimit: string;
  readonly memoryLimit: string;
  readonly usageCpu: string;
  readonly usageMemory: string;
}

export async function createNamespace(core: CoreV1Api, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name, labels: { 'talon.io/test': 'metrics' } } } });
}

export async function deleteNamespace(core: CoreV1Api, name: string): Promise<void> {
  await core.deleteNamespace({ name }).catch(() => undefined);
}

/** A pod pinned to a KWOK node (no scheduler round trip) with limits and simulated usage. */
export async function createUsagePod(core: CoreV1Api, namespace: string, p: UsagePod): Promise<void> {
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: p.name, annotations: { [USAGE_CPU]: p.usageCpu, [USAGE_MEMORY]: p.usageMemory } },
      spec: {
        nodeName: p.node,
        tolerations: [{ operator: 'Exists' }],
        containers: [
          {
            name: 'app',
            image: 'registry.invalid/app:1',
            resources: {
              requests: { cpu: p.cpuLimit, memory: p.memoryLimit },
              limits: { cpu: p.cpuLimit, memory: p.memoryLimit },
            },
          },
        ],
      },
    },
  });
}

export async function setUsage(core: CoreV1Api, namespace: string, name: string, cpu: string, memory: string) {
  await core.patchNamespacedPod(
    { namespace, name, body: { metadata: { annotations: { [USAGE_CPU]: cpu, [USAGE_MEMORY]: memory } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

export async function deletePod(core: CoreV1Api, namespace: string, name: string): Promise<void> {
  await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  { timeoutMs = 90_000, intervalMs = 2_500 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}
