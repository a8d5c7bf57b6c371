/**
 * A scenario copy as Kubernetes objects: its namespaces (the engine label on Talon's copies), its own KWOK nodes
 * (tainted for the copy, so nothing else lands there and the copy's pods land nowhere else), and its workloads.
 * Names carry the run, scenario and engine, all under the lab prefix the stack's own alert rules leave alone.
 * Pure.
 */
import { POLICY_ENGINE_LABEL } from '../../../activities/policy';
import { LAB_NAME_PREFIX } from '../../stack/alert-rules';
import { KWOK_NODE_ANNOTATION, TIER_LABEL } from '../../stack/kube';
import { LAB_LABELS, LAB_STARTUP_ANNOTATION, type CopyPlan, type Engine } from '../plan';
import type { NodeModel, Scenario, WorkloadModel } from '../scenario/model';

export const ENGINE_SHORT: Readonly<Record<Engine | 'demo', string>> = {
  'talon-model': 'model',
  'talon-rules': 'rules',
  'talon-predictive': 'pred',
  'seed-orchestrator': 'seed',
  none: 'none',
  demo: 'demo',
};

/** Taint that keeps a copy's nodes to that copy's pods. */
export const POOL_TAINT_KEY = 'talon.io/lab-copy';

/** A run id: 5 lower-case letters and digits, starting with a letter. */
export function runId(random: () => number = Math.random): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let id = chars[Math.floor(random() * 26)]!;
  for (let i = 0; i < 4; i++) id += chars[Math.floor(random() * chars.length)]!;
  return id;
}

/** The copy of `scenario` for `engine` in run `run`, starting at `startAt` (unix seconds). */
export function planCopy(run: string, scenario: Scenario, engine: Engine | 'demo', startAt: number): CopyPlan {
  const id = `${run}-${scenario.name}-${ENGINE_SHORT[engine]}`;
  const base = `${LAB_NAME_PREFIX}${id}`;
  return {
    id,
    engine,
    scenario,
    namespaces: { main: base, protected: `${base}-p` },
    nodes: Object.fromEntries(scenario.nodes.map((n) => [n.name, `${base}-${n.name}`])),
    startAt,
  };
}

function copyLabels(run: string, copy: CopyPlan): Record<string, string> {
  return { [LAB_LABELS.run]: run, [LAB_LABELS.copy]: copy.id };
}

export function namespaceManifests(run: string, copy: CopyPlan): Record<string, unknown>[] {
  const engine =
    // talon-predictive is talon-rules plus the predictive watch (its policy file, tools/lab/runner/predictive.ts).
    copy.engine === 'talon-rules' || copy.engine === 'talon-predictive'
      ? { [POLICY_ENGINE_LABEL]: 'rules' }
      : copy.engine === 'talon-model'
        ? { [POLICY_ENGINE_LABEL]: 'model' }
        : {};
  const needed = new Set(copy.scenario.workloads.map((w) => w.namespace));
  return [...needed].map((which) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: copy.namespaces[which], labels: { ...copyLabels(run, copy), ...engine } },
  }));
}

export function nodeManifest(run: string, copy: CopyPlan, node: NodeModel): Record<string, unknown> {
  const name = copy.nodes[node.name]!;
  const resources = { cpu: String(node.cpuCores), memory: String(Math.round(node.memoryBytes)), pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        ...copyLabels(run, copy),
        [LAB_LABELS.node]: node.name,
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        [TIER_LABEL]: node.tier,
        'topology.kubernetes.io/zone': node.tier,
      },
    },
    spec: { taints: [{ key: POOL_TAINT_KEY, value: copy.id, effect: 'NoSchedule' }] },
    status: { allocatable: resources, capacity: resources },
  };
}

function podSpec(copy: CopyPlan, w: WorkloadModel): Record<string, unknown> {
  const selector: Record<string, string> = { [LAB_LABELS.copy]: copy.id };
  if (w.tier) selector[TIER_LABEL] = w.tier;
  const node = w.node === undefined ? undefined : copy.nodes[w.node];
  const term = { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] };
  const affinity =
    node === undefined
      ? undefined
      : w.pinned
        ? { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] } } }
        : { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: term }] } };
  return {
    nodeSelector: selector,
    tolerations: [{ key: POOL_TAINT_KEY, operator: 'Equal', value: copy.id, effect: 'NoSchedule' }],
    ...(affinity ? { affinity } : {}),
    terminationGracePeriodSeconds: 0,
    containers: [
      {
        name: 'app',
        image: 'talon-lab/app:1',
        resources: {
          requests: { cpu: w.quantities.requests.cpu, memory: w.quantities.requests.memory },
          limits: { cpu: w.quantities.limits.cpu, memory: w.quantities.limits.memory },
        },
      },
    ],
  };
}

export function workloadManifest(run: string, copy: CopyPlan, w: WorkloadModel): Record<string, unknown> {
  const labels = { ...copyLabels(run, copy), [LAB_LABELS.workload]: w.name, app: w.name };
  const namespace = copy.namespaces[w.namespace];
  const startup = { [LAB_STARTUP_ANNOTATION]: String(w.startupSeconds) };
  if (w.kind === 'Pod') {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: w.name, namespace, labels, annotations: startup },
      spec: { ...podSpec(copy, w), restartPolicy: 'Always' },
    };
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.name, namespace, labels },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: { [LAB_LABELS.copy]: copy.id, [LAB_LABELS.workload]: w.name } },
      template: { metadata: { labels, annotations: startup }, spec: podSpec(copy, w) },
    },
  };
}

/** Every object of a copy, namespaces and nodes first. */
export function copyManifests(run: string, copy: CopyPlan): Record<string, unknown>[] {
  return [
    ...namespaceManifests(run, copy),
    ...copy.scenario.nodes.map((n) => nodeManifest(run, copy, n)),
    ...copy.scenario.workloads.map((w) => workloadManifest(run, copy, w)),
  ];
}
