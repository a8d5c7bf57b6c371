/**
 * The remediation's activity proxies with their timeouts and retries, its metrics sink, and the names of the
 * patches that decide which shape a run takes (histories recorded before a patch replay without it).
 */
import {
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { MetricsActivities } from '../../activities/metrics';
import type { PolicyActivities } from '../../activities/policy';
import type { RemediationActivities } from '../../activities/remediation';
import type { TargetActivities } from '../../activities/target';
import { WORKFLOW_TYPES, type TalonMetricsSink } from '../../src/contracts/common';
import { PERMANENT } from '../activity-failures';

export const { talonMetrics } = proxySinks<TalonMetricsSink>();
export const TYPE = WORKFLOW_TYPES.remediateAlert;

const quick: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 3,
    nonRetryableErrorTypes: PERMANENT,
  },
};
export const metrics = proxyActivities<MetricsActivities>(quick);
export const policy = proxyActivities<PolicyActivities>({ ...quick, startToCloseTimeout: '10s' });
export const target = proxyActivities<TargetActivities>({
  ...quick,
  retry: { ...quick.retry, maximumAttempts: 10 },
});
/**
 * The reads before a change (target, metrics window, policy) and the bookkeeping around it (history profile,
 * outcome record) run as local activities in the workflow task itself: one task and no activity dispatch
 * instead of a Temporal round trip per step, which is most of the time between an alert and the change.
 * All of them are reads or idempotent writes, so re-running one after a crash (an unrecorded local activity
 * runs again when the task is retried) is harmless. Changes to the cluster stay ordinary activities.
 */
export const LOCAL_READS_PATCH = 'talon-local-reads-v1';
/**
 * Escalation memory (issue 14, gap 5): after an episode the workload's remediation keeps watching for a re-fire
 * while anything is remembered, continues with the next-best untried policy, and refuses growth past the cap.
 * Histories from before it end with their first episode.
 */
export const TARGET_MEMORY_PATCH = 'talon-target-memory-v1';
/**
 * Rollback (issue 14, gap 6): a change whose verification failed, or after whose cool-down the alert's signal is
 * worse than before it, is restored to its pre-change snapshot before the next policy. Histories from before it
 * move on without undoing anything.
 */
export const ROLLBACK_PATCH = 'talon-rollback-v1';
/** A watching remediation continues as new past this many events (each episode adds some tens). */
export const MAX_WATCH_HISTORY_EVENTS = 5_000;
const inTask: LocalActivityOptions = {
  startToCloseTimeout: quick.startToCloseTimeout!,
  retry: quick.retry!,
  // Longer backoffs become durable timers rather than sleeps inside the task.
  localRetryThreshold: '5s',
};
export const localMetrics = proxyLocalActivities<MetricsActivities>(inTask);
export const localPolicy = proxyLocalActivities<PolicyActivities>({ ...inTask, startToCloseTimeout: '10s' });
export const localTarget = proxyLocalActivities<TargetActivities>({
  ...inTask,
  retry: { ...inTask.retry, maximumAttempts: 10 },
});
export const kube = proxyActivities<RemediationActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 8,
    nonRetryableErrorTypes: PERMANENT,
  },
});
