/**
 * Ends one task offload of a Deployment: the moved replicas stay pinned to their node until the source node
 * has recovered (checked every `checkEverySeconds`) or `releaseAfterSeconds` have passed, then go back to the
 * scheduler's spreading, and the release is verified. The wait is a durable timer, so a worker restart loses
 * nothing; the release runs in a non-cancellable scope, so cancelling the workflow releases at once rather
 * than leaving the pin forever.
 */
import { CancellationScope, isCancellation, proxyActivities, sleep } from '@temporalio/workflow';
import type { RemediationActivities } from '../activities/remediation';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';
import type { OffloadReleaseInput, OffloadReleaseResult } from '../src/contracts/offload-release';

const kube = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '1m',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 20,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
});
const verify = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
});

export async function offloadRelease(input: OffloadReleaseInput): Promise<OffloadReleaseResult> {
  const deadline = Date.now() + input.releaseAfterSeconds * 1000;
  let reason: OffloadReleaseResult['reason'] = 'time-limit';
  try {
    while (Date.now() < deadline) {
      const wait = Math.min(input.checkEverySeconds * 1000, deadline - Date.now());
      await sleep(wait);
      if (!input.sourceNode || Date.now() >= deadline) continue;
      const source = await kube.offloadSourceRecovered.executeWithOptions(
        { summary: `has ${input.sourceNode} recovered (CPU busy < ${input.recoveredBelow} with the moved pods back)?` },
        [
          {
            node: input.sourceNode,
            below: input.recoveredBelow,
            returning: { namespace: input.namespace, replicaSet: input.replicaSet },
          },
        ],
      );
      if (source.recovered) {
        reason = 'source-recovered';
        break;
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    reason = 'cancelled';
  }
  return CancellationScope.nonCancellable(async () => {
    const released = await kube.releaseOffload.executeWithOptions(
      { summary: `release offload ${input.replicaSet} of ${input.namespace}/${input.deployment} (${reason})` },
      [
        {
          namespace: input.namespace,
          deployment: input.deployment,
          replicaSet: input.replicaSet,
          moved: input.moved,
          operationId: `${input.operationId}/release`,
        },
      ],
    );
    const verified = await verify.verifyPolicy.executeWithOptions({ summary: `verify ${released.summary}` }, [
      { applied: released },
    ]);
    return { released: true, reason, summary: released.summary, verified: verified.ok, observed: verified.observed };
  });
}
