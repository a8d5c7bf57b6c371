/**
 * Rollback: restores what one operation changed to the pre-change snapshot that operation recorded with its
 * change on the `talon.io/operation` record, when verification failed or the change made things worse. Same
 * discipline as every other write: the rollback is an operation of its own, its record travels in the same write
 * as the restore, so a retry (a worker killed mid-rollback) finds it and does not restore twice; a two-step
 * restore (in-place resize, recreate) records its intent or checkpoints first.
 *
 * It undoes only its own change: when another operation (or a person's edit that left a different record, or
 * changed what the change set) changed the object since, nothing is written and the result says why. Never
 * counted against the write budget: an undo must not be refused for the change it undoes. By target kind:
 *
 *   controller.ts   resource scaling of a Deployment/StatefulSet/DaemonSet: the pod template (`previous`)
 *   pod.ts          resource scaling of a standalone pod (in place or recreated) or a Job (recreated)
 *   replicas.ts     replica scaling: `spec.replicas` (`previousReplicas`)
 *   offload.ts      task_offloading: a share offload ended, a pin lifted (`previousPlacement`, `previousReplicas`)
 *   annotations.ts  data_offloading and network_qos: the pod's annotations (`previousAnnotations`)
 *
 * Other policies (and changes recorded before their snapshot existed) answer `not-undoable` with the reason.
 */
import { describeWorkload, type Expectation } from '../../types';
import type { ActuatorCore, ControllerRef } from '../operation';
import type { OperationContext } from '../requests';
import { refused, type RollbackRequest, type RollbackResult } from './common';
import { restoreAnnotations } from './annotations';
import { restoreController } from './controller';
import { undoOffload } from './offload';
import { restoreJob, restorePod } from './pod';
import { restoreReplicas } from './replicas';

export type { RollbackRequest, RollbackResult } from './common';

export async function rollback(
  core: ActuatorCore,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  core.checkOperation(ctx);
  const e = req.expect;
  if (req.policy === 'task_offloading') {
    const undone = await undoOffload(core, req, ctx);
    if (undone) return undone;
  }
  switch (e.kind) {
    case 'rollout':
      if (e.resource && e.targets && e.workload.kind !== 'Job' && e.workload.kind !== 'Pod') {
        const ref = { ...e.workload, kind: e.workload.kind } as ControllerRef;
        return core.retryOnConflict(() => restoreController(core, ref, e.resource!, req, ctx));
      }
      break;
    case 'pod':
      if (e.resource) return restorePod(core, e.namespace, e.pod, e.resource, req, ctx);
      break;
    case 'job':
      if (e.resource) return restoreJob(core, e.namespace, e.job, e.resource, req, ctx);
      break;
    case 'replicas':
      return core.retryOnConflict(() => restoreReplicas(core, e.workload, req, ctx));
    case 'io-drop':
    case 'rate-cap':
      return core.retryOnConflict(() => restoreAnnotations(core, e, req, ctx));
    case 'annotations':
      return core.retryOnConflict(() => restoreAnnotations(core, { namespace: e.namespace, pod: e.pod }, req, ctx));
    default:
      break;
  }
  return refused(core, ctx, describeWhere(e), 'not-undoable', `${req.policy} has no automatic undo`);
}

function describeWhere(e: Expectation): string {
  switch (e.kind) {
    case 'rollout':
    case 'replicas':
    case 'offload':
      return describeWorkload(e.workload);
    case 'pod':
    case 'annotations':
    case 'evicted':
    case 'restarted':
    case 'io-drop':
    case 'rate-cap':
      return `Pod ${e.namespace}/${e.pod}`;
    case 'job':
      return `Job ${e.namespace}/${e.job}`;
    case 'taint':
      return `Node ${e.node}`;
    case 'none':
      return 'nothing';
  }
}
