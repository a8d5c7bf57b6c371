/**
 * The undo step the remediation workflow calls when a change failed verification or made the alert's signal
 * worse: restores the target to the pre-change snapshot the change recorded (src/kube/actuator/rollback/).
 * Made by {@link createRollbackActivities} from injected clients; the worker registers it beside the
 * remediation group. Idempotent like every write: the rollback's own operation id ties its retries to one
 * restore, and a delete-and-recreate restore checkpoints through heartbeats. Never refused by the write
 * budget (an undo must not be refused for the change it undoes); guards still protect namespaces.
 */
import { z } from 'zod';
import { checkNamespace, guardConfig, type GuardConfigInput } from '../src/domain/guards';
import type { RollbackPolicyInput, RollbackPolicyResult } from '../src/domain/rollback';
import { KubeActuator } from '../src/kube/actuator';
import { ClusterCapabilities } from '../src/kube/capabilities';
import type { KubeClients } from '../src/kube/client';
import type { Expectation } from '../src/kube/types';
import { operationContext } from './context';
import { mapFailures as run } from './failures';
import { parseActivityInput as parse } from './input';

export interface RollbackActivityDeps {
  readonly clients: KubeClients;
  readonly guards?: GuardConfigInput;
  /** Forces in-place resize support on or off instead of discovering it. */
  readonly podResize?: boolean;
  readonly deletionTimeoutMs?: number;
  /** Make-before-break waits of a Deployment's task offload, its release and its undo (see KubeActuator). */
  readonly handoverTimeoutMs?: { readonly offload?: number; readonly release?: number };
}

const rollbackSchema = z.object({
  applied: z
    .object({
      policy: z.string().min(1),
      changes: z.array(z.object({ path: z.string(), from: z.string().optional(), to: z.string().optional() })),
      expectation: z.custom<Expectation>(
        (v) => typeof v === 'object' && v !== null && typeof (v as Expectation).kind === 'string',
        'an expectation with a kind',
      ),
    })
    .loose(),
  appliedOperationId: z.string().min(1).max(256),
  operationId: z.string().min(1).max(256),
  dryRun: z.boolean(),
});

/** The namespace an expectation is in, for the protected-namespace guard (nodes have none). */
function namespaceOf(e: Expectation): string | undefined {
  switch (e.kind) {
    case 'rollout':
    case 'replicas':
    case 'offload':
      return e.workload.namespace;
    case 'pod':
    case 'job':
    case 'annotations':
    case 'evicted':
    case 'io-drop':
    case 'rate-cap':
      return e.namespace;
    default:
      return undefined;
  }
}

export function createRollbackActivities(deps: RollbackActivityDeps) {
  const guards = guardConfig(deps.guards ?? {});
  // No write budget: see the module comment.
  const actuator = new KubeActuator(deps.clients, {
    guards,
    capabilities: new ClusterCapabilities(
      deps.clients,
      deps.podResize === undefined ? {} : { podResize: deps.podResize },
    ),
    ...(deps.deletionTimeoutMs ? { deletionTimeoutMs: deps.deletionTimeoutMs } : {}),
    ...(deps.handoverTimeoutMs ? { handoverTimeoutMs: deps.handoverTimeoutMs } : {}),
  });
  return {
    /** Restores what `appliedOperationId` changed, once; says plainly when it cannot (and writes nothing). */
    async rollbackPolicy(input: RollbackPolicyInput): Promise<RollbackPolicyResult> {
      const req = parse(rollbackSchema, input, 'rollbackPolicy input');
      return run(async () => {
        const expect = req.applied.expectation;
        const namespace = namespaceOf(expect);
        if (namespace) checkNamespace(guards, namespace);
        const result = await actuator.rollback(
          {
            undo: req.appliedOperationId,
            policy: req.applied.policy,
            expect,
            changes: req.applied.changes,
          },
          operationContext(req.operationId, req.dryRun),
        );
        const rolledBack = result.outcome === 'rolled-back' || result.outcome === 'already-rolled-back';
        return {
          rolledBack,
          alreadyRolledBack: result.outcome === 'already-rolled-back',
          summary: result.summary,
          changes: result.changes,
          ...(result.reason ? { reason: result.reason } : {}),
          expectation: result.expect,
        };
      });
    },
  };
}

export type RollbackActivities = ReturnType<typeof createRollbackActivities>;
