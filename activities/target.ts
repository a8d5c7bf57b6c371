/** Activities that read the remediation target from the Kubernetes API. */
import type { CoreV1Api } from '@kubernetes/client-node';
import { isNotFound, KubeNotFoundError, kubeCall } from '../src/kube/errors';
import { readPodSnapshot, type PodSnapshot } from '../src/kube/snapshot';
import { mapFailures } from './failures';

export interface TargetActivityDeps {
  readonly core: CoreV1Api;
}

export interface PodRef {
  readonly namespace: string;
  readonly pod: string;
}

export interface NodeRef {
  /** A node name, or an address an alert named it by (node-exporter's `instance`). */
  readonly node: string;
}

export interface ResolvedNode {
  readonly node: string;
  /** How it was found: it is the node's name, or one of its status addresses. */
  readonly matchedBy: 'name' | 'address';
}

export function createTargetActivities(deps: TargetActivityDeps) {
  return {
    /**
     * The node an alert means: itself when a node has that name, else the node one of whose addresses
     * (InternalIP, ExternalIP, Hostname) it is. None is TargetNotFound (permanent).
     */
    async resolveNode(ref: NodeRef): Promise<ResolvedNode> {
      return mapFailures(async () => {
        if (typeof ref?.node !== 'string' || ref.node.length === 0 || ref.node.length > 253) {
          throw new KubeNotFoundError(`resolve node ${JSON.stringify(ref?.node)}`, {}, 'not a node name or address');
        }
        try {
          await kubeCall(`read Node ${ref.node}`, () => deps.core.readNode({ name: ref.node }));
          return { node: ref.node, matchedBy: 'name' };
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        const nodes = await kubeCall('list Nodes', () => deps.core.listNode());
        const match = nodes.items.find((n) => n.status?.addresses?.some((a) => a.address === ref.node));
        if (!match?.metadata?.name) {
          throw new KubeNotFoundError(
            `resolve node ${ref.node}`,
            {},
            `no node is named ${ref.node} or has it as an address`,
          );
        }
        return { node: match.metadata.name, matchedBy: 'address' };
      });
    },

    /**
     * The target pod as it is now. A missing pod (TargetNotFound), a refused read (Forbidden) or a pod that
     * cannot be read as one (MalformedPod) is permanent; an unavailable apiserver is retried.
     */
    async readTarget(ref: PodRef): Promise<PodSnapshot> {
      return mapFailures(() =>
        kubeCall(`read Pod ${ref.namespace}/${ref.pod}`, () => readPodSnapshot(deps.core, ref.namespace, ref.pod)),
      );
    },
  };
}

export type TargetActivities = ReturnType<typeof createTargetActivities>;
