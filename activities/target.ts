/** Activities that read the remediation target from the Kubernetes API. */
import type { CoreV1Api } from '@kubernetes/client-node';
import { kubeCall } from '../src/kube/errors';
import { readPodSnapshot, type PodSnapshot } from '../src/kube/snapshot';
import { mapFailures } from './failures';

export interface TargetActivityDeps {
  readonly core: CoreV1Api;
}

export interface PodRef {
  readonly namespace: string;
  readonly pod: string;
}

export function createTargetActivities(deps: TargetActivityDeps) {
  return {
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
