/**
 * A real Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler) run by kwokctl's
 * binary runtime, with KWOK simulating the nodes and pods. Nodes carry a tier label (edge/cloud) and pods'
 * CPU/memory usage comes from their annotations, so tests steer load by patching a pod.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ComponentHealth, StackComponent } from './component';
import type { StackConfig } from '../../src/config/local-stack';
import { stackEndpoints } from '../../src/config/local-stack';
import { StackError } from './errors';
import { runCommand } from './exec';
import { repoRoot } from '../../src/config/repo-root';
import { binDir } from './setup';
import { KUBERNETES_VERSION } from './tools';

export const TIER_LABEL = 'talon.io/tier';

/** Talon's own namespace: its write-budget Leases live there (and it is protected from remediation). */
export const TALON_NAMESPACE_MANIFEST = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'talon-system' } };
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export interface NodeShape {
  readonly cpu: string;
  readonly memory: string;
  readonly pods: string;
}

/** Edge nodes are small, cloud nodes large: the difference the placement logic must see. */
export const NODE_SHAPES: Readonly<Record<'edge' | 'cloud', NodeShape>> = {
  edge: { cpu: '4', memory: '8Gi', pods: '110' },
  cloud: { cpu: '16', memory: '64Gi', pods: '110' },
};

function kwokWorkdir(config: StackConfig): string {
  return join(config.stateDir, 'kwok');
}

function clusterDir(config: StackConfig): string {
  return join(kwokWorkdir(config), 'clusters', config.clusterName);
}

function kwokEnv(config: StackConfig): Record<string, string> {
  return { KWOK_WORKDIR: kwokWorkdir(config) };
}

export function kwokctlConfig(config: StackConfig): Record<string, unknown> {
  const bin = binDir(config.cacheDir);
  return {
    kind: 'KwokctlConfiguration',
    apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
    options: {
      runtime: 'binary',
      kubeVersion: `v${KUBERNETES_VERSION}`,
      bindAddress: config.host,
      kubeApiserverPort: config.ports.kubeApiserver,
      kwokControllerPort: config.ports.kwok,
      etcdPort: config.ports.etcd,
      etcdPeerPort: config.ports.etcd + 1,
      kubeApiserverBinary: join(bin, 'kube-apiserver'),
      kubeControllerManagerBinary: join(bin, 'kube-controller-manager'),
      kubeSchedulerBinary: join(bin, 'kube-scheduler'),
      kubectlBinary: join(bin, 'kubectl'),
      etcdBinary: join(bin, 'etcd'),
      kwokControllerBinary: join(bin, 'kwok'),
      enableCRDs: ['Metric', 'ClusterResourceUsage', 'ResourceUsage'],
      disableQPSLimits: true,
      nodeLeaseDurationSeconds: 40,
      // KWOK renews node leases from one process; on a loaded 2-core machine a renewal can come late, and
      // the default 40 s grace let the node lifecycle controller mark nodes NotReady (and taint them)
      // mid-test. Simulated nodes never die on their own, so a lapse here is always noise, never a signal.
      kubeControllerManagerNodeMonitorGracePeriodMilliseconds: 180_000,
    },
  };
}

export function nodeName(tier: 'edge' | 'cloud', index: number): string {
  return `${tier}-${index}`;
}

export function nodeManifest(
  tier: 'edge' | 'cloud',
  index: number,
  shape: NodeShape = NODE_SHAPES[tier],
): Record<string, unknown> {
  const name = nodeName(tier, index);
  const resources = { cpu: shape.cpu, memory: shape.memory, pods: shape.pods };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
        [TIER_LABEL]: tier,
        'topology.kubernetes.io/zone': tier,
      },
    },
    spec: {},
    status: { allocatable: resources, capacity: resources },
  };
}

export function nodeManifests(config: StackConfig): Record<string, unknown>[] {
  const nodes: Record<string, unknown>[] = [];
  for (let i = 0; i < config.nodes.edge; i++) nodes.push(nodeManifest('edge', i));
  for (let i = 0; i < config.nodes.cloud; i++) nodes.push(nodeManifest('cloud', i));
  return nodes;
}

/** Runs kubectl from the tool cache against the stack's kubeconfig. */
export async function kubectl(config: StackConfig, args: readonly string[], input?: string): Promise<string> {
  const { stdout } = await runCommand(
    join(binDir(config.cacheDir), 'kubectl'),
    ['--kubeconfig', stackEndpoints(config).kubeconfigPath, ...args],
    { input, timeoutMs: 120_000 },
  );
  return stdout;
}

export async function applyManifests(config: StackConfig, docs: readonly unknown[]): Promise<void> {
  const text = docs.map((d) => stringify(d)).join('---\n');
  await kubectl(
    config,
    ['apply', '--server-side', '--force-conflicts', '--field-manager=talon-stack', '-f', '-'],
    text,
  );
}

async function apiserverReady(config: StackConfig): Promise<string | undefined> {
  if (!existsSync(stackEndpoints(config).kubeconfigPath)) return 'no kubeconfig yet';
  try {
    const out = await kubectl(config, ['get', '--raw', '/readyz', '--request-timeout=3s']);
    return out.trim() === 'ok' ? undefined : out.trim();
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

async function waitFor(check: () => Promise<string | undefined>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined = 'not checked';
  while (Date.now() < deadline) {
    last = await check();
    if (last === undefined) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new StackError(`${what} not ready within ${timeoutMs / 1000}s (last: ${last})`);
}

/** The KWOK resources shipped in deploy/local/kwok: simulated kubelet metrics and usage from annotations. */
async function kwokResources(): Promise<unknown[]> {
  const { parseAllDocuments } = await import('yaml');
  const dir = join(repoRoot(), 'deploy', 'local', 'kwok');
  const docs: unknown[] = [];
  for (const file of ['usage-from-annotation.yaml', 'metrics.yaml']) {
    const text = await readFile(join(dir, file), 'utf8');
    for (const doc of parseAllDocuments(text)) docs.push(doc.toJS());
  }
  return docs;
}

async function nodesReady(config: StackConfig, expected: number): Promise<string | undefined> {
  const out = await kubectl(config, [
    'get',
    'nodes',
    '-l',
    TIER_LABEL,
    '-o',
    'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  ]);
  const lines = out.trim().split('\n').filter(Boolean);
  const ready = lines.filter((l) => l.endsWith('=True')).length;
  return ready >= expected ? undefined : `${ready}/${expected} nodes Ready`;
}

export const kubeComponent: StackComponent = {
  name: 'kubernetes',
  ports: (c) => [c.ports.kubeApiserver, c.ports.kwok, c.ports.etcd, c.ports.etcd + 1],
  async start(config, log) {
    await mkdir(kwokWorkdir(config), { recursive: true });
    const kwokctl = join(binDir(config.cacheDir), 'kwokctl');
    const kubeconfigPath = stackEndpoints(config).kubeconfigPath;
    if (existsSync(clusterDir(config))) {
      await runCommand(kwokctl, ['--name', config.clusterName, 'start', 'cluster', '--timeout', '120s'], {
        env: kwokEnv(config),
        timeoutMs: 180_000,
      });
    } else {
      const configPath = join(kwokWorkdir(config), 'kwokctl.yaml');
      // Stages go in at creation: KWOK 0.7's defaults plus Talon's simulated task failure (see the file).
      const stages = await readFile(join(repoRoot(), 'deploy', 'local', 'kwok', 'stages.yaml'), 'utf8');
      await writeFile(configPath, `${stringify(kwokctlConfig(config))}---\n${stages}`);
      await runCommand(
        kwokctl,
        [
          '--name',
          config.clusterName,
          '--config',
          configPath,
          'create',
          'cluster',
          '--kubeconfig',
          kubeconfigPath,
          '--wait',
          '120s',
          '--timeout',
          '180s',
        ],
        { env: kwokEnv(config), timeoutMs: 240_000 },
      );
    }
    await waitFor(() => apiserverReady(config), 120_000, 'kube-apiserver');
    await applyManifests(config, [...(await kwokResources()), ...nodeManifests(config), TALON_NAMESPACE_MANIFEST]);
    const expected = config.nodes.edge + config.nodes.cloud;
    await waitFor(() => nodesReady(config, expected), 120_000, 'KWOK nodes');
    log(
      `  kubernetes ready: https://${config.host}:${config.ports.kubeApiserver} (${expected} KWOK nodes, kubeconfig ${kubeconfigPath})`,
    );
  },
  async stop(config) {
    if (!existsSync(clusterDir(config))) return false;
    const running = await this.isRunning(config);
    await runCommand(join(binDir(config.cacheDir), 'kwokctl'), ['--name', config.clusterName, 'stop', 'cluster'], {
      env: kwokEnv(config),
      timeoutMs: 120_000,
    });
    return running;
  },
  async isRunning(config) {
    return (await apiserverReady(config)) === undefined;
  },
  async health(config): Promise<ComponentHealth> {
    const url = `https://${config.host}:${config.ports.kubeApiserver}`;
    const problem = await apiserverReady(config);
    if (problem) return { name: 'kubernetes', healthy: false, url, detail: problem };
    const nodes = await kubectl(config, ['get', 'nodes', '-l', TIER_LABEL, '-o', 'name']).catch(() => '');
    return {
      name: 'kubernetes',
      healthy: true,
      url,
      detail: `readyz ok, ${nodes.trim().split('\n').filter(Boolean).length} nodes`,
    };
  },
};

/** Removes the cluster and its etcd data entirely (`stack down --purge`). */
export async function deleteCluster(config: StackConfig): Promise<void> {
  if (!existsSync(clusterDir(config))) return;
  await runCommand(join(binDir(config.cacheDir), 'kwokctl'), ['--name', config.clusterName, 'delete', 'cluster'], {
    env: kwokEnv(config),
    timeoutMs: 120_000,
  });
}
