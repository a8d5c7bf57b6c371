/**
 * Nodes as placement sees them, kept current by a list-and-watch (an informer) instead of a LIST per
 * decision: on a 1,000-node cluster a LIST costs hundreds of milliseconds, a lookup in this cache nothing.
 * One long-lived watch request per worker; a broken watch is restarted with backoff. Until the first list
 * has arrived, `list` answers from the apiserver directly, so a decision never waits on the cache.
 */
import { makeInformer, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import type { NodeInfo } from '../domain/offload-target';
import { parseQuantity } from '../domain/quantity';
import type { KubeClients } from './client';
import { kubeCall } from './errors';

/** Where offloading gets its candidate nodes. */
export interface NodeSource {
  list(tier?: string): Promise<readonly NodeInfo[]>;
}

function amount(q: unknown): number {
  if (typeof q !== 'string' && typeof q !== 'number') return 0;
  try {
    return parseQuantity(String(q)).asApproximateFloat64();
  } catch {
    return 0;
  }
}

/** A Node object (typed or raw JSON from a watch) reduced to what placement needs. */
export function nodeInfo(node: V1Node): NodeInfo {
  const alloc = node.status?.allocatable ?? {};
  return {
    name: node.metadata?.name ?? '',
    labels: { ...node.metadata?.labels },
    taints: (node.spec?.taints ?? []).map((t) => ({
      key: t.key,
      effect: t.effect,
      ...(t.value ? { value: t.value } : {}),
    })),
    unschedulable: node.spec?.unschedulable === true,
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    allocatable: { cpuCores: amount(alloc.cpu), memoryBytes: amount(alloc.memory) },
  };
}

/** Lists nodes from the apiserver on every call (served from its watch cache: `resourceVersion=0`). */
export class ApiNodeSource implements NodeSource {
  constructor(
    private readonly clients: Pick<KubeClients, 'core'>,
    private readonly tierLabel = 'talon.io/tier',
  ) {}

  async list(tier?: string): Promise<readonly NodeInfo[]> {
    const list = await kubeCall('list Nodes', () =>
      this.clients.core.listNode({
        resourceVersion: '0',
        ...(tier ? { labelSelector: `${this.tierLabel}=${tier}` } : {}),
      }),
    );
    return list.items.map(nodeInfo);
  }
}

export interface NodeCacheOptions {
  readonly tierLabel?: string;
  /** First restart delay after the watch breaks; doubles up to 30 s. */
  readonly restartDelayMs?: number;
  readonly onError?: (err: unknown) => void;
}

export class NodeCache implements NodeSource {
  private readonly infos = new Map<string, NodeInfo>();
  private readonly informer;
  private readonly fallback: ApiNodeSource;
  private readonly tierLabel: string;
  private synced = false;
  private stopped = false;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kubeConfig: KubeConfig,
    clients: Pick<KubeClients, 'core'>,
    private readonly options: NodeCacheOptions = {},
  ) {
    this.tierLabel = options.tierLabel ?? 'talon.io/tier';
    this.fallback = new ApiNodeSource(clients, this.tierLabel);
    this.delay = options.restartDelayMs ?? 1_000;
    this.informer = makeInformer<V1Node>(kubeConfig, '/api/v1/nodes', () => clients.core.listNode());
    const upsert = (node: V1Node) => {
      const info = nodeInfo(node);
      if (info.name) this.infos.set(info.name, info);
    };
    this.informer.on('add', upsert);
    this.informer.on('update', upsert);
    this.informer.on('delete', (node) => {
      if (node.metadata?.name) this.infos.delete(node.metadata.name);
    });
    this.informer.on('error', (err: unknown) => {
      this.synced = false;
      options.onError?.(err);
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.start();
    }, this.delay);
    this.timer.unref();
    this.delay = Math.min(30_000, this.delay * 2);
  }

  /** Lists, then watches; resolves once the first list is in (or failed, then a restart is scheduled). */
  async start(): Promise<void> {
    this.stopped = false;
    let failed = false;
    const onError = () => {
      failed = true;
    };
    this.informer.on('error', onError);
    try {
      await this.informer.start();
    } finally {
      this.informer.off('error', onError);
    }
    if (!failed) {
      this.synced = true;
      this.delay = this.options.restartDelayMs ?? 1_000;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.synced = false;
    await this.informer.stop();
  }

  /** Whether answers come from the watch (true) or from a LIST per call (until the first list arrives). */
  get isSynced(): boolean {
    return this.synced;
  }

  async list(tier?: string): Promise<readonly NodeInfo[]> {
    if (!this.synced) return this.fallback.list(tier);
    const all = [...this.infos.values()];
    return tier === undefined ? all : all.filter((n) => n.labels[this.tierLabel] === tier);
  }
}
