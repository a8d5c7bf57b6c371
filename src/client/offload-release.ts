/**
 * Starts the release of a task offload (the offloadRelease workflow), once per offload ReplicaSet: a retried
 * apply that asks again finds the workflow running (or done) and starts nothing.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WORKFLOW_TYPES } from '../contracts/common';
import { offloadReleaseWorkflowId, type OffloadReleaseInput } from '../contracts/offload-release';

export interface OffloadReleaseSettings {
  readonly releaseAfterSeconds: number;
  readonly recoveredBelow: number;
  readonly checkEverySeconds: number;
}

export type OffloadReleaseRequest = Omit<OffloadReleaseInput, keyof OffloadReleaseSettings>;

export function offloadReleaseStarter(
  temporal: Client,
  taskQueue: string,
  settings: OffloadReleaseSettings,
): (request: OffloadReleaseRequest) => Promise<void> {
  return async (request) => {
    try {
      await temporal.workflow.start(WORKFLOW_TYPES.offloadRelease, {
        taskQueue,
        workflowId: offloadReleaseWorkflowId(request.namespace, request.replicaSet),
        args: [{ ...request, ...settings } satisfies OffloadReleaseInput],
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
    }
  };
}
