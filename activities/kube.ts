/**
 * Activities that change the cluster: one per remediation step, each idempotent and guarded, plus the
 * verification that the change took effect. Made by {@link createKubeActivities} from injected clients and
 * options (never the environment). Failures reach workflows as ApplicationFailures whose `type` names the
 * cause: guard refusals, forbidden requests, invalid input, unsupported targets and "no eligible node" are
 * non-retryable; conflicts, throttling, 5xx and timeouts are retryable.
 *
 * Idempotency: the operation id defaults to `<workflowId>:<runId>:<activityId>`, which every retry of the same
 * activity shares, so a retried or replayed step never applies twice. A delete-and-recreate saves the
 * manifest as heartbeat details before deleting, so a retry after a worker crash finishes the create.
 */
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { GuardRefusedError, InvalidFactorError, InvalidQuantityError, QuantityRangeError } from '../src/domain/errors';
import { guardConfig, type GuardConfig, type GuardConfigInput } from '../src/domain/guards';
import type { NodeLoad } from '../src/domain/node-load';
import { POLICIES } from '../src/domain/policy';
import { KubeActuator, type EvictionCandidate, type OperationContext, type PodUsage } from '../src/kube/actions';
import { LeaseWriteBudget, type WriteBudgetStore } from '../src/kube/budget';
import { ClusterCapabilities } from '../src/kube/capabilities';
import { createKubeClients, type KubeClients } from '../src/kube/client';
import type { NodeSource } from '../src/kube/node-cache';
import { KubeError, NoEligibleNodeError, UnsupportedTargetError } from '../src/kube/errors';
import type { ActionResult, EvictionResult, Expectation, Checkpoint, VerificationResult } from '../src/kube/types';
import { verifyExpectation } from '../src/kube/verify';
import { nodeLoads } from '../src/metrics/gather';
import type { PrometheusClient } from '../src/metrics/prometheus';
import type { MetricsConfig } from '../src/metrics/queries';
import { parseActivityInput as parse } from './input';
import { kubeFailure } from './kube-failure';

export interface KubeActivityDeps {
  readonly kubeConfig: KubeConfig;
  /** Prebuilt clients (tests and the benchmark share a request counter this way). */
  readonly clients?: KubeClients;
  /** Guard configuration; defaults protect kube-system, kube-public, kube-node-lease and Talon's namespace. */
  readonly guards?: GuardConfig | GuardConfigInput;
  /** Talon's own namespace: home of the write-budget Leases. */
  readonly talonNamespace?: string;
  /** The durable write budget; a Lease store in `talonNamespace` by default, `false` to disable (tests). */
  readonly budget?: WriteBudgetStore | false;
  /** Forces in-place resize support on or off instead of discovering it. */
  readonly podResize?: boolean;
  /** Current node usage (Prometheus) for task offloading; see {@link prometheusNodeUsage}, {@link cachedNodeUsage}. */
  readonly nodeUsage?: () => Promise<readonly NodeLoad[]>;
  /** Candidate nodes for offloading; a started {@link NodeCache} in workers, a LIST per decision otherwise. */
  readonly nodeSource?: NodeSource;
  /** Current pod CPU usage on a node, to pick the heaviest pod to evict. */
  readonly podUsage?: (node: string) => Promise<readonly PodUsage[]>;
  readonly tierLabel?: string;
  readonly networkCeilingMbps?: number;
  /** Per apiserver request (default 15 s). */
  readonly requestTimeoutMs?: number;
  /** Default verification timeout (default 120 s). */
  readonly verifyTimeoutMs?: number;
  readonly deletionTimeoutMs?: number;
}

/**
 * Keeps the last node usage and refreshes it in the background every `refreshMs` (default 5 s, Prometheus'
 * scrape interval: fresher answers do not exist). A caller gets the last answer if it is younger than
 * `maxAgeMs` (default 3 × refreshMs), otherwise waits for a refresh. Made once per worker; `stop` ends it.
 */
export function cachedNodeUsage(
  fetchUsage: () => Promise<readonly NodeLoad[]>,
  options: { refreshMs?: number; maxAgeMs?: number; clock?: () => number } = {},
): { usage: () => Promise<readonly NodeLoad[]>; stop: () => void } {
  const refreshMs = options.refreshMs ?? 5_000;
  const maxAgeMs = options.maxAgeMs ?? 3 * refreshMs;
  const clock = options.clock ?? Date.now;
  let last: { at: number; value: readonly NodeLoad[] } | undefined;
  let inflight: Promise<readonly NodeLoad[]> | undefined;
  const refresh = () => {
    inflight ??= fetchUsage()
      .then((value) => {
        last = { at: clock(), value };
        return value;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
  const timer = setInterval(() => {
    refresh().catch(() => undefined);
  }, refreshMs);
  timer.unref();
  return {
    usage: async () => (last && clock() - last.at <= maxAgeMs ? last.value : refresh()),
    stop: () => clearInterval(timer),
  };
}

/** Node usage from Prometheus (CPU cores and working-set bytes per node) for offloading decisions. */
export function prometheusNodeUsage(
  client: PrometheusClient,
  config: MetricsConfig,
  rangeSeconds = 120,
): () => Promise<readonly NodeLoad[]> {
  return () => nodeLoads(client, config, rangeSeconds);
}

const name = z.string().min(1).max(253);
const operationId = z.string().min(1).max(256).optional();
const dryRun = z.boolean().optional();

export const remediationInputSchema = z.object({
  policy: z.enum(POLICIES),
  magnitude: z.number(),
  namespace: name,
  pod: name,
  container: name.optional(),
  tier: z.string().min(1).max(63).optional(),
  maxLoad: z.number().positive().optional(),
  dryRun,
  operationId,
});
export type RemediationInput = z.input<typeof remediationInputSchema>;

const scaleResourcesSchema = z.object({
  policy: z.enum(['cpu_scale_up', 'cpu_scale_down', 'memory_scale_up', 'memory_scale_down']),
  namespace: name,
  pod: name,
  container: name.optional(),
  factor: z.number(),
  dryRun,
  operationId,
});
export type ScaleResourcesInput = z.input<typeof scaleResourcesSchema>;

const scaleReplicasSchema = z.object({
  policy: z.enum(['replica_scale_up', 'replica_scale_down']),
  namespace: name,
  pod: name.optional(),
  workload: z.object({ kind: z.enum(['Deployment', 'StatefulSet']), name }).optional(),
  factor: z.number(),
  dryRun,
  operationId,
});
export type ScaleReplicasInput = z.input<typeof scaleReplicasSchema>;

const offloadSchema = z.object({
  namespace: name,
  pod: name,
  tier: z.string().min(1).max(63).optional(),
  magnitude: z.number().optional(),
  maxLoad: z.number().positive().optional(),
  dryRun,
  operationId,
});
export type OffloadTaskInput = z.input<typeof offloadSchema>;

const dataOffloadSchema = z.object({ namespace: name, pod: name, share: z.number(), dryRun, operationId });
export type DataOffloadInput = z.input<typeof dataOffloadSchema>;

const networkQosSchema = z.object({
  namespace: name,
  pod: name,
  share: z.number().optional(),
  ingressMbps: z.number().int().optional(),
  egressMbps: z.number().int().optional(),
  dryRun,
  operationId,
});
export type NetworkQosInput = z.input<typeof networkQosSchema>;

const taintSchema = z.object({
  node: name,
  key: z.string().min(1).max(253).optional(),
  value: z.string().max(63).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  dryRun,
  operationId,
});
export type TaintNodeInput = z.input<typeof taintSchema>;

const evictSchema = z.object({
  namespace: name,
  pod: name,
  uid: z.string().min(1).optional(),
  dryRun,
  operationId,
});
export type EvictPodInput = z.input<typeof evictSchema>;

const selectEvictSchema = z.object({ node: name });
export type SelectPodToEvictInput = z.input<typeof selectEvictSchema>;

const verifySchema = z.object({
  expect: z.custom<Expectation>(
    (v) => typeof v === 'object' && v !== null && typeof (v as Expectation).kind === 'string',
  ),
  timeoutMs: z.number().int().positive().max(3_600_000).optional(),
});
export type VerifyActionInput = z.input<typeof verifySchema>;

/** Maps any failure to what Temporal should do with it: retry, or stop and tell the workflow why. */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof GuardRefusedError) {
    return ApplicationFailure.create({
      message: err.message,
      type: 'GuardRefused',
      nonRetryable: true,
      details: [{ guard: err.guard, ...err.details }],
      cause: err,
    });
  }
  if (err instanceof InvalidQuantityError || err instanceof InvalidFactorError || err instanceof QuantityRangeError) {
    return ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: true, cause: err });
  }
  if (err instanceof NoEligibleNodeError) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.name,
      nonRetryable: true,
      details: [{ excluded: err.excluded }],
      cause: err,
    });
  }
  if (err instanceof UnsupportedTargetError) {
    return ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: true, cause: err });
  }
  if (err instanceof KubeError) return kubeFailure(err);
  return err;
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** `<workflowId>:<runId>:<activityId>`, shortened with a hash when long; shared by every retry. */
export function defaultOperationId(info: Context['info']): string {
  const wf = info.workflowExecution;
  const id = `${wf?.workflowId ?? 'no-workflow'}:${wf?.runId ?? ''}:${info.activityId}`;
  if (id.length <= 200) return id;
  return `${id.slice(0, 120)}…${createHash('sha256').update(id).digest('hex').slice(0, 24)}`;
}

function isCheckpoint(value: unknown): value is Checkpoint {
  return typeof value === 'object' && value !== null && typeof (value as Checkpoint).operationId === 'string';
}

/**
 * The actuator's per-call context, wired to Temporal heartbeats when running as an activity: every
 * checkpoint the actuator records travels in the heartbeat details, so a retry after a worker crash
 * resumes from it instead of writing again.
 */
export function operationContext(input: {
  operationId?: string | undefined;
  dryRun?: boolean | undefined;
}): OperationContext {
  const ctx = activityContext();
  const id = input.operationId ?? (ctx ? defaultOperationId(ctx.info) : undefined);
  if (!id) {
    throw ApplicationFailure.create({
      message: 'an operationId is required outside an activity context',
      type: 'InvalidInput',
      nonRetryable: true,
    });
  }
  const details: unknown = ctx?.info.heartbeatDetails;
  let saved: Checkpoint | undefined = isCheckpoint(details) ? details : undefined;
  return {
    operationId: id,
    ...(input.dryRun === undefined ? {} : { dryRun: input.dryRun }),
    ...(saved ? { restored: saved } : {}),
    checkpoint: (checkpoint) => {
      saved = checkpoint;
      ctx?.heartbeat(checkpoint);
    },
    heartbeat: () => ctx?.heartbeat(saved),
  };
}

async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure(err);
  }
}

export function createKubeActivities(deps: KubeActivityDeps) {
  const clients = deps.clients ?? createKubeClients(deps.kubeConfig, { timeoutMs: deps.requestTimeoutMs ?? 15_000 });
  const guards: GuardConfig = guardConfig({
    ...deps.guards,
    ...(deps.talonNamespace ? { talonNamespace: deps.talonNamespace } : {}),
  });
  const budget =
    deps.budget === false
      ? undefined
      : (deps.budget ?? new LeaseWriteBudget(clients, { namespace: deps.talonNamespace ?? 'talon-system' }));
  const capabilities = new ClusterCapabilities(
    clients,
    deps.podResize === undefined ? {} : { podResize: deps.podResize },
  );
  const actuator = new KubeActuator(clients, {
    guards,
    ...(budget ? { budget } : {}),
    capabilities,
    ...(deps.tierLabel ? { tierLabel: deps.tierLabel } : {}),
    ...(deps.nodeSource ? { nodeSource: deps.nodeSource } : {}),
    ...(deps.networkCeilingMbps ? { networkCeilingMbps: deps.networkCeilingMbps } : {}),
    ...(deps.deletionTimeoutMs ? { deletionTimeoutMs: deps.deletionTimeoutMs } : {}),
  });
  const nodeUsage = deps.nodeUsage ?? (async () => []);

  async function scaleResources(input: ScaleResourcesInput): Promise<ActionResult> {
    const req = parse(scaleResourcesSchema, input, 'scaleResources input');
    return run(() =>
      actuator.scaleResources(
        {
          policy: req.policy,
          namespace: req.namespace,
          pod: req.pod,
          factor: req.factor,
          ...(req.container ? { container: req.container } : {}),
        },
        operationContext(req),
      ),
    );
  }

  async function scaleReplicas(input: ScaleReplicasInput): Promise<ActionResult> {
    const req = parse(scaleReplicasSchema, input, 'scaleReplicas input');
    return run(() =>
      actuator.scaleReplicas(
        {
          policy: req.policy,
          namespace: req.namespace,
          factor: req.factor,
          ...(req.pod ? { pod: req.pod } : {}),
          ...(req.workload ? { workload: req.workload } : {}),
        },
        operationContext(req),
      ),
    );
  }

  async function offloadTask(input: OffloadTaskInput): Promise<ActionResult> {
    const req = parse(offloadSchema, input, 'offloadTask input');
    return run(() =>
      actuator.offloadTask(
        {
          namespace: req.namespace,
          pod: req.pod,
          ...(req.tier ? { tier: req.tier } : {}),
          ...(req.magnitude === undefined ? {} : { magnitude: req.magnitude }),
          ...(req.maxLoad === undefined ? {} : { maxLoad: req.maxLoad }),
        },
        operationContext(req),
        nodeUsage,
      ),
    );
  }

  async function requestDataOffload(input: DataOffloadInput): Promise<ActionResult> {
    const req = parse(dataOffloadSchema, input, 'requestDataOffload input');
    return run(() =>
      actuator.requestDataOffload({ namespace: req.namespace, pod: req.pod, share: req.share }, operationContext(req)),
    );
  }

  async function setNetworkQos(input: NetworkQosInput): Promise<ActionResult> {
    const req = parse(networkQosSchema, input, 'setNetworkQos input');
    return run(() =>
      actuator.setNetworkQos(
        {
          namespace: req.namespace,
          pod: req.pod,
          ...(req.share === undefined ? {} : { share: req.share }),
          ...(req.ingressMbps === undefined ? {} : { ingressMbps: req.ingressMbps }),
          ...(req.egressMbps === undefined ? {} : { egressMbps: req.egressMbps }),
        },
        operationContext(req),
      ),
    );
  }

  return {
    /**
     * Applies one policy decision to the pod it concerns: dispatches cpu/memory scaling, replica scaling,
     * task and data offloading, network QoS and no_action to the step below. node_overload is a workflow of
     * its own (taintNode → selectPodToEvict → evictPod → timer → untaintNode) and is refused here.
     */
    async applyRemediation(input: RemediationInput): Promise<ActionResult> {
      const req = parse(remediationInputSchema, input, 'applyRemediation input');
      const common = {
        namespace: req.namespace,
        pod: req.pod,
        ...(req.dryRun === undefined ? {} : { dryRun: req.dryRun }),
        ...(req.operationId ? { operationId: req.operationId } : {}),
      };
      switch (req.policy) {
        case 'cpu_scale_up':
        case 'cpu_scale_down':
        case 'memory_scale_up':
        case 'memory_scale_down':
          return scaleResources({
            ...common,
            policy: req.policy,
            factor: req.magnitude,
            ...(req.container ? { container: req.container } : {}),
          });
        case 'replica_scale_up':
        case 'replica_scale_down':
          return scaleReplicas({ ...common, policy: req.policy, factor: req.magnitude });
        case 'task_offloading':
          return offloadTask({
            ...common,
            magnitude: req.magnitude,
            ...(req.tier ? { tier: req.tier } : {}),
            ...(req.maxLoad === undefined ? {} : { maxLoad: req.maxLoad }),
          });
        case 'data_offloading':
          return requestDataOffload({ ...common, share: req.magnitude });
        case 'network_qos':
          return setNetworkQos({ ...common, share: req.magnitude });
        case 'no_action':
          return run(async () => actuator.noAction(operationContext(common)));
        case 'node_overload':
          throw ApplicationFailure.create({
            message:
              'node_overload is a workflow of its own: taintNode, selectPodToEvict, evictPod, a timer, untaintNode',
            type: 'InvalidInput',
            nonRetryable: true,
          });
      }
    },

    /** cpu/memory ×factor on the pod's containers, applied according to its owner (see KubeActuator). */
    scaleResources,

    /** Rule 1: replicas of the pod's Deployment/StatefulSet (or the named workload) ×factor within bounds. */
    scaleReplicas,

    /** Moves the pod's workload to the least-loaded eligible node of the wanted tier. */
    offloadTask,

    /** Annotates the pod so a data-offload workflow moves `share` of its data. */
    requestDataOffload,

    /** Sets the pod's Kube-OVN ingress/egress rate annotations. */
    setNetworkQos,

    /** Rule 2, step 1: Talon's NoSchedule taint on the node (once). */
    async taintNode(input: TaintNodeInput): Promise<ActionResult> {
      const req = parse(taintSchema, input, 'taintNode input');
      return run(() =>
        actuator.taintNode(
          {
            node: req.node,
            ...(req.key ? { key: req.key } : {}),
            ...(req.value ? { value: req.value } : {}),
            ...(req.effect ? { effect: req.effect } : {}),
          },
          operationContext(req),
        ),
      );
    },

    /** Rule 2, last step: removes Talon's taint (never refused by the write budget). */
    async untaintNode(input: TaintNodeInput): Promise<ActionResult> {
      const req = parse(taintSchema, input, 'untaintNode input');
      return run(() =>
        actuator.untaintNode(
          { node: req.node, ...(req.key ? { key: req.key } : {}), ...(req.effect ? { effect: req.effect } : {}) },
          operationContext(req),
        ),
      );
    },

    /** Rule 2: the heaviest evictable pod on the node (by usage when known, else CPU requests), or null. */
    async selectPodToEvict(input: SelectPodToEvictInput): Promise<EvictionCandidate | null> {
      const req = parse(selectEvictSchema, input, 'selectPodToEvict input');
      return run(async () => {
        const usage = deps.podUsage ? await deps.podUsage(req.node) : undefined;
        return (await actuator.selectPodToEvict(req.node, usage)) ?? null;
      });
    },

    /** Rule 2, step 2: evicts through the Eviction API; a PodDisruptionBudget block is `outcome: 'blocked'`. */
    async evictPod(input: EvictPodInput): Promise<EvictionResult> {
      const req = parse(evictSchema, input, 'evictPod input');
      return run(() =>
        actuator.evictPod(
          { namespace: req.namespace, pod: req.pod, ...(req.uid ? { uid: req.uid } : {}) },
          operationContext(req),
        ),
      );
    },

    /** Waits until an action's expectation is observed; `verified: false` carries what was seen instead. */
    async verifyAction(input: VerifyActionInput): Promise<VerificationResult> {
      const req = parse(verifySchema, input, 'verifyAction input');
      const ctx = activityContext();
      const sleep = (ms: number) =>
        new Promise<void>((resolve, reject) => {
          const signal = ctx?.cancellationSignal;
          if (signal?.aborted) {
            reject(signal.reason as Error);
            return;
          }
          const timer = setTimeout(resolve, ms);
          signal?.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              reject(signal.reason as Error);
            },
            { once: true },
          );
        });
      return run(() =>
        verifyExpectation(clients, req.expect, {
          timeoutMs: req.timeoutMs ?? deps.verifyTimeoutMs ?? 120_000,
          heartbeat: (observed) => ctx?.heartbeat(observed),
          sleep,
        }),
      );
    },
  };
}

export type KubeActivities = ReturnType<typeof createKubeActivities>;
