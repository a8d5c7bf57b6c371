/**
 * The TALON documents' Rule 2 for an overloaded node: taint it NoSchedule, evict its heaviest pod, wait,
 * untaint. The untaint runs exactly once even if a worker dies during the wait or the workflow is
 * cancelled: the wait is a durable timer and the untaint sits in a non-cancellable scope.
 */
import {
  CancellationScope,
  condition,
  proxyActivities,
  setHandler,
  workflowInfo,
  proxySinks,
} from '@temporalio/workflow';
import type { RemediationActivities } from '../activities/remediation';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';
import {
  alertFiredSignal,
  alertResolvedSignal,
  cancelSignal,
  stateQuery,
  type AttemptRecord,
  type RemediationOutcome,
  type RemediationState,
  type RemediationStep,
} from '../src/contracts/alert-episode';
import { WORKFLOW_TYPES, type TalonMetricsSink } from '../src/contracts/common';
import {
  DEFAULT_NODE_OVERLOAD_SETTINGS,
  type NodeOverloadInput,
  type NodeOverloadResult,
  type NodeOverloadSettings,
} from '../src/contracts/node-overload';
import { alertKey } from '../src/domain/alert';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../src/contracts/search-attributes';

const { talonMetrics } = proxySinks<TalonMetricsSink>();
const TYPE = WORKFLOW_TYPES.nodeOverload;

const kube = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '1m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
});

export async function nodeOverload(input: NodeOverloadInput): Promise<NodeOverloadResult> {
  const { alert } = input;
  const settings: NodeOverloadSettings = { ...DEFAULT_NODE_OVERLOAD_SETTINGS, ...input.settings };
  if (alert.target.kind !== 'node') throw new Error('nodeOverload handles node alerts');
  const node = alert.target.node;
  const info = workflowInfo();
  const operation = (what: string): string => `${info.workflowId}/${info.runId}/${what}`;
  let step: RemediationStep = 'starting';
  let firing = alert.status === 'firing';
  let notifications = 0;
  let cancelled = false;
  let outcome: RemediationOutcome | undefined = undefined;
  const attempts: AttemptRecord[] = [];

  talonMetrics.workflowStarted(TYPE);
  setHandler(alertFiredSignal, () => {
    notifications += 1;
    if (notifications > 1) talonMetrics.alertDeduplicated(TYPE);
    firing = true;
  });
  setHandler(alertResolvedSignal, () => {
    firing = false;
  });
  setHandler(cancelSignal, () => {
    cancelled = true;
  });
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: info.workflowId,
    alert,
    step,
    firing,
    notifications,
    attempts: [...attempts],
    ...(outcome ? { outcome } : {}),
  }));
  upsertTalonSearchAttributes(
    { key: SEARCH_ATTRIBUTES.TalonAlertName, value: alertKey(alert.alertName) },
    { key: SEARCH_ATTRIBUTES.TalonTarget, value: `node/${node}` },
    { key: SEARCH_ATTRIBUTES.TalonKind, value: 'node' },
    { key: SEARCH_ATTRIBUTES.TalonPolicy, value: ['node_overload'] },
  );

  let evicted: string | undefined;
  let reason: string;
  step = 'apply';
  const taint = await kube.taintNode.executeWithOptions(
    { startToCloseTimeout: '1m', summary: `taint ${node} NoSchedule (talon.io/overloaded)` },
    [{ node, operationId: operation('taint'), dryRun: settings.dryRun }],
  );
  attempts.push({
    attempt: 1,
    policy: 'node_overload',
    magnitude: 1,
    summary: taint.summary,
    applied: taint.applied || taint.alreadyApplied,
  });
  try {
    const victim = await kube.heaviestPod.executeWithOptions(
      { startToCloseTimeout: '1m', summary: `find the heaviest pod on ${node}` },
      [{ node }],
    );
    if (!victim) {
      reason = `no evictable pod on ${node}`;
    } else {
      const name = `${victim.namespace}/${victim.pod}`;
      const eviction = await kube.evictPod.executeWithOptions(
        {
          startToCloseTimeout: '1m',
          summary: `evict ${name} (${victim.cpuCores.toFixed(2)} cores by ${victim.basis}) from ${node}`,
        },
        [
          {
            namespace: victim.namespace,
            pod: victim.pod,
            uid: victim.uid,
            operationId: operation('evict'),
            dryRun: settings.dryRun,
          },
        ],
      );
      attempts.push({
        attempt: 1,
        policy: 'node_overload',
        magnitude: 1,
        summary: eviction.summary,
        applied: eviction.outcome === 'evicted',
        detail: eviction.blockedBy ?? eviction.outcome,
      });
      if (eviction.outcome === 'blocked')
        reason = `eviction of ${name} blocked: ${eviction.blockedBy ?? 'PodDisruptionBudget'}`;
      else {
        evicted = name;
        reason = `${eviction.outcome === 'dry-run' ? 'would evict' : 'evicted'} ${name}`;
      }
    }
    step = 'cooldown';
    // A durable timer: a worker restart during the wait resumes it, it does not restart it.
    await condition(() => cancelled, settings.untaintAfterSeconds * 1000, {
      summary: `keep ${node} tainted ${settings.untaintAfterSeconds}s so the evicted work lands elsewhere`,
    });
  } finally {
    await CancellationScope.nonCancellable(async () => {
      step = 'verify';
      const untaint = await kube.untaintNode.executeWithOptions(
        { startToCloseTimeout: '1m', summary: `untaint ${node}` },
        [{ node, operationId: operation('untaint'), dryRun: settings.dryRun }],
      );
      attempts.push({
        attempt: 1,
        policy: 'node_overload',
        magnitude: 1,
        summary: untaint.summary,
        applied: untaint.applied || untaint.alreadyApplied,
      });
    });
  }
  outcome = cancelled ? 'cancelled' : evicted || !firing ? 'resolved' : 'needs_human';
  step = 'done';
  upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonOutcome, value: outcome });
  talonMetrics.workflowFinished(TYPE, outcome);
  return { outcome, node, ...(evicted ? { evicted } : {}), reason };
}
