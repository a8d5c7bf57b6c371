/** The node-overload workflow's activity proxies with their timeouts and retries, its metrics sink, its patch. */
import { proxyActivities, proxySinks } from '@temporalio/workflow';
import type { MetricsActivities } from '../../activities/metrics';
import type { RemediationActivities } from '../../activities/remediation';
import type { TargetActivities } from '../../activities/target';
import { NON_RETRYABLE_FAILURE_TYPES } from '../../src/contracts/failures';
import { WORKFLOW_TYPES, type TalonMetricsSink } from '../../src/contracts/common';

export const { talonMetrics } = proxySinks<TalonMetricsSink>();
export const TYPE = WORKFLOW_TYPES.nodeOverload;

export const kube = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '1m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
});
/** Usage reads: a few quick tries, then the check counts as unread (the next check tries again). */
export const metrics = proxyActivities<MetricsActivities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
});
export const target = proxyActivities<TargetActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 5, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
});

/** Judged by effect (issue 14, gap 7); histories from before it evict once and end resolved. */
export const NODE_VERIFY_PATCH = 'talon-node-verify-v1';
