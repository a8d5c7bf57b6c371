/**
 * data_offloading and network_qos: annotations on the pod that others act on — the application (the
 * data-offload contract of docs/ACTUATOR.md, D3.6 Table 1) and Kube-OVN's bandwidth limits (D3.3 1.7.2,
 * Figure 6). One merge patch carries the annotations and the operation record — with what it set and the values
 * before, the snapshot a rollback restores — so a retry finds it and writes nothing. Neither counts as done
 * because the annotation is there: the expectation each returns is verified by its effect on the pod's own
 * series (the I/O dropped; the rates are under the caps), see activities/effects.ts.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { checkMagnitude, checkNamespace } from '../../domain/guards';
import type { PolicyName } from '../../domain/policy';
import { PatchStrategy } from '../client';
import { ANNOTATIONS, type ActionResult, type Expectation } from '../types';
import { operationAnnotation, operationOf } from '../workloads';
import { describeChanges, type ActuatorCore } from './operation';
import type { DataOffloadRequest, NetworkQosRequest, OperationContext } from './requests';

/** Marks the pod for a data-offload workflow (D3.6 Table 1: annotate to trigger data offload). */
export async function requestDataOffload(
  core: ActuatorCore,
  req: DataOffloadRequest,
  ctx: OperationContext,
): Promise<ActionResult> {
  checkMagnitude(core.options.guards, 'data_offloading', req.share);
  const annotations = {
    [ANNOTATIONS.dataOffload]: String(req.share),
    [ANNOTATIONS.dataOffloadRequestedAt]: new Date(core.clock()).toISOString(),
    [ANNOTATIONS.dataOffloadId]: ctx.operationId,
  };
  const describe = `data offload of ${Math.round(req.share * 100)}%`;
  const minDropFraction = core.options.dataOffloadEffectFraction ?? 0.5;
  return annotatePod(core, 'data_offloading', req, annotations, describe, ctx, (pod, written) => {
    const requestedAt = Date.parse(written[ANNOTATIONS.dataOffloadRequestedAt] ?? '') / 1000;
    const metric = pod.metadata?.annotations?.[ANNOTATIONS.dataOffloadMetric];
    return {
      kind: 'io-drop',
      namespace: req.namespace,
      pod: req.pod,
      uid: pod.metadata?.uid ?? '',
      requestId: written[ANNOTATIONS.dataOffloadId] || ctx.operationId,
      share: Number(written[ANNOTATIONS.dataOffload] ?? req.share),
      requestedAt: Number.isFinite(requestedAt) ? requestedAt : core.clock() / 1000,
      minDropFraction,
      ...(metric && /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric) ? { metric } : {}),
      ...(core.options.effectDeadlineSeconds ? { deadlineSeconds: core.options.effectDeadlineSeconds } : {}),
    };
  });
}

/** Sets Kube-OVN's ingress/egress rate annotations (Mbit/s) to a share of the configured ceiling. */
export async function setNetworkQos(
  core: ActuatorCore,
  req: NetworkQosRequest,
  ctx: OperationContext,
): Promise<ActionResult> {
  checkMagnitude(core.options.guards, 'network_qos', req.share);
  const rate = String(Math.max(1, Math.round(req.share * (core.options.networkCeilingMbps ?? 1000))));
  const annotations = { [ANNOTATIONS.ovnIngressRate]: rate, [ANNOTATIONS.ovnEgressRate]: rate };
  return annotatePod(core, 'network_qos', req, annotations, 'network QoS', ctx, (pod, written, at) => ({
    kind: 'rate-cap',
    namespace: req.namespace,
    pod: req.pod,
    uid: pod.metadata?.uid ?? '',
    ingressMbps: Number(written[ANNOTATIONS.ovnIngressRate] ?? rate),
    egressMbps: Number(written[ANNOTATIONS.ovnEgressRate] ?? rate),
    appliedAt: at,
    ...(core.options.effectDeadlineSeconds ? { deadlineSeconds: core.options.effectDeadlineSeconds } : {}),
  }));
}

/** The values the keys of `written` have before the write (null: absent): what an undo restores. */
export function snapshotOf(
  current: Readonly<Record<string, string>>,
  written: Readonly<Record<string, string>>,
): Record<string, string | null> {
  return Object.fromEntries(Object.keys(written).map((k) => [k, current[k] ?? null]));
}

/** What verification must see, from the pod and the annotations as written (by this call or an earlier one). */
type EffectOf = (pod: V1Pod, written: Readonly<Record<string, string>>, appliedAt: number) => Expectation;

async function annotatePod(
  core: ActuatorCore,
  policy: PolicyName,
  target: { readonly namespace: string; readonly pod: string },
  annotations: Record<string, string>,
  describe: string,
  ctx: OperationContext,
  effect: EffectOf,
): Promise<ActionResult> {
  core.checkOperation(ctx);
  checkNamespace(core.options.guards, target.namespace);
  return core.retryOnConflict(() => annotateOnce(core, policy, target, annotations, describe, ctx, effect));
}

async function annotateOnce(
  core: ActuatorCore,
  policy: PolicyName,
  { namespace, pod: name }: { readonly namespace: string; readonly pod: string },
  annotations: Record<string, string>,
  describe: string,
  ctx: OperationContext,
  effect: EffectOf,
): Promise<ActionResult> {
  const where = `Pod ${namespace}/${name}`;
  const pod = await core.readPod(namespace, name);
  const current = pod.metadata?.annotations ?? {};
  const prior = operationOf(pod.metadata);
  if (prior && core.superseded(prior, ctx)) {
    return core.supersededResult(policy, ctx, where, prior, 'annotate', {
      kind: 'none',
      reason: 'a later operation has changed the annotations since',
    });
  }
  if (prior?.id === ctx.operationId) {
    const appliedAt = Date.parse(prior.at) / 1000;
    return core.result(policy, ctx, {
      alreadyApplied: true,
      target: where,
      mechanism: 'annotate',
      summary: `${describe} on ${where} was applied by this operation before`,
      changes: [],
      // What this operation wrote (the request time of a data offload is the first attempt's).
      expect: effect(
        pod,
        Object.fromEntries(Object.keys(annotations).map((k) => [k, current[k] ?? ''])),
        Number.isFinite(appliedAt) ? appliedAt : core.clock() / 1000,
      ),
    });
  }
  await core.admit(namespace, ctx);
  const changes = Object.entries(annotations).map(([k, v]) => ({
    path: `annotation ${k}`,
    ...(current[k] === undefined ? {} : { from: current[k] }),
    to: v,
  }));
  const appliedAt = core.clock() / 1000;
  await core.patchPod(
    namespace,
    name,
    {
      metadata: {
        resourceVersion: pod.metadata?.resourceVersion,
        annotations: {
          ...annotations,
          ...operationAnnotation(
            core.record(ctx, policy, prior, { annotations, previousAnnotations: snapshotOf(current, annotations) }),
          ),
        },
      },
    },
    PatchStrategy.MergePatch,
    ctx,
  );
  return core.result(policy, ctx, {
    target: where,
    mechanism: 'annotate',
    summary: `${describe} on ${where}: ${describeChanges(changes)}`,
    changes,
    expect: effect(pod, annotations, appliedAt),
  });
}
