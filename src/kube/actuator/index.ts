/**
 * The actuator: every remediation policy as one idempotent change to the cluster, behind the guards. One
 * facade over modules that each own one kind of change; read one and it goes straight down to the workload
 * helpers, the guards and the write budget:
 *
 *   operation.ts    the operation core: operation records, "already applied", budget, checkpoints, results
 *   recreate.ts     delete–checkpoint–wait–create, shared by every pod and Job that must be recreated
 *   resources.ts    cpu/memory scaling by owner kind (template patch, in-place resize, recreate)
 *   replicas.ts     replica scaling (D3.6 Rule 1)
 *   offload.ts      task offloading to the least-loaded node of a tier (D3.6 Figure 11)
 *   offload-share.ts  a Deployment's share of replicas moved in a pinned ReplicaSet, and its release
 *   annotations.ts  data offloading and network QoS annotations
 *   node.ts         node_overload's taint, eviction candidate, eviction and untaint (D3.6 Rule 2)
 *   rollback/       undoing one operation's change from the snapshot it recorded (issue 14), by target kind
 *   restart.ts      container_restart: replace the pod of a crash-looping or stuck container (PDB-aware)
 *
 * Idempotency: each call carries an operation id (the workflow derives it so that it survives retries). The
 * absolute target of a relative step (×1.5 of what is there now) is computed once and recorded on the changed
 * object in the same write (`talon.io/operation`); a retry finds the record and does not multiply again.
 * Two-step changes record their intent first (in-place resize) or checkpoint the manifest through the caller
 * (delete-and-recreate), so a crash between the steps is finished, not repeated. Writes use the object's
 * resourceVersion as a precondition, so a concurrent change is a 409 (retry), never a lost update. Dry-run
 * mode sends every write with `dryRun=All` and reports what would change.
 */
import type { NodeLoad } from '../../domain/node-load';
import type { KubeClients } from '../client';
import type { ActionResult, EvictionResult } from '../types';
import { requestDataOffload, setNetworkQos } from './annotations';
import { evictPod, selectPodToEvict, taintNode, untaintNode } from './node';
import { offloadTask } from './offload';
import { offloadedCpu, releaseOffload, type ReleaseRequest } from './offload-share';
import { ActuatorCore } from './operation';
import { scaleReplicas } from './replicas';
import type {
  ActuatorOptions,
  DataOffloadRequest,
  EvictionCandidate,
  EvictPodRequest,
  NetworkQosRequest,
  NodeRequest,
  OffloadTaskRequest,
  OperationContext,
  PodUsage,
  ScaleReplicasRequest,
  ScaleResourcesRequest,
} from './requests';
import { scaleResources } from './resources';
import { rollback, type RollbackRequest, type RollbackResult } from './rollback';
import { restartContainer, type RestartRequest } from './restart';

export type * from './requests';
export type { RollbackRequest, RollbackResult } from './rollback';
export type { RestartRequest } from './restart';
export type { ReleaseRequest } from './offload-share';

export class KubeActuator {
  private readonly core: ActuatorCore;

  constructor(clients: KubeClients, options: ActuatorOptions) {
    this.core = new ActuatorCore(clients, options);
  }

  /** cpu/memory × factor on the pod's containers, applied according to its owner. */
  scaleResources(req: ScaleResourcesRequest, ctx: OperationContext): Promise<ActionResult> {
    return scaleResources(this.core, req, ctx);
  }

  /** Rule 1: replicas of the pod's Deployment/StatefulSet × factor within bounds. */
  scaleReplicas(req: ScaleReplicasRequest, ctx: OperationContext): Promise<ActionResult> {
    return scaleReplicas(this.core, req, ctx);
  }

  /** Moves the pod's workload to the least-loaded eligible node of the wanted tier. */
  offloadTask(
    req: OffloadTaskRequest,
    ctx: OperationContext,
    usage: () => Promise<readonly NodeLoad[]>,
  ): Promise<ActionResult> {
    return offloadTask(this.core, req, ctx, usage);
  }

  /** Ends a share offload of a Deployment: its replicas back, the offload ReplicaSet deleted. */
  releaseOffload(req: ReleaseRequest, ctx: OperationContext): Promise<ActionResult> {
    return releaseOffload(this.core, req, ctx);
  }

  /** The CPU an offload's moved pods use now: what its release brings back to the source node. */
  offloadedCpu(namespace: string, replicaSet: string, usageOn?: (node: string) => Promise<readonly PodUsage[]>) {
    return offloadedCpu(this.core, namespace, replicaSet, usageOn);
  }

  /** Annotates the pod so a data-offload workflow moves `share` of its data. */
  requestDataOffload(req: DataOffloadRequest, ctx: OperationContext): Promise<ActionResult> {
    return requestDataOffload(this.core, req, ctx);
  }

  /** Sets the pod's Kube-OVN ingress/egress rate annotations. */
  setNetworkQos(req: NetworkQosRequest, ctx: OperationContext): Promise<ActionResult> {
    return setNetworkQos(this.core, req, ctx);
  }

  /** Replaces the pod of a crash-looping or stuck container (eviction for controllers, recreate otherwise). */
  restartContainer(req: RestartRequest, ctx: OperationContext): Promise<ActionResult> {
    return restartContainer(this.core, req, ctx);
  }

  /** Rule 2, step 1: Talon's NoSchedule taint on the node (once). */
  taintNode(req: NodeRequest, ctx: OperationContext): Promise<ActionResult> {
    return taintNode(this.core, req, ctx);
  }

  /** Rule 2, last step: removes Talon's taint (never refused by the write budget). */
  untaintNode(req: NodeRequest, ctx: OperationContext): Promise<ActionResult> {
    return untaintNode(this.core, req, ctx);
  }

  /** Rule 2: the heaviest evictable pod on the node (by usage when known, else CPU requests). */
  selectPodToEvict(node: string, usage?: readonly PodUsage[]): Promise<EvictionCandidate | undefined> {
    return selectPodToEvict(this.core, node, usage);
  }

  /** Restores what one operation changed to the snapshot it recorded; never twice, never over a later change. */
  rollback(req: RollbackRequest, ctx: OperationContext): Promise<RollbackResult> {
    return rollback(this.core, req, ctx);
  }

  /** Rule 2, step 2: evicts through the Eviction API; a PodDisruptionBudget block is `outcome: 'blocked'`. */
  evictPod(req: EvictPodRequest, ctx: OperationContext): Promise<EvictionResult> {
    return evictPod(this.core, req, ctx);
  }
}
