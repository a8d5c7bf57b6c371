/**
 * node_overload's building blocks (D3.6 Rule 2), each a step of the nodeOverload workflow: Talon's NoSchedule
 * taint on the node, the heaviest evictable pod on it, its eviction through the Eviction API (PodDisruption-
 * Budgets respected: a blocked eviction is reported, never forced), and the untaint. Taint and untaint are
 * idempotent by the taint's presence; an eviction is idempotent by the pod's uid.
 */
import type { V1Node } from '@kubernetes/client-node';
import { checkNamespace } from '../../domain/guards';
import { parseQuantity } from '../../domain/quantity';
import { CLUSTER_SCOPE } from '../budget';
import { patchAs, PatchStrategy } from '../client';
import { isNotFound, KubeConflictError, KubeUnavailableError, kubeCall } from '../errors';
import { FIELD_MANAGER, OVERLOAD_TAINT, type ActionResult, type EvictionResult, type Expectation } from '../types';
import { containersOf } from '../workloads';
import { dryRunOf, type ActuatorCore } from './operation';
import type { EvictionCandidate, EvictPodRequest, NodeRequest, OperationContext, PodUsage } from './requests';

const POLICY = 'node_overload';
const { key, value, effect } = OVERLOAD_TAINT;

async function readNode(core: ActuatorCore, name: string): Promise<V1Node> {
  return kubeCall(`read Node ${name}`, () => core.clients.core.readNode({ name }));
}

async function patchTaints(
  core: ActuatorCore,
  node: V1Node,
  taints: unknown[],
  ctx: OperationContext,
): Promise<V1Node> {
  const name = node.metadata?.name ?? '';
  return kubeCall(`patch Node ${name}`, () =>
    core.clients.core.patchNode(
      {
        name,
        body: { metadata: { resourceVersion: node.metadata?.resourceVersion }, spec: { taints } },
        fieldManager: FIELD_MANAGER,
        ...dryRunOf(core.dry(ctx)),
      },
      patchAs(PatchStrategy.MergePatch),
    ),
  );
}

/** Adds Talon's NoSchedule taint so nothing new lands on an overloaded node; a second call changes nothing. */
export async function taintNode(core: ActuatorCore, req: NodeRequest, ctx: OperationContext): Promise<ActionResult> {
  core.checkOperation(ctx);
  return core.retryOnConflict(async () => {
    const where = `Node ${req.node}`;
    const expect: Expectation = { kind: 'taint', node: req.node, key, effect, present: true };
    const node = await readNode(core, req.node);
    const taints = node.spec?.taints ?? [];
    if (taints.some((t) => t.key === key && t.effect === effect)) {
      return core.result(POLICY, ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: 'taint',
        summary: `${where} already carries ${key}:${effect}`,
        changes: [],
        expect,
      });
    }
    await core.admit(CLUSTER_SCOPE, ctx);
    await patchTaints(core, node, [...taints, { key, value, effect }], ctx);
    return core.result(POLICY, ctx, {
      target: where,
      mechanism: 'taint',
      summary: `${where} tainted ${key}=${value}:${effect}`,
      changes: [{ path: `taint ${key}`, to: `${value}:${effect}` }],
      expect,
    });
  });
}

/**
 * Removes Talon's taint. Never refused by the write budget: an untaint restores capacity, and a budget that
 * could keep a node tainted would be a hazard of its own.
 */
export async function untaintNode(core: ActuatorCore, req: NodeRequest, ctx: OperationContext): Promise<ActionResult> {
  core.checkOperation(ctx);
  return core.retryOnConflict(async () => {
    const where = `Node ${req.node}`;
    const expect: Expectation = { kind: 'taint', node: req.node, key, effect, present: false };
    const node = await readNode(core, req.node);
    const taints = node.spec?.taints ?? [];
    const kept = taints.filter((t) => !(t.key === key && t.effect === effect));
    if (kept.length === taints.length) {
      return core.result(POLICY, ctx, {
        alreadyApplied: true,
        target: where,
        mechanism: 'untaint',
        summary: `${where} does not carry ${key}:${effect}`,
        changes: [],
        expect,
      });
    }
    await patchTaints(core, node, kept, ctx);
    return core.result(POLICY, ctx, {
      target: where,
      mechanism: 'untaint',
      summary: `${where} untainted ${key}:${effect}`,
      changes: [{ path: `taint ${key}`, from: effect }],
      expect,
    });
  });
}

/**
 * Evicts the pod through the Eviction API, so PodDisruptionBudgets are respected: a blocked eviction is
 * reported as `blocked`, never forced. Only the given instance is evicted (uid precondition), so a retry
 * cannot evict its replacement.
 */
export async function evictPod(
  core: ActuatorCore,
  req: EvictPodRequest,
  ctx: OperationContext,
  policy: string = POLICY,
): Promise<EvictionResult> {
  core.checkOperation(ctx);
  checkNamespace(core.options.guards, req.namespace);
  const where = `Pod ${req.namespace}/${req.pod}`;
  const base = { target: where, mechanism: 'evict' as const, changes: [] };
  const expect: Expectation = { kind: 'evicted', namespace: req.namespace, pod: req.pod, uid: req.uid };
  await core.admit(req.namespace, ctx);
  const dry = core.dry(ctx);
  try {
    await kubeCall(`evict ${where}`, () =>
      core.clients.core.createNamespacedPodEviction({
        name: req.pod,
        namespace: req.namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: req.pod, namespace: req.namespace },
          deleteOptions: { preconditions: { uid: req.uid }, ...(dry ? { dryRun: ['All'] } : {}) },
        },
        ...dryRunOf(dry),
      }),
    );
  } catch (err) {
    if (isNotFound(err) || err instanceof KubeConflictError) {
      const summary = `${where} (uid ${req.uid}) is already gone`;
      const gone = core.result(policy, ctx, { ...base, applied: false, alreadyApplied: true, summary, expect });
      return { ...gone, outcome: 'already-gone' };
    }
    const status = (err as { status?: { code?: number; message?: string } }).status;
    const pdb = status?.code === 429 || (status?.code === 500 && /disruption budget/i.test(status.message ?? ''));
    if (err instanceof KubeUnavailableError && pdb && /disruption budget/i.test(status?.message ?? '')) {
      const blockedBy = status?.message ?? 'PodDisruptionBudget';
      const blocked = core.result(policy, ctx, {
        ...base,
        applied: false,
        summary: `eviction of ${where} blocked: ${blockedBy}`,
        expect: { kind: 'none', reason: 'eviction blocked by a PodDisruptionBudget' },
      });
      return { ...blocked, outcome: 'blocked', blockedBy };
    }
    throw err;
  }
  const evicted = core.result(policy, ctx, {
    ...base,
    summary: `${where} evicted`,
    changes: [{ path: 'pod', from: req.uid }],
    expect,
  });
  return { ...evicted, outcome: dry ? 'dry-run' : 'evicted' };
}

/**
 * The pod to evict from an overloaded node: the heaviest by CPU usage when usage is known, else by CPU
 * requests. DaemonSet and mirror pods, pods already terminating or finished, and pods in protected
 * namespaces are never candidates.
 */
export async function selectPodToEvict(
  core: ActuatorCore,
  node: string,
  usage?: readonly PodUsage[],
): Promise<EvictionCandidate | undefined> {
  const list = await kubeCall(`list Pods on Node ${node}`, () =>
    core.clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
  );
  const used = new Map((usage ?? []).map((u) => [`${u.namespace}/${u.pod}`, u.cpuCores]));
  const candidates: EvictionCandidate[] = [];
  for (const pod of list.items) {
    const meta = pod.metadata;
    if (!meta?.name || !meta.namespace || !meta.uid || meta.deletionTimestamp) continue;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    if (meta.annotations?.['kubernetes.io/config.mirror']) continue;
    if (meta.ownerReferences?.some((o) => o.controller && o.kind === 'DaemonSet')) continue;
    try {
      checkNamespace(core.options.guards, meta.namespace);
    } catch {
      continue;
    }
    const measured = used.get(`${meta.namespace}/${meta.name}`);
    const requested = containersOf(pod.spec).reduce((sum, c) => {
      const cpu = c.requests?.cpu;
      return sum + (cpu ? parseQuantity(cpu).asApproximateFloat64() : 0);
    }, 0);
    candidates.push({
      namespace: meta.namespace,
      pod: meta.name,
      uid: meta.uid,
      cpuCores: measured ?? requested,
      basis: measured === undefined ? 'requests' : 'usage',
    });
  }
  candidates.sort((a, b) => {
    if (a.basis !== b.basis) return a.basis === 'usage' ? -1 : 1;
    return b.cpuCores - a.cpuCores || `${a.namespace}/${a.pod}`.localeCompare(`${b.namespace}/${b.pod}`);
  });
  return candidates[0];
}
