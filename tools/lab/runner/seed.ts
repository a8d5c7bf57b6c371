/**
 * The baseline: the source documents' orchestrator as they describe it (D3.6 2.4, 3.1, 3.2), rebuilt faithfully
 * on the same Kubernetes calls Talon makes, so the lab compares decision and durability, not plumbing:
 * - an Alertmanager webhook handled synchronously, one alert after another, before answering (no buffering);
 * - per pod alert: gather the metrics window, ask the same policy model (its thresholds — the rule policy —
 *   when no model loads), take the top policy and `perform_action` with its magnitude (1.0 = nothing);
 * - the same alert again within a fixed cool-down escalates to the next-best policy of that decision;
 * - Node-RED Rule 1: a CPU alert on a redundant Deployment (replicas > 1) scales it down by one replica;
 * - Node-RED Rule 2: an overloaded node is tainted, its heaviest pod deleted (no Eviction API, no PDB), and
 *   60 s later untainted — by an in-memory timer;
 * - no guards beyond Talon's own namespace, no verification, no durability: state is memory, lost on restart.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetricsActivities } from '../../../activities/metrics';
import { createRemediationActivities } from '../../../activities/remediation';
import type { PolicyDecision, RankedPolicy } from '../../../src/domain/policy';
import { PatchStrategy, patchAs, type KubeClients } from '../../../src/kube/client';
import type { PrometheusClient } from '../../../src/metrics/prometheus';
import type { PolicyModel } from '../../../src/policy/breaker';
import { evaluateRules } from '../../../src/policy/rules';

export interface SeedOptions {
  readonly clients: KubeClients;
  readonly prometheus: PrometheusClient;
  /** The same model Talon serves; without it the documents' thresholds (the rule policy) decide. */
  readonly model?: PolicyModel;
  readonly windowStepSeconds: number;
  /** The fixed cool-down (s) within which a repeated alert escalates. */
  readonly cooldownSeconds?: number;
  /** Rule 2's wait before the untaint (s). */
  readonly rule2WaitSeconds?: number;
  readonly log?: (line: string) => void;
}

/** One thing the seed did (or refused), for the report. */
export interface SeedRecord {
  /** Unix seconds. */
  readonly at: number;
  readonly kind: 'received' | 'action' | 'failed' | 'ignored';
  readonly alert: string;
  readonly target: string;
  readonly policy?: string;
  readonly magnitude?: number;
  readonly detail: string;
  /** Escalation rank of the decision used (0 = top). */
  readonly rank?: number;
}

interface Alert {
  readonly status: string;
  readonly labels: Readonly<Record<string, string>>;
}

interface CoolState {
  at: number;
  ranked: readonly RankedPolicy[];
  rank: number;
}

export interface RunningSeed {
  readonly url: string;
  records(): readonly SeedRecord[];
  stop(): Promise<void>;
}

export async function startSeedOrchestrator(options: SeedOptions): Promise<RunningSeed> {
  const cooldown = options.cooldownSeconds ?? 120;
  const rule2Wait = options.rule2WaitSeconds ?? 60;
  const log = options.log ?? (() => undefined);
  // The same actuator calls Talon makes, with the seed's (absent) guards: only Talon's own namespace is protected.
  const actions = createRemediationActivities({
    clients: options.clients,
    guards: { protectedNamespaces: [], writeBudget: { maxWrites: 1_000_000, windowSeconds: 1 } },
    budget: false,
    nodeUsage: async () => [],
  });
  const metrics = createMetricsActivities({
    prometheus: options.prometheus,
    gather: { stepSeconds: options.windowStepSeconds },
  });
  const records: SeedRecord[] = [];
  const cool = new Map<string, CoolState>();
  const rule2 = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const now = (): number => Date.now() / 1000;
  let op = 0;
  const note = (r: Omit<SeedRecord, 'at'>): void => {
    records.push({ at: now(), ...r });
    log(`seed: ${r.kind} ${r.alert} ${r.target}${r.policy ? ` ${r.policy} ×${r.magnitude}` : ''}: ${r.detail}`);
  };

  async function decide(namespace: string, pod: string): Promise<PolicyDecision> {
    const window = await metrics.gatherWindow({ target: { namespace, pod }, withHistory: false });
    if (window.kind !== 'window') throw new Error(`no metrics window: ${window.reason}`);
    if (options.model) return options.model.decide(window);
    return evaluateRules(window);
  }

  async function perform(
    alert: string,
    namespace: string,
    pod: string,
    choice: RankedPolicy,
    rank: number,
  ): Promise<void> {
    const target = `${namespace}/${pod}`;
    // perform_action: "If the returned magnitude equals 1.0, no change is made."
    if (choice.policy === 'no_action' || choice.magnitude === 1) {
      note({
        kind: 'ignored',
        alert,
        target,
        policy: choice.policy,
        magnitude: choice.magnitude,
        detail: 'magnitude 1.0: no change',
        rank,
      });
      return;
    }
    if (choice.policy === 'node_overload') {
      note({ kind: 'ignored', alert, target, policy: choice.policy, detail: 'not a pod action', rank });
      return;
    }
    try {
      const result = await actions.applyPolicy({
        target: { namespace, pod },
        policy: choice.policy,
        magnitude: Math.round(choice.magnitude * 100) / 100,
        operationId: `seed/${++op}`,
        dryRun: false,
      });
      note({
        kind: 'action',
        alert,
        target,
        policy: choice.policy,
        magnitude: choice.magnitude,
        detail: result.summary,
        rank,
      });
    } catch (err) {
      note({
        kind: 'failed',
        alert,
        target,
        policy: choice.policy,
        magnitude: choice.magnitude,
        detail: String(err),
        rank,
      });
    }
  }

  /** Node-RED Rule 1: high CPU in a redundant Deployment → one replica fewer. */
  async function rule1(alert: string, namespace: string, pod: string): Promise<void> {
    const target = `${namespace}/${pod}`;
    try {
      const read = await options.clients.core.readNamespacedPod({ namespace, name: pod });
      const rs = read.metadata?.ownerReferences?.find((o) => o.kind === 'ReplicaSet')?.name;
      if (!rs) return;
      const replicaSet = await options.clients.apps.readNamespacedReplicaSet({ namespace, name: rs });
      const deployment = replicaSet.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment')?.name;
      if (!deployment) return;
      const d = await options.clients.apps.readNamespacedDeployment({ namespace, name: deployment });
      const replicas = d.spec?.replicas ?? 1;
      if (replicas <= 1) return;
      await options.clients.apps.patchNamespacedDeployment(
        { namespace, name: deployment, body: { spec: { replicas: replicas - 1 } } },
        patchAs(PatchStrategy.MergePatch),
      );
      note({
        kind: 'action',
        alert,
        target,
        policy: 'replica_scale_down',
        magnitude: (replicas - 1) / replicas,
        detail: `Rule 1: ${deployment} ${replicas} → ${replicas - 1} replicas`,
      });
    } catch (err) {
      note({ kind: 'failed', alert, target, policy: 'replica_scale_down', detail: `Rule 1: ${String(err)}` });
    }
  }

  /** Node-RED Rule 2: taint → delete the heaviest pod → 60 s → untaint, the wait in memory. */
  async function rule2Flow(alert: string, node: string): Promise<void> {
    if (rule2.has(node)) {
      note({ kind: 'ignored', alert, target: `node/${node}`, detail: 'Rule 2 already running for this node' });
      return;
    }
    rule2.add(node);
    const id = ++op;
    try {
      await actions.taintNode({ node, operationId: `seed/${id}/taint`, dryRun: false });
      note({
        kind: 'action',
        alert,
        target: `node/${node}`,
        policy: 'node_overload',
        detail: `Rule 2: tainted ${node}`,
      });
      const usage = await options.prometheus
        .query(`sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{node="${node}",container!=""}[20s]))`)
        .catch(() => []);
      const heaviest = [...usage].sort((a, b) => b.sample.v - a.sample.v)[0]?.metric;
      if (heaviest?.namespace && heaviest.pod) {
        await options.clients.core.deleteNamespacedPod({ namespace: heaviest.namespace, name: heaviest.pod });
        note({
          kind: 'action',
          alert,
          target: `${heaviest.namespace}/${heaviest.pod}`,
          policy: 'node_overload',
          detail: `Rule 2: deleted the heaviest pod on ${node}`,
        });
      }
    } catch (err) {
      note({
        kind: 'failed',
        alert,
        target: `node/${node}`,
        policy: 'node_overload',
        detail: `Rule 2: ${String(err)}`,
      });
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      actions
        .untaintNode({ node, operationId: `seed/${id}/untaint`, dryRun: false })
        .then(() =>
          note({
            kind: 'action',
            alert,
            target: `node/${node}`,
            policy: 'node_overload',
            detail: `Rule 2: untainted ${node}`,
          }),
        )
        .catch((err: unknown) =>
          note({ kind: 'failed', alert, target: `node/${node}`, detail: `Rule 2 untaint: ${String(err)}` }),
        )
        .finally(() => rule2.delete(node));
    }, rule2Wait * 1000);
    timers.add(timer);
  }

  async function handle(alert: Alert): Promise<void> {
    const name = alert.labels.alertname ?? 'unknown';
    const { namespace, pod, node } = alert.labels;
    const target = pod && namespace ? `${namespace}/${pod}` : node ? `node/${node}` : '?';
    note({ kind: 'received', alert: name, target, detail: alert.status });
    if (alert.status !== 'firing') return;
    if (!(pod && namespace)) {
      if (node) await rule2Flow(name, node);
      return;
    }
    const key = `${name}/${namespace}/${pod}`;
    const state = cool.get(key);
    if (state && now() - state.at < cooldown) {
      // "If the same alert recurs within a brief cool-down interval, the orchestrator escalates to the next-best policy."
      state.rank += 1;
      state.at = now();
      const next = state.ranked[state.rank];
      if (!next) {
        note({ kind: 'ignored', alert: name, target, detail: 'no next-best policy left' });
        return;
      }
      await perform(name, namespace, pod, next, state.rank);
      return;
    }
    try {
      const decision = await decide(namespace, pod);
      cool.set(key, { at: now(), ranked: decision.ranked, rank: 0 });
      await perform(name, namespace, pod, decision.ranked[0]!, 0);
    } catch (err) {
      note({ kind: 'failed', alert: name, target, detail: String(err) });
    }
    if (alert.labels.talon_resource === 'cpu') await rule1(name, namespace, pod);
  }

  // Synchronous: one request at a time, answered after every alert in it was handled.
  let queue: Promise<void> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/api/alerts')) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      queue = queue.then(async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { alerts?: Alert[] };
          for (const alert of body.alerts ?? []) await handle(alert);
          res.writeHead(200).end('ok');
        } catch (err) {
          res.writeHead(400).end(String(err));
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    records: () => records,
    async stop() {
      for (const t of timers) clearTimeout(t);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
