/**
 * The actuation steps the remediation workflows call: apply one policy to a pod, verify it, and the
 * node-overload building blocks. Each is idempotent (an operation id ties retries to the first write)
 * and maps permanent failures to non-retryable ApplicationFailures the workflow can reason about.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { GuardRefusedError, InvalidFactorError, InvalidQuantityError, QuantityRangeError } from '../src/domain/errors';
import type { NodeLoad } from '../src/domain/node-load';
import { MAGNITUDE_GUIDE } from '../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult, VerifyPolicyResult } from '../src/domain/remediation';
import type { KubeActuator, OperationContext } from '../src/kube/actions';
import type { KubeClients } from '../src/kube/client';
import {
  KubeForbiddenError,
  KubeInvalidError,
  KubeNotFoundError,
  NoEligibleNodeError,
  UnsupportedTargetError,
} from '../src/kube/errors';
import type { ActionResult, EvictionResult, Expectation } from '../src/kube/types';
import { verifyExpectation } from '../src/kube/verify';
import { operationContext as checkpointedContext, toActivityFailure as kubeActivityFailure } from './kube';

/** Operation id and dry-run from the workflow; checkpoints ride on heartbeats (see activities/kube.ts). */
function operationContext(operationId: string, dryRun: boolean): OperationContext {
  return checkpointedContext({ operationId, dryRun });
}

export interface RemediationActivityDeps {
  readonly actuator: KubeActuator;
  readonly clients: Pick<KubeClients, 'core' | 'apps' | 'batch'>;
  /** Current node load (Prometheus) for task offloading and picking the pod to evict. */
  readonly nodeUsage: () => Promise<readonly NodeLoad[]>;
  /** Pod CPU usage on a node (Prometheus), to pick the heaviest pod; requests are the fallback. */
  readonly podUsage?: (node: string) => Promise<readonly { namespace: string; pod: string; cpuCores: number }[]>;
  /** How long verification may wait for a rollout or a pod. */
  readonly verifyTimeoutMs?: number;
  /** Wanted tier for task offloading when the workflow gives none. */
  readonly offloadTier?: string;
}

/** Permanent failures become non-retryable with a type the workflow matches on; the rest stay retryable. */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof GuardRefusedError) {
    return ApplicationFailure.create({
      message: err.message,
      type: 'GuardRefused',
      nonRetryable: true,
      details: [err.guard],
      cause: err,
    });
  }
  const permanent: [new (...args: never[]) => Error, string][] = [
    [KubeForbiddenError, 'Forbidden'],
    [KubeNotFoundError, 'TargetNotFound'],
    [KubeInvalidError, 'InvalidRequest'],
    [InvalidQuantityError, 'InvalidRequest'],
    [InvalidFactorError, 'InvalidRequest'],
    [QuantityRangeError, 'InvalidRequest'],
    [UnsupportedTargetError, 'UnsupportedTarget'],
    [NoEligibleNodeError, 'NoEligibleNode'],
  ];
  for (const [type, name] of permanent) {
    if (err instanceof type)
      return ApplicationFailure.create({ message: err.message, type: name, nonRetryable: true, cause: err });
  }
  // Conflicts, 5xx, timeouts: retryable, typed so the history says what happened.
  return kubeActivityFailure(err);
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

export function createRemediationActivities(deps: RemediationActivityDeps) {
  const { actuator } = deps;

  async function dispatch(input: ApplyPolicyInput): Promise<ActionResult> {
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
      try {
        return toApplyResult(input, await dispatch(input));
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Waits until the change is visible where it matters (rollout done, pod ready, values applied). */
    async verifyPolicy(input: { applied: ApplyPolicyResult }): Promise<VerifyPolicyResult> {
      try {
        const result = await verifyExpectation(deps.clients, input.applied.expectation as Expectation, {
          timeoutMs: deps.verifyTimeoutMs ?? 120_000,
          heartbeat: (observed) => {
            try {
              Context.current().heartbeat(observed);
            } catch {
              // outside an activity
            }
          },
        });
        return { ok: result.verified, observed: result.detail };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    async taintNode(input: { node: string; operationId: string; dryRun: boolean }): Promise<ActionResult> {
      try {
        return await actuator.taintNode({ node: input.node }, operationContext(input.operationId, input.dryRun));
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    async untaintNode(input: { node: string; operationId: string; dryRun: boolean }): Promise<ActionResult> {
      try {
        return await actuator.untaintNode({ node: input.node }, operationContext(input.operationId, input.dryRun));
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** The pod using the most CPU on the node (Prometheus), or requesting the most when usage is unknown. */
    async heaviestPod(input: {
      node: string;
    }): Promise<{ namespace: string; pod: string; uid: string; cpuCores: number; basis: string } | null> {
      try {
        const usage = deps.podUsage ? await deps.podUsage(input.node).catch(() => undefined) : undefined;
        return (await actuator.selectPodToEvict(input.node, usage)) ?? null;
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Evicts through the Eviction API; a PodDisruptionBudget refusal is reported, never forced. */
    async evictPod(input: {
      namespace: string;
      pod: string;
      uid: string;
      operationId: string;
      dryRun: boolean;
    }): Promise<EvictionResult> {
      try {
        return await actuator.evictPod(
          { namespace: input.namespace, pod: input.pod, uid: input.uid },
          operationContext(input.operationId, input.dryRun),
        );
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}

export type RemediationActivities = ReturnType<typeof createRemediationActivities>;
