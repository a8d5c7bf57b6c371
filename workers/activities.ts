/** Assembles every activity group from injected clients (activities-dependency-injection pattern). */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { createTargetActivities } from '../activities/target';

export interface ActivityDeps {
  readonly kubeConfig: KubeConfig;
}

export function createActivities(deps: ActivityDeps) {
  const core = deps.kubeConfig.makeApiClient(CoreV1Api);
  return {
    ...createTargetActivities({ core }),
  };
}
