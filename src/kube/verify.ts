/**
 * Verification: polls the apiserver until what an action promised is observed, or reports what was seen
 * instead. A rollout is complete when the controller observed the new generation, every replica is updated
 * and available and no old pod is left, and each pod carries the new values (and runs on the chosen node);
 * an in-place resize is complete when the kubelet reports the new resources in the container statuses.
 * Definitive failures (ProgressDeadlineExceeded, an Infeasible resize, a pod that failed) end the wait early.
 */
import type { V1DaemonSet, V1Deployment, V1Pod, V1PodCondition, V1StatefulSet } from '@kubernetes/client-node';
import { containerMatches, type ContainerTarget } from '../domain/resource-plan';
import type { KubeClients } from './client';
import { isNotFound, kubeCall } from './errors';
import type { Expectation, VerificationResult, WorkloadRef } from './types';
import { malfunctionOf } from '../domain/workload-context';
import { containerHealth } from './workload-context';
import { containersOf, readController, type Controller } from './workloads';

export interface VerifyOptions {
  /** Give up after this long (default 120 s). */
  readonly timeoutMs?: number;
  /** First poll interval; doubles up to `maxIntervalMs` (defaults 200 ms and 2 s). */
  readonly intervalMs?: number;
  readonly maxIntervalMs?: number;
  readonly heartbeat?: (observed: Readonly<Record<string, unknown>>) => void;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** One look at the cluster: done (verified or definitively failed) or not yet, with what was seen. */
interface Observation {
  readonly done: boolean;
  readonly ok: boolean;
  readonly detail: string;
  readonly observed: Record<string, unknown>;
}

const pending = (detail: string, observed: Record<string, unknown>): Observation => ({
  done: false,
  ok: false,
  detail,
  observed,
});
const success = (detail: string, observed: Record<string, unknown>): Observation => ({
  done: true,
  ok: true,
  detail,
  observed,
});
const failure = (detail: string, observed: Record<string, unknown>): Observation => ({
  done: true,
  ok: false,
  detail,
  observed,
});

function condition(pod: V1Pod, type: string): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

function podReady(pod: V1Pod): boolean {
  return condition(pod, 'Ready')?.status === 'True';
}

/** Problems with one pod against the expectation; empty when it is as promised. */
function podProblems(
  pod: V1Pod,
  expect: { resource?: string; targets?: readonly ContainerTarget[]; node?: string; resized?: boolean },
): string[] {
  const name = pod.metadata?.name ?? '?';
  const problems: string[] = [];
  if (pod.metadata?.deletionTimestamp) problems.push(`${name} is terminating`);
  if (!podReady(pod)) problems.push(`${name} is not Ready (phase ${pod.status?.phase ?? 'unknown'})`);
  if (expect.node !== undefined && pod.spec?.nodeName !== expect.node) {
    problems.push(`${name} is on ${pod.spec?.nodeName ?? 'no node'}, not ${expect.node}`);
  }
  if (expect.resource && expect.targets) {
    const containers = containersOf(pod.spec);
    for (const t of expect.targets) {
      if (
        !containerMatches(
          containers.find((c) => c.name === t.container),
          expect.resource,
          t,
        )
      ) {
        problems.push(`${name} container ${t.container} spec does not have the new ${expect.resource} values yet`);
      }
    }
    if (expect.resized) {
      const statuses = pod.status?.containerStatuses ?? [];
      for (const t of expect.targets) {
        const s = statuses.find((x) => x.name === t.container);
        const actual = s?.resources
          ? containersOf({ containers: [{ name: t.container, resources: s.resources }] })[0]
          : undefined;
        if (!containerMatches(actual, expect.resource, t)) {
          problems.push(`the kubelet does not report the new ${expect.resource} of ${name}/${t.container} yet`);
        }
      }
      for (const type of ['PodResizePending', 'PodResizeInProgress']) {
        const c = condition(pod, type);
        if (c && c.status === 'True')
          problems.push(`${type}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`);
      }
      const generation = pod.metadata?.generation;
      const observedGeneration = pod.status?.observedGeneration;
      if (generation !== undefined && observedGeneration !== undefined && observedGeneration < generation) {
        problems.push(`the kubelet has not observed generation ${generation} of ${name} (at ${observedGeneration})`);
      }
    }
  }
  return problems;
}

function podSummary(pod: V1Pod): Record<string, unknown> {
  return {
    name: pod.metadata?.name,
    uid: pod.metadata?.uid,
    node: pod.spec?.nodeName,
    phase: pod.status?.phase,
    ready: podReady(pod),
    resources: Object.fromEntries(
      containersOf(pod.spec).map((c) => [c.name, { requests: c.requests, limits: c.limits }]),
    ),
  };
}

function selectorString(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

async function listPods(
  clients: Pick<KubeClients, 'core'>,
  namespace: string,
  labelSelector: string,
): Promise<V1Pod[]> {
  const list = await kubeCall(`list Pods in ${namespace} (${labelSelector})`, () =>
    clients.core.listNamespacedPod({ namespace, labelSelector }),
  );
  return list.items;
}

function controllerStatus(
  kind: WorkloadRef['kind'],
  object: Controller,
): { complete: boolean; detail: string; failed?: string } {
  const generation = object.metadata?.generation ?? 0;
  const observed = object.status?.observedGeneration ?? 0;
  if (observed < generation)
    return { complete: false, detail: `controller observed generation ${observed} of ${generation}` };
  if (kind === 'Deployment') {
    const d: V1Deployment = object;
    const s = d.status ?? {};
    const want = d.spec?.replicas ?? 1;
    const stalled = s.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
    if (stalled)
      return {
        complete: false,
        detail: 'rollout stalled',
        failed: `ProgressDeadlineExceeded: ${stalled.message ?? ''}`,
      };
    const detail = `${s.updatedReplicas ?? 0}/${want} updated, ${s.availableReplicas ?? 0} available, ${s.replicas ?? 0} total`;
    return {
      complete: (s.updatedReplicas ?? 0) === want && (s.replicas ?? 0) === want && (s.availableReplicas ?? 0) === want,
      detail,
    };
  }
  if (kind === 'StatefulSet') {
    const o = object as V1StatefulSet;
    const s = o.status;
    const want = o.spec?.replicas ?? 1;
    const detail = `${s?.updatedReplicas ?? 0}/${want} updated, ${s?.readyReplicas ?? 0} ready, revision ${s?.currentRevision ?? '?'}→${s?.updateRevision ?? '?'}`;
    return {
      complete:
        (s?.updatedReplicas ?? 0) === want &&
        (s?.readyReplicas ?? 0) === want &&
        (s?.replicas ?? 0) === want &&
        s?.currentRevision === s?.updateRevision,
      detail,
    };
  }
  const ds = object as V1DaemonSet;
  const s = ds.status;
  const want = s?.desiredNumberScheduled ?? 0;
  return {
    complete: (s?.updatedNumberScheduled ?? 0) === want && (s?.numberAvailable ?? 0) === want,
    detail: `${s?.updatedNumberScheduled ?? 0}/${want} updated, ${s?.numberAvailable ?? 0} available`,
  };
}

async function observe(
  clients: Pick<KubeClients, 'core' | 'apps' | 'batch'>,
  expect: Expectation,
): Promise<Observation> {
  switch (expect.kind) {
    case 'none':
      return success(`nothing to verify: ${expect.reason}`, {});

    case 'rollout': {
      const ref = expect.workload;
      if (ref.kind !== 'Deployment' && ref.kind !== 'StatefulSet' && ref.kind !== 'DaemonSet') {
        return failure(`cannot verify a rollout of a ${ref.kind}`, {});
      }
      const object = await readController(clients, ref.kind, ref.namespace, ref.name);
      const generation = object.metadata?.generation ?? 0;
      if (generation < expect.generation) {
        return failure(
          `${ref.kind} ${ref.namespace}/${ref.name} is at generation ${generation}, expected ${expect.generation}`,
          {},
        );
      }
      const status = controllerStatus(ref.kind, object);
      const observed: Record<string, unknown> = { generation, rollout: status.detail };
      if (status.failed) return failure(status.failed, observed);
      if (!status.complete) return pending(`rollout in progress: ${status.detail}`, observed);
      const pods = await listPods(clients, ref.namespace, selectorString(object.spec?.selector.matchLabels));
      const live = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
      observed.pods = live.map(podSummary);
      const problems = live.flatMap((p) => podProblems(p, expect));
      if (problems.length) return pending(problems.join('; '), observed);
      return success(
        `${ref.kind} ${ref.namespace}/${ref.name} rolled out: ${status.detail}${expect.node ? `, all on ${expect.node}` : ''}`,
        observed,
      );
    }

    case 'pod': {
      let pod: V1Pod;
      try {
        pod = await kubeCall(`read Pod ${expect.namespace}/${expect.pod}`, () =>
          clients.core.readNamespacedPod({ name: expect.pod, namespace: expect.namespace }),
        );
      } catch (err) {
        if (isNotFound(err)) return pending(`pod ${expect.namespace}/${expect.pod} does not exist (yet)`, {});
        throw err;
      }
      const observed = podSummary(pod);
      if (expect.uid && pod.metadata?.uid !== expect.uid) {
        return failure(`pod ${expect.pod} was replaced by another instance (uid ${pod.metadata?.uid})`, observed);
      }
      if (pod.status?.phase === 'Failed')
        return failure(`pod ${expect.pod} failed: ${pod.status.message ?? ''}`, observed);
      const infeasible = condition(pod, 'PodResizePending');
      if (expect.resized && infeasible?.status === 'True' && infeasible.reason === 'Infeasible') {
        return failure(
          `resize is infeasible on ${pod.spec?.nodeName ?? 'its node'}: ${infeasible.message ?? ''}`,
          observed,
        );
      }
      const problems = podProblems(pod, expect);
      if (problems.length) return pending(problems.join('; '), observed);
      return success(
        `pod ${expect.namespace}/${expect.pod} Ready${expect.node ? ` on ${expect.node}` : ''}` +
          `${expect.resource ? ` with the new ${expect.resource} values${expect.resized ? ' applied in place' : ''}` : ''}`,
        observed,
      );
    }

    case 'job': {
      const pods = await listPods(clients, expect.namespace, `batch.kubernetes.io/controller-uid=${expect.uid}`);
      const observed: Record<string, unknown> = { pods: pods.map(podSummary) };
      const done = pods.filter((p) => p.status?.phase === 'Succeeded');
      const running = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
      if (pods.length === 0) return pending(`no pod of Job ${expect.namespace}/${expect.job} yet`, observed);
      const good = [...done, ...running].filter((p) => {
        const problems = podProblems(p, expect).filter(
          (x) => p.status?.phase !== 'Succeeded' || !x.includes('not Ready'),
        );
        return problems.length === 0;
      });
      if (good.length > 0) {
        return success(
          `Job ${expect.namespace}/${expect.job} runs ${good.length} pod(s)${expect.node ? ` on ${expect.node}` : ''}` +
            `${expect.resource ? ` with the new ${expect.resource} values` : ''}`,
          observed,
        );
      }
      return pending(running.flatMap((p) => podProblems(p, expect)).join('; ') || 'job pods not running yet', observed);
    }

    case 'replicas': {
      const ref = expect.workload;
      if (ref.kind !== 'Deployment' && ref.kind !== 'StatefulSet') return failure(`${ref.kind} has no replicas`, {});
      const object = await readController(clients, ref.kind, ref.namespace, ref.name);
      const scaled: V1Deployment | V1StatefulSet = object;
      const spec = scaled.spec?.replicas;
      const s = scaled.status;
      const observed = { specReplicas: spec, replicas: s?.replicas, readyReplicas: s?.readyReplicas };
      if (spec !== expect.replicas) {
        // Through an HPA the count is its controller's to write: wait for it rather than call it a conflict.
        if (expect.hpa)
          return pending(`HPA ${expect.hpa} has not scaled to ${expect.replicas} yet (spec ${spec})`, observed);
        return failure(`spec.replicas is ${spec}, expected ${expect.replicas}: someone else changed it`, observed);
      }
      if ((s?.observedGeneration ?? 0) < expect.generation)
        return pending('controller has not observed the change', observed);
      if ((s?.replicas ?? 0) !== expect.replicas || (s?.readyReplicas ?? 0) !== expect.replicas) {
        return pending(`${s?.readyReplicas ?? 0} ready of ${s?.replicas ?? 0}, want ${expect.replicas}`, observed);
      }
      return success(
        `${ref.kind} ${ref.namespace}/${ref.name} runs ${expect.replicas} ready replicas${expect.hpa ? ` (scaled by HPA ${expect.hpa})` : ''}`,
        observed,
      );
    }

    case 'taint': {
      const node = await kubeCall(`read Node ${expect.node}`, () => clients.core.readNode({ name: expect.node }));
      const taints = node.spec?.taints ?? [];
      const present = taints.some((t) => t.key === expect.key && t.effect === expect.effect);
      const observed = { taints: taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`) };
      if (present === expect.present) {
        return success(
          `node ${expect.node} ${present ? 'carries' : 'is free of'} ${expect.key}:${expect.effect}`,
          observed,
        );
      }
      return pending(
        `node ${expect.node} ${present ? 'still carries' : 'does not carry'} ${expect.key}:${expect.effect}`,
        observed,
      );
    }

    case 'evicted': {
      try {
        const pod = await kubeCall(`read Pod ${expect.namespace}/${expect.pod}`, () =>
          clients.core.readNamespacedPod({ name: expect.pod, namespace: expect.namespace }),
        );
        if (pod.metadata?.uid !== expect.uid) {
          return success(`pod ${expect.pod} was evicted and replaced (new uid ${pod.metadata?.uid})`, podSummary(pod));
        }
        return pending(
          `pod ${expect.pod} still exists${pod.metadata?.deletionTimestamp ? ' (terminating)' : ''}`,
          podSummary(pod),
        );
      } catch (err) {
        if (isNotFound(err)) return success(`pod ${expect.namespace}/${expect.pod} is gone`, {});
        throw err;
      }
    }

    case 'restarted':
      return observeRestart(clients, expect);

    case 'offload':
      return observeOffload(clients, expect);

    case 'io-drop':
    case 'rate-cap':
      // Effects live in the pod's metrics: activities/effects.ts verifies them with a metrics source.
      return failure(`${expect.kind} is verified by its effect on the pod's metrics, which need a metrics source`, {});

    case 'annotations': {
      const pod = await kubeCall(`read Pod ${expect.namespace}/${expect.pod}`, () =>
        clients.core.readNamespacedPod({ name: expect.pod, namespace: expect.namespace }),
      );
      const have = pod.metadata?.annotations ?? {};
      const observed = Object.fromEntries(Object.keys(expect.annotations).map((k) => [k, have[k]]));
      const wrong = Object.entries(expect.annotations).filter(([k, v]) => (have[k] ?? null) !== v);
      if (wrong.length === 0) return success(`pod ${expect.namespace}/${expect.pod}: annotations match`, observed);
      return failure(
        `annotations differ: ${wrong.map(([k, v]) => `${k}=${have[k] ?? '∅'} (want ${v ?? '∅'})`).join(', ')}`,
        observed,
      );
    }
  }
}

/** Problems of a replacement pod: the old instance, not ready, or malfunctioning again. */
function replacementProblems(pod: V1Pod, oldUid: string): string[] {
  const name = pod.metadata?.name ?? '?';
  if (oldUid && pod.metadata?.uid === oldUid) return [`${name} is still the instance that malfunctioned`];
  const broken = malfunctionOf(containerHealth(pod, Date.now()), { restartsAtLeast: 1, stuckAfterSeconds: Infinity });
  if (broken) return [`replacement ${name}: ${broken.detail}`];
  return podProblems(pod, {});
}

async function observeRestart(
  clients: Pick<KubeClients, 'core' | 'apps' | 'batch'>,
  expect: Extract<Expectation, { kind: 'restarted' }>,
): Promise<Observation> {
  const ref = expect.workload;
  if (!ref || ref.kind === 'Pod') {
    let pod: V1Pod;
    try {
      pod = await kubeCall(`read Pod ${expect.namespace}/${expect.pod}`, () =>
        clients.core.readNamespacedPod({ name: expect.pod, namespace: expect.namespace }),
      );
    } catch (err) {
      if (isNotFound(err)) return pending(`pod ${expect.namespace}/${expect.pod} not recreated yet`, {});
      throw err;
    }
    const problems = replacementProblems(pod, expect.oldUid);
    if (problems.length) return pending(problems.join('; '), podSummary(pod));
    return success(
      `pod ${expect.namespace}/${expect.pod} replaced: a new instance runs with every container ready`,
      podSummary(pod),
    );
  }
  let selector: string;
  if (ref.kind === 'Job') selector = `batch.kubernetes.io/job-name=${ref.name}`;
  else {
    const object = await readController(clients, ref.kind, ref.namespace, ref.name);
    const status = controllerStatus(ref.kind, object);
    if (!status.complete) return pending(`${describeRef(ref)}: ${status.detail}`, { rollout: status.detail });
    selector = selectorString(object.spec?.selector.matchLabels);
  }
  const pods = (await listPods(clients, ref.namespace, selector)).filter(
    (p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed',
  );
  const observed = { pods: pods.map(podSummary) };
  const problems = pods.flatMap((p) => replacementProblems(p, expect.oldUid));
  if (pods.length === 0) return pending(`no pod of ${describeRef(ref)} runs yet`, observed);
  if (problems.length) return pending(problems.join('; '), observed);
  return success(
    `${describeRef(ref)} replaced the malfunctioning pod ${expect.pod}: ${pods.length} pod(s) ready, none crash-looping`,
    observed,
  );
}

async function observeOffload(
  clients: Pick<KubeClients, 'core' | 'apps'>,
  expect: Extract<Expectation, { kind: 'offload' }>,
): Promise<Observation> {
  const ref = expect.workload;
  const moved = await listPods(clients, ref.namespace, `talon.io/offload=${expect.replicaSet}`);
  const live = moved.filter((p) => !p.metadata?.deletionTimestamp);
  const landed = live.filter((p) => podReady(p) && p.spec?.nodeName === expect.node);
  const observed: Record<string, unknown> = { moved: live.map(podSummary) };
  if (landed.length < expect.moved) {
    return pending(`${landed.length}/${expect.moved} offloaded replicas Ready on ${expect.node}`, observed);
  }
  const deployment: V1Deployment = await readController(clients, 'Deployment', ref.namespace, ref.name);
  const s = deployment.status;
  observed.deployment = { spec: deployment.spec?.replicas, ready: s?.readyReplicas, replicas: s?.replicas };
  if (
    (s?.observedGeneration ?? 0) < expect.generation ||
    (s?.replicas ?? 0) !== expect.remaining ||
    (s?.readyReplicas ?? 0) !== expect.remaining
  ) {
    return pending(
      `${describeRef(ref)}: ${s?.readyReplicas ?? 0} ready of ${s?.replicas ?? 0}, want ${expect.remaining}`,
      observed,
    );
  }
  let onSource = '';
  if (expect.sourceNode !== undefined && expect.sourceBefore !== undefined) {
    const own = (
      await listPods(
        clients,
        ref.namespace,
        `${selectorString(deployment.spec?.selector.matchLabels)},!talon.io/offload`,
      )
    ).filter(
      (p) => p.spec?.nodeName === expect.sourceNode && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed',
    );
    const allowed = Math.max(0, expect.sourceBefore - expect.moved);
    observed.onSource = own.length;
    if (own.length > allowed) {
      return pending(`${own.length} of its pods still on ${expect.sourceNode} (want ≤ ${allowed})`, observed);
    }
    onSource = `, ${expect.sourceBefore}→${own.length} on ${expect.sourceNode}`;
  }
  return success(
    `${expect.moved} replica(s) of ${describeRef(ref)} Ready on ${expect.node}, ${expect.remaining} placed by the scheduler${onSource}`,
    observed,
  );
}

function describeRef(ref: WorkloadRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits for an action's expectation. Never throws for an unmet expectation: the result says what was
 * observed. Apiserver failures (forbidden, unreachable) do throw, typed by {@link kubeCall}.
 */
export async function verifyExpectation(
  clients: Pick<KubeClients, 'core' | 'apps' | 'batch'>,
  expect: Expectation,
  options: VerifyOptions = {},
): Promise<VerificationResult> {
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const started = clock();
  const deadline = started + (options.timeoutMs ?? 120_000);
  let interval = options.intervalMs ?? 200;
  let polls = 0;
  for (;;) {
    polls += 1;
    const o = await observe(clients, expect);
    if (o.done || clock() >= deadline) {
      const elapsedMs = clock() - started;
      const detail = o.done ? o.detail : `not verified after ${Math.round(elapsedMs / 1000)}s: ${o.detail}`;
      return { verified: o.ok, detail, observed: o.observed, elapsedMs, polls };
    }
    options.heartbeat?.(o.observed);
    await sleep(Math.min(interval, Math.max(0, deadline - clock())));
    interval = Math.min(options.maxIntervalMs ?? 2_000, interval * 2);
  }
}
