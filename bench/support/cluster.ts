/**
 * The benchmark's share of the KWOK cluster: tainted nodes only its pods tolerate, namespaces and a
 * Deployment per target, all labelled with the run's id, so a run never touches (or is touched by) the
 * demo's or the tests' workloads, and its cleanup finds everything it made by label.
 */
import type { V1Deployment, V1Node } from '@kubernetes/client-node';
import { nodeManifest, TIER_LABEL } from '../../tools/stack/kube';
import type { TestKube } from '../../test/support/kube';
import { mapLimit, sleep } from './async';
import { out } from './output';

export const BENCH_LABEL = 'talon.io/bench';

export interface BenchTarget {
  readonly namespace: string;
  readonly deployment: string;
  pod?: string | undefined;
}

export class BenchCluster {
  readonly nodes: string[] = [];
  readonly namespaces: string[] = [];

  constructor(
    readonly kube: TestKube,
    readonly id: string,
  ) {}

  get talonNamespace(): string {
    return `bench-${this.id}-talon`;
  }

  /** Stack-shaped KWOK nodes (the stack's labels), tainted and labelled for this run only. */
  async addNodes(count: number, podsPerNode: number): Promise<void> {
    for (let k = 0; k < count; k++) {
      const shape = { cpu: '2000', memory: '8Ti', pods: String(podsPerNode) };
      const base = nodeManifest('cloud', 0, shape) as unknown as V1Node;
      const name = `bench-${this.id}-${k}`;
      const node: V1Node = {
        ...base,
        metadata: {
          ...base.metadata,
          name,
          labels: {
            ...base.metadata?.labels,
            'kubernetes.io/hostname': name,
            [TIER_LABEL]: 'bench',
            'topology.kubernetes.io/zone': 'bench',
            [BENCH_LABEL]: this.id,
          },
        },
        spec: { taints: [{ key: BENCH_LABEL, value: this.id, effect: 'NoSchedule' }] },
      };
      await this.kube.core.createNode({ body: node });
      this.nodes.push(name);
    }
  }

  async addNamespace(name: string): Promise<void> {
    await this.kube.core.createNamespace({ body: { metadata: { name, labels: { [BENCH_LABEL]: this.id } } } });
    this.namespaces.push(name);
  }

  deployment(namespace: string, name: string): V1Deployment {
    const labels = { app: name, [BENCH_LABEL]: this.id };
    return {
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        revisionHistoryLimit: 1,
        selector: { matchLabels: { app: name } },
        template: {
          // 70 % of the CPU limit and 50 % of memory: busy, but below the stack's own alert rules (80 %/85 %),
          // so Prometheus never fires real alerts at the lead's webhook for bench pods.
          metadata: {
            labels,
            annotations: { 'kwok.x-k8s.io/usage-cpu': '140m', 'kwok.x-k8s.io/usage-memory': '64Mi' },
          },
          spec: {
            nodeSelector: { [BENCH_LABEL]: this.id },
            tolerations: [{ key: BENCH_LABEL, operator: 'Equal', value: this.id, effect: 'NoSchedule' }],
            containers: [
              {
                name: 'app',
                image: 'registry.example/app:1',
                resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
              },
            ],
          },
        },
      },
    };
  }

  /** `count` Deployments spread `perNamespace` to a namespace named `<prefix>-<k>`. */
  async addTargets(prefix: string, count: number, perNamespace: number): Promise<BenchTarget[]> {
    const targets: BenchTarget[] = Array.from({ length: count }, (_, i) => ({
      namespace: `${prefix}-${Math.floor(i / perNamespace)}`,
      deployment: `w-${i % perNamespace}`,
    }));
    await mapLimit([...new Set(targets.map((t) => t.namespace))], 16, (ns) => this.addNamespace(ns));
    await mapLimit(targets, 24, async (t) => {
      await this.kube.apps.createNamespacedDeployment({
        namespace: t.namespace,
        body: this.deployment(t.namespace, t.deployment),
      });
    });
    return targets;
  }

  /** Fills in each target's Running pod from one full list; returns how many have one. */
  private async fillPods(targets: BenchTarget[]): Promise<number> {
    const pods = await this.kube.core.listPodForAllNamespaces({ labelSelector: `${BENCH_LABEL}=${this.id}` });
    const running = new Map<string, string>();
    for (const p of pods.items) {
      if (p.status?.phase !== 'Running' || p.metadata?.deletionTimestamp) continue;
      running.set(`${p.metadata?.namespace}/${p.metadata?.labels?.app}`, p.metadata!.name!);
    }
    let ready = 0;
    for (const t of targets) {
      t.pod = running.get(`${t.namespace}/${t.deployment}`);
      if (t.pod) ready++;
    }
    return ready;
  }

  /**
   * Waits until every target has a Running pod; bounded by `timeoutMs`. Polls the (small) list of pods not
   * Running yet, and lists everything (tens of MB at 6,000 pods) only when that is empty or every 30 s.
   */
  async waitForPods(targets: BenchTarget[], timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let lastFull = Date.now();
    while (Date.now() < deadline) {
      const pending = await this.kube.core
        .listPodForAllNamespaces({ labelSelector: `${BENCH_LABEL}=${this.id}`, fieldSelector: 'status.phase!=Running' })
        .then((l) => l.items.length)
        .catch(() => 1);
      if (pending === 0 || Date.now() - lastFull > 30_000) {
        lastFull = Date.now();
        if ((await this.fillPods(targets).catch(() => 0)) === targets.length) return targets.length;
      }
      await sleep(5_000);
    }
    return this.fillPods(targets);
  }

  /** Deletes every bench namespace, waits (bounded) for their pods to go, then deletes the bench nodes. */
  async cleanup(): Promise<void> {
    const t = Date.now();
    const labelled = await this.kube.core
      .listNamespace({ labelSelector: `${BENCH_LABEL}=${this.id}` })
      .then((l) => l.items.map((n) => n.metadata!.name!))
      .catch(() => [] as string[]);
    const namespaces = [...new Set([...this.namespaces, ...labelled])];
    await mapLimit(namespaces, 16, (name) => this.kube.core.deleteNamespace({ name }).catch(() => undefined));
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const left = await this.kube.core
        .listPodForAllNamespaces({ labelSelector: `${BENCH_LABEL}=${this.id}`, limit: 1 })
        .then((l) => l.items.length)
        .catch(() => 0);
      if (left === 0) break;
      await sleep(3_000);
    }
    const nodes = await this.kube.core
      .listNode({ labelSelector: `${BENCH_LABEL}=${this.id}` })
      .then((l) => l.items.map((n) => n.metadata!.name!))
      .catch(() => [...this.nodes]);
    await mapLimit([...new Set([...this.nodes, ...nodes])], 8, (name) =>
      this.kube.core.deleteNode({ name }).catch(() => undefined),
    );
    out(
      `  cleanup: deleted ${namespaces.length} bench namespaces and ${nodes.length} bench nodes in ${((Date.now() - t) / 1000).toFixed(0)} s`,
    );
  }
}
