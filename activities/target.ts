/** Activities that read the remediation target from the Kubernetes API. */
import type { CoreV1Api } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MalformedPodError, readPodSnapshot, type PodSnapshot } from '../src/kube/snapshot';

export interface TargetActivityDeps {
  readonly core: CoreV1Api;
}

export interface PodRef {
  readonly namespace: string;
  readonly pod: string;
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export function createTargetActivities(deps: TargetActivityDeps) {
  return {
    /** The target pod as it is now; a missing pod or a refused read is permanent, anything else retried. */
    async readTarget(ref: PodRef): Promise<PodSnapshot> {
      try {
        return await readPodSnapshot(deps.core, ref.namespace, ref.pod);
      } catch (err) {
        if (err instanceof MalformedPodError) {
          throw ApplicationFailure.nonRetryable(err.message, 'MalformedPod');
        }
        const status = statusOf(err);
        if (status === 404) {
          throw ApplicationFailure.nonRetryable(`pod ${ref.namespace}/${ref.pod} does not exist`, 'TargetNotFound');
        }
        if (status === 401 || status === 403) {
          throw ApplicationFailure.nonRetryable(
            `not allowed to read pod ${ref.namespace}/${ref.pod} (HTTP ${status}): check Talon's RBAC`,
            'Forbidden',
          );
        }
        throw err;
      }
    },
  };
}

export type TargetActivities = ReturnType<typeof createTargetActivities>;
