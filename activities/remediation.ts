/**
 * The actuation steps the remediation workflows call: apply one policy to a pod, verify it took effect, and
 * the node-overload building blocks (taint, pick the heaviest pod, evict, untaint). This is the one activity
 * layer over the Kubernetes actuator, made by {@link createRemediationActivities} from injected clients and
 * options (never the environment); the worker registers it and every Kubernetes test drives it.
 *
 * Each input is validated (a malformed one is a non-retryable InvalidInput). Each step is idempotent: the
 * workflow's operation id ties retries to the first write, and the actuator's checkpoints ride on heartbeats
 * so a retry after a worker crash finishes a delete-and-recreate instead of repeating it. Failures are mapped
 * by activities/failures.ts: permanent ones become non-retryable with a type the workflow matches on.
 */
import { z } from 'zod';
import { GuardRefusedError } from '../src/domain/errors';
import {
  DEFAULT_GUARD_CONFIG,
  DEFAULT_TALON_NAMESPACE,
  guardConfig,
  type GuardConfigInput,
} from '../src/domain/guards';
import type { NodeLoad } from '../src/domain/node-load';
import type { MalfunctionRules } from '../src/domain/workload-context';
import { MAGNITUDE_GUIDE, POLICIES } from '../src/domain/policy';
import type {
  ApplyPolicyInput,
  ApplyPolicyResult,
  OperatorLimits,
  VerifyPolicyResult,
} from '../src/domain/remediation';
import { parseQuantity } from '../src/domain/quantity';
import { KubeActuator, type EvictionCandidate, type PodUsage } from '../src/kube/actuator';
import { LeaseWriteBudget, type WriteBudgetStore } from '../src/kube/budget';
import { ClusterCapabilities } from '../src/kube/capabilities';
import type { KubeClients } from '../src/kube/client';
import type { NodeSource } from '../src/kube/node-cache';
import type { ActionResult, EvictionResult, Expectation } from '../src/kube/types';
import { verifyExpectation } from '../src/kube/verify';
import type { PodRateProbe } from '../src/metrics/effects';
import { activityContext, cancellableSleep, operationContext } from './context';
import { isEffectExpectation, verifyEffect } from './effects';
import { mapFailures as run } from './failures';
import { parseActivityInput as parse } from './input';

export interface RemediationActivityDeps {
  readonly clients: KubeClients;
  /** Guard configuration; defaults protect kube-system, kube-public, kube-node-lease and Talon's namespace. */
  readonly guards?: GuardConfigInput;
  /** The durable write budget; a Lease store in Talon's namespace by default, `false` to disable (tests). */
  readonly budget?: WriteBudgetStore | false;
  /** Forces in-place resize support on or off instead of discovering it. */
  readonly podResize?: boolean;
  /** Candidate nodes for offloading; a started NodeCache in workers, a LIST per decision otherwise. */
  readonly nodeSource?: NodeSource;
  /** Node label carrying the tier (edge/cloud). */
  readonly tierLabel?: string;
  /** Bandwidth a network_qos share of 1.0 allows, in Mbit/s. */
  readonly networkCeilingMbps?: number;
  /** How long a deleted pod or Job may take to disappear before recreation gives up (retryable). */
  readonly deletionTimeoutMs?: number;
  /** Make-before-break waits of a Deployment's task offload, its release and its undo (see KubeActuator). */
  readonly handoverTimeoutMs?: { readonly offload?: number; readonly release?: number };
  /** Current node load (Prometheus) for task offloading; see src/metrics/node-usage. */
  readonly nodeUsage: () => Promise<readonly NodeLoad[]>;
  /** Pod CPU usage on a node (Prometheus), to pick the heaviest pod; requests are the fallback. */
  readonly podUsage?: (node: string) => Promise<readonly PodUsage[]>;
  /** How long verification may wait for a rollout or a pod (default 120 s). */
  readonly verifyTimeoutMs?: number;
  /** Wanted tier for task offloading (any tier when absent). */
  readonly offloadTier?: string;
  /**
   * Starts the release of a share offload (the offloadRelease workflow); idempotent per offload. Without it an
   * offload stays until released by hand (tests that drive the activities directly).
   */
  readonly scheduleOffloadRelease?: (request: OffloadReleaseRequest) => Promise<void>;
  /** What counts as a crash-looping or stuck container (the rules' `restart` thresholds). */
  readonly malfunction?: MalfunctionRules;
  /**
   * The pod's own rates (Prometheus), to verify data offloading and network QoS by their effect. Without it
   * those actions cannot be verified and their verification fails (never "verified" by the annotation).
   */
  readonly effects?: {
    readonly probe: PodRateProbe;
    /** Prometheus' scrape interval in seconds (rates need two samples). */
    readonly scrapeSeconds: number;
    /** How long to wait for an effect (TALON_EFFECT_DEADLINE_SECONDS). */
    readonly deadlineSeconds: number;
    /** Data offloading counts when the I/O fell by this fraction of the share (TALON_DATA_OFFLOAD_EFFECT_FRACTION). */
    readonly dataOffloadEffectFraction?: number;
  };
  /** Told the writes counted in a budget's window after each check (the worker's gauges). */
  readonly onBudget?: (scope: string, used: number, max: number) => void;
}

const name = z.string().min(1).max(253);

const budgetSchema = z.object({ maxWrites: z.number().int().min(0), windowSeconds: z.number().positive() });

/** The operator policy's limits as the workflow passes them with a change (src/domain/remediation.ts). */
const limitsSchema = z.object({
  policyVersion: z.string().max(200),
  protectedNamespaces: z.array(z.string().min(1).max(253)),
  writeBudget: budgetSchema,
  clusterWriteBudget: budgetSchema.optional(),
  containerCpuMax: z.string().optional(),
  containerMemoryMax: z.string().optional(),
  replicasMax: z.number().int().positive().optional(),
  maxFactor: z.partialRecord(z.enum(POLICIES), z.number().positive()).optional(),
});

const applySchema = z.object({
  target: z.object({ namespace: name, pod: name, container: name.optional() }),
  policy: z.enum(POLICIES),
  magnitude: z.number().refine(Number.isFinite, 'must be finite'),
  operationId: z.string(),
  dryRun: z.boolean(),
  limits: limitsSchema.optional(),
});

const verifySchema = z.object({
  applied: z
    .object({
      expectation: z.custom<Expectation>(
        (v) => typeof v === 'object' && v !== null && typeof (v as Expectation).kind === 'string',
        'an expectation with a kind',
      ),
    })
    .loose(),
});

const releaseSchema = z.object({
  namespace: name,
  deployment: name,
  replicaSet: name,
  moved: z.number().int().min(0),
  operationId: z.string(),
});
export type ReleaseOffloadInput = z.input<typeof releaseSchema>;

const recoveredSchema = z.object({
  node: name,
  below: z.number().gt(0).max(1),
  // The offload whose pods would come back (absent in histories from before it: the node's share alone decides).
  returning: z.object({ namespace: name, replicaSet: name }).optional(),
});

/** What the offloadRelease workflow is started with (the worker starts it through its Temporal client). */
export interface OffloadReleaseRequest {
  readonly namespace: string;
  readonly deployment: string;
  readonly replicaSet: string;
  readonly moved: number;
  readonly sourceNode?: string;
  readonly operationId: string;
}

const nodeStepSchema = z.object({
  node: name,
  operationId: z.string(),
  dryRun: z.boolean(),
  limits: limitsSchema.optional(),
});
export interface NodeStepInput {
  readonly node: string;
  readonly operationId: string;
  readonly dryRun: boolean;
  readonly limits?: OperatorLimits;
}

const heaviestSchema = z.object({ node: name });

const evictSchema = z.object({
  namespace: name,
  pod: name,
  uid: z.string().min(1),
  operationId: z.string(),
  dryRun: z.boolean(),
  limits: limitsSchema.optional(),
});
export interface EvictPodInput {
  readonly namespace: string;
  readonly pod: string;
  readonly uid: string;
  readonly operationId: string;
  readonly dryRun: boolean;
  readonly limits?: OperatorLimits;
}

function toApplyResult(input: ApplyPolicyInput, result: ActionResult): ApplyPolicyResult {
  return {
    policy: input.policy,
    magnitude: input.magnitude,
    summary: result.summary,
    changes: result.changes,
    noop: !result.applied,
    dryRun: result.dryRun,
    expectation: result.expect,
  };
}

/** The smaller of two Kubernetes quantities. */
function smaller(a: string, b: string): string {
  return parseQuantity(a).cmp(b) <= 0 ? a : b;
}

/**
 * The worker's guards with the operator policy's limits: its protected namespaces added, its write budgets in
 * force, its growth caps narrowing the bounds (never widening them).
 */
export function guardsWithLimits(base: GuardConfigInput, limits: OperatorLimits | undefined): GuardConfigInput {
  if (!limits) return base;
  const full = guardConfig(base);
  const magnitudeBounds = { ...full.magnitudeBounds };
  for (const [policy, cap] of Object.entries(limits.maxFactor ?? {}) as [keyof typeof MAGNITUDE_GUIDE, number][]) {
    const guide = MAGNITUDE_GUIDE[policy];
    const current = magnitudeBounds[policy] ?? { min: guide.min, max: guide.max };
    magnitudeBounds[policy] = { min: current.min, max: Math.min(current.max, cap) };
  }
  return {
    ...base,
    protectedNamespaces: [...new Set([...full.protectedNamespaces, ...limits.protectedNamespaces])],
    magnitudeBounds,
    containerCpu: limits.containerCpuMax
      ? { min: full.containerCpu.min, max: smaller(full.containerCpu.max, limits.containerCpuMax) }
      : full.containerCpu,
    containerMemory: limits.containerMemoryMax
      ? { min: full.containerMemory.min, max: smaller(full.containerMemory.max, limits.containerMemoryMax) }
      : full.containerMemory,
    replicas: {
      min: full.replicas.min,
      max: Math.min(full.replicas.max, limits.replicasMax ?? DEFAULT_GUARD_CONFIG.replicas.max),
    },
    writeBudget: limits.writeBudget,
    ...(limits.clusterWriteBudget ? { clusterWriteBudget: limits.clusterWriteBudget } : {}),
  };
}

/**
 * The actuator as the worker wires it: guards, the Lease write budget in Talon's namespace, resize discovery.
 * One per worker; a change that carries the operator policy's limits gets one with those guards, sharing the
 * budget store, the resize discovery and the node source.
 */
function actuatorFactory(deps: RemediationActivityDeps): (limits?: OperatorLimits) => KubeActuator {
  const { clients } = deps;
  const base = deps.guards ?? {};
  const budget =
    deps.budget === false
      ? undefined
      : (deps.budget ?? new LeaseWriteBudget(clients, { namespace: base.talonNamespace ?? DEFAULT_TALON_NAMESPACE }));
  const capabilities = new ClusterCapabilities(
    clients,
    deps.podResize === undefined ? {} : { podResize: deps.podResize },
  );
  const build = (guards: GuardConfigInput) =>
    new KubeActuator(clients, {
      guards: guardConfig(guards),
      ...(budget ? { budget } : {}),
      ...(deps.onBudget ? { onBudget: deps.onBudget } : {}),
      capabilities,
      ...(deps.tierLabel ? { tierLabel: deps.tierLabel } : {}),
      ...(deps.nodeSource ? { nodeSource: deps.nodeSource } : {}),
      ...(deps.networkCeilingMbps ? { networkCeilingMbps: deps.networkCeilingMbps } : {}),
      ...(deps.deletionTimeoutMs ? { deletionTimeoutMs: deps.deletionTimeoutMs } : {}),
      ...(deps.handoverTimeoutMs ? { handoverTimeoutMs: deps.handoverTimeoutMs } : {}),
      ...(deps.effects
        ? {
            effectDeadlineSeconds: deps.effects.deadlineSeconds,
            ...(deps.effects.dataOffloadEffectFraction
              ? { dataOffloadEffectFraction: deps.effects.dataOffloadEffectFraction }
              : {}),
          }
        : {}),
    });
  const plain = build(base);
  const byVersion = new Map<string, KubeActuator>();
  return (limits) => {
    if (!limits) return plain;
    const key = JSON.stringify(limits);
    let actuator = byVersion.get(key);
    if (!actuator) {
      actuator = build(guardsWithLimits(base, limits));
      if (byVersion.size > 50) byVersion.clear();
      byVersion.set(key, actuator);
    }
    return actuator;
  };
}

export function createRemediationActivities(deps: RemediationActivityDeps) {
  const actuatorWith = actuatorFactory(deps);
  const actuator = actuatorWith();

  async function dispatch(input: ApplyPolicyInput): Promise<ActionResult> {
    const actuator = actuatorWith(input.limits);
    const ctx = operationContext(input.operationId, input.dryRun);
    const { namespace, pod, container } = input.target;
    switch (input.policy) {
      case 'cpu_scale_up':
      case 'cpu_scale_down':
      case 'memory_scale_up':
      case 'memory_scale_down':
        return actuator.scaleResources(
          { policy: input.policy, namespace, pod, factor: input.magnitude, ...(container ? { container } : {}) },
          ctx,
        );
      case 'replica_scale_up':
      case 'replica_scale_down':
        return actuator.scaleReplicas({ policy: input.policy, namespace, pod, factor: input.magnitude }, ctx);
      case 'task_offloading':
        return actuator.offloadTask(
          { namespace, pod, magnitude: input.magnitude, ...(deps.offloadTier ? { tier: deps.offloadTier } : {}) },
          ctx,
          deps.nodeUsage,
        );
      case 'data_offloading':
        return actuator.requestDataOffload({ namespace, pod, share: input.magnitude }, ctx);
      case 'network_qos':
        return actuator.setNetworkQos({ namespace, pod, share: input.magnitude }, ctx);
      case 'container_restart':
        return actuator.restartContainer(
          {
            namespace,
            pod,
            ...(container ? { container } : {}),
            ...(deps.malfunction ? { rules: deps.malfunction } : {}),
          },
          ctx,
        );
      case 'no_action':
      case 'node_overload':
        throw new GuardRefusedError(
          'invalid_request',
          `${input.policy} is not a pod action (range ${MAGNITUDE_GUIDE[input.policy].meaning})`,
        );
    }
  }

  return {
    /** Applies one policy to the pod (or its owner); the same operation id never writes twice. */
    async applyPolicy(input: ApplyPolicyInput): Promise<ApplyPolicyResult> {
      const req: ApplyPolicyInput = parse(applySchema, input, 'applyPolicy input');
      return run(async () => {
        const result = await dispatch(req);
        const e = result.expect;
        // A share offload ends by itself: its release is scheduled here, again on a retry (same workflow id).
        if (e.kind === 'offload' && !result.dryRun && deps.scheduleOffloadRelease) {
          await deps.scheduleOffloadRelease({
            namespace: e.workload.namespace,
            deployment: e.workload.name,
            replicaSet: e.replicaSet,
            moved: e.moved,
            ...(e.sourceNode ? { sourceNode: e.sourceNode } : {}),
            operationId: req.operationId,
          });
        }
        return toApplyResult(req, result);
      });
    },

    /** Ends a share offload: the Deployment's replicas back, the pinned offload ReplicaSet deleted. */
    async releaseOffload(input: ReleaseOffloadInput): Promise<ApplyPolicyResult> {
      const req = parse(releaseSchema, input, 'releaseOffload input');
      return run(async () => {
        const result = await actuator.releaseOffload(
          { namespace: req.namespace, deployment: req.deployment, replicaSet: req.replicaSet, moved: req.moved },
          operationContext(req.operationId, false),
        );
        return toApplyResult({ policy: 'task_offloading', magnitude: 1 } as ApplyPolicyInput, result);
      });
    },

    /**
     * Whether a node's CPU busy share (Prometheus usage ÷ allocatable) is under `below`, counting the CPU the
     * offload's moved pods use now when `returning` names it: a node is only recovered if it stays under the
     * threshold with that work back (otherwise releasing it would re-overload the node and offload again).
     */
    async offloadSourceRecovered(input: {
      node: string;
      below: number;
      returning?: { namespace: string; replicaSet: string };
    }): Promise<{ recovered: boolean; detail: string }> {
      const req = parse(recoveredSchema, input, 'offloadSourceRecovered input');
      return run(async () => {
        const load = (await deps.nodeUsage()).find((n) => n.node === req.node);
        if (!load || load.cpuCores === undefined || !load.cpuAllocatableCores) {
          return { recovered: false, detail: `no usage known for ${req.node}` };
        }
        const back = req.returning
          ? await actuator.offloadedCpu(req.returning.namespace, req.returning.replicaSet, deps.podUsage)
          : undefined;
        const busy = (load.cpuCores + (back?.cores ?? 0)) / load.cpuAllocatableCores;
        const withBack = back
          ? ` with the ${back.pods} moved pod(s) back (${back.cores.toFixed(2)} cores by ${back.basis})`
          : '';
        return {
          recovered: busy < req.below,
          detail: `${req.node} CPU busy ${busy.toFixed(2)}${withBack} ${busy < req.below ? '<' : '≥'} ${req.below}`,
        };
      });
    },

    /**
     * Waits until the change is visible where it matters (rollout done, pod ready, values applied). The wait
     * heartbeats what it sees and ends as soon as the activity is cancelled.
     */
    async verifyPolicy(input: { applied: ApplyPolicyResult }): Promise<VerifyPolicyResult> {
      const req = parse(verifySchema, input, 'verifyPolicy input');
      const ctx = activityContext();
      const expectation = req.applied.expectation;
      if (isEffectExpectation(expectation)) {
        const effects = deps.effects;
        if (!effects) {
          return { ok: false, observed: `${expectation.kind}: no metrics source configured to see the effect` };
        }
        return run(() =>
          verifyEffect(
            {
              clients: deps.clients,
              probe: effects.probe,
              scrapeSeconds: effects.scrapeSeconds,
              deadlineSeconds: effects.deadlineSeconds,
              heartbeat: (observed) => ctx?.heartbeat(observed),
              sleep: (ms) => cancellableSleep(ms, ctx?.cancellationSignal),
            },
            expectation,
          ),
        );
      }
      return run(async () => {
        const result = await verifyExpectation(deps.clients, req.applied.expectation, {
          timeoutMs: deps.verifyTimeoutMs ?? 120_000,
          heartbeat: (observed) => ctx?.heartbeat(observed),
          sleep: (ms) => cancellableSleep(ms, ctx?.cancellationSignal),
        });
        return { ok: result.verified, observed: result.detail };
      });
    },

    /** Rule 2, step 1: Talon's NoSchedule taint on the node (once). */
    async taintNode(input: NodeStepInput): Promise<ActionResult> {
      const req = parse(nodeStepSchema, input, 'taintNode input');
      return run(() =>
        actuatorWith(req.limits).taintNode({ node: req.node }, operationContext(req.operationId, req.dryRun)),
      );
    },

    /** Rule 2, last step: removes Talon's taint (never refused by the write budget). */
    async untaintNode(input: NodeStepInput): Promise<ActionResult> {
      const req = parse(nodeStepSchema, input, 'untaintNode input');
      return run(() =>
        actuatorWith(req.limits).untaintNode({ node: req.node }, operationContext(req.operationId, req.dryRun)),
      );
    },

    /**
     * The pod using the most CPU on the node (Prometheus), or requesting the most when usage is unknown. An
     * overloaded node should not wait for Prometheus: when usage cannot be read, requests decide (and the
     * candidate says so in `basis`).
     */
    async heaviestPod(input: { node: string }): Promise<EvictionCandidate | null> {
      const req = parse(heaviestSchema, input, 'heaviestPod input');
      return run(async () => {
        const usage = deps.podUsage
          ? await deps.podUsage(req.node).catch((err: unknown) => {
              activityContext()?.log.warn('pod usage unavailable; choosing by CPU requests', {
                node: req.node,
                error: err instanceof Error ? err.message : String(err),
              });
              return undefined;
            })
          : undefined;
        return (await actuator.selectPodToEvict(req.node, usage)) ?? null;
      });
    },

    /** Evicts through the Eviction API; a PodDisruptionBudget refusal is reported, never forced. */
    async evictPod(input: EvictPodInput): Promise<EvictionResult> {
      const req = parse(evictSchema, input, 'evictPod input');
      return run(() =>
        actuatorWith(req.limits).evictPod(
          { namespace: req.namespace, pod: req.pod, uid: req.uid },
          operationContext(req.operationId, req.dryRun),
        ),
      );
    },
  };
}

export type RemediationActivities = ReturnType<typeof createRemediationActivities>;
