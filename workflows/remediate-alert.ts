/**
 * One alert episode, from first notification to outcome: gather → infer → guard → apply → verify →
 * cool-down, escalating to the next-best policy while the alert keeps firing, up to a bounded number
 * of attempts, then `needs_human`. Deterministic: the world is touched only by activities, time only
 * through workflow timers, so a worker or server restart at any point loses nothing.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type LocalActivityOptions,
  proxySinks,
} from '@temporalio/workflow';
import type { MetricsActivities } from '../activities/metrics';
import type { PolicyActivities } from '../activities/policy';
import type { RemediationActivities } from '../activities/remediation';
import type { TargetActivities } from '../activities/target';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';
import { describeTarget, type TalonAlert } from '../src/domain/alert';
import { cooldownFor, type CooldownDecision } from '../src/domain/cooldown';
import { chooseCandidate, policiesFromAlert } from '../src/domain/escalation';
import type { PolicyDecision, RankedPolicy } from '../src/domain/policy';
import { workloadOf } from '../src/domain/window';
import {
  DEFAULT_REMEDIATION_SETTINGS,
  type ApplyPolicyResult,
  type PodTarget,
  type RemediationSettings,
} from '../src/domain/remediation';
import {
  alertFiredSignal,
  alertResolvedSignal,
  approveUpdate,
  cancelSignal,
  rejectUpdate,
  stateQuery,
  type ApprovalInput,
  type AttemptRecord,
  type RemediationOutcome,
  type RemediationState,
  type RemediationStep,
  type TalonMetricsSink,
} from '../src/shared/definitions';

const { talonMetrics } = proxySinks<TalonMetricsSink>();
export interface RemediateAlertInput {
  readonly alert: TalonAlert;
  readonly settings?: Partial<RemediationSettings>;
}

export interface RemediateAlertResult {
  readonly outcome: RemediationOutcome;
  readonly target: string;
  readonly attempts: readonly AttemptRecord[];
  readonly notifications: number;
  readonly reason: string;
}

/** Permanent failures: retrying cannot help, the workflow moves on to the next policy or a human. */
const PERMANENT: string[] = [...NON_RETRYABLE_FAILURE_TYPES];

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
const metrics = proxyActivities<MetricsActivities>(quick);
const policy = proxyActivities<PolicyActivities>({ ...quick, startToCloseTimeout: '10s' });
const target = proxyActivities<TargetActivities>({ ...quick, retry: { ...quick.retry, maximumAttempts: 10 } });
/**
 * The reads before a change (target, metrics window, policy) and the bookkeeping around it (history profile,
 * outcome record) run as local activities in the workflow task itself: one task and no activity dispatch
 * instead of a Temporal round trip per step, which is most of the time between an alert and the change.
 * All of them are reads or idempotent writes, so re-running one after a crash (an unrecorded local activity
 * runs again when the task is retried) is harmless. Changes to the cluster stay ordinary activities.
 */
const LOCAL_READS_PATCH = 'talon-local-reads-v1';
const inTask: LocalActivityOptions = {
  startToCloseTimeout: quick.startToCloseTimeout!,
  retry: quick.retry!,
  // Longer backoffs become durable timers rather than sleeps inside the task.
  localRetryThreshold: '5s',
};
const localMetrics = proxyLocalActivities<MetricsActivities>(inTask);
const localPolicy = proxyLocalActivities<PolicyActivities>({ ...inTask, startToCloseTimeout: '10s' });
const localTarget = proxyLocalActivities<TargetActivities>({
  ...inTask,
  retry: { ...inTask.retry, maximumAttempts: 10 },
});
const kube = proxyActivities<RemediationActivities>({
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

/** The ApplicationFailure type behind an activity failure, if any. */
function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

export async function remediateAlert(input: RemediateAlertInput): Promise<RemediateAlertResult> {
  const { alert } = input;
  const settings: RemediationSettings = { ...DEFAULT_REMEDIATION_SETTINGS, ...input.settings };
  const targetName = describeTarget(alert.target);
  if (alert.target.kind !== 'pod') {
    throw ApplicationFailure.nonRetryable(
      `remediateAlert handles pod alerts; ${targetName} is a node`,
      'InvalidRequest',
    );
  }
  const pod: PodTarget = {
    namespace: alert.target.namespace,
    pod: alert.target.pod,
    ...(alert.target.container ? { container: alert.target.container } : {}),
  };

  let step: RemediationStep = 'starting';
  let firing = alert.status === 'firing';
  let notifications = 0;
  let cancelled: { by: string; reason?: string } | undefined = undefined;
  let approval: { approved: boolean; by: string; comment?: string } | undefined = undefined;
  let awaitingApprovalFor: string | undefined = undefined;
  let lastVerification: string | undefined = undefined;
  let targetSnapshot: unknown = undefined;
  let outcome: RemediationOutcome | undefined = undefined;
  const attempts: AttemptRecord[] = [];

  // Histories recorded before the patch replay with ordinary activities; new runs take the in-task path.
  const readsInTask = patched(LOCAL_READS_PATCH);
  const reads = readsInTask
    ? { target: localTarget, metrics: localMetrics, policy: localPolicy }
    : { target, metrics, policy };

  talonMetrics.workflowStarted('remediateAlert');
  setHandler(alertFiredSignal, () => {
    notifications += 1;
    // signal-with-start delivers the first notification; every later one is a repeat Talon absorbed.
    if (notifications > 1) talonMetrics.alertDeduplicated('remediateAlert');
    firing = true;
  });
  setHandler(alertResolvedSignal, () => {
    firing = false;
  });
  setHandler(cancelSignal, (request) => {
    cancelled = request;
  });
  const decide =
    (approved: boolean) =>
    (request: ApprovalInput): { accepted: boolean; message: string } => {
      approval = { approved, by: request.by, ...(request.comment ? { comment: request.comment } : {}) };
      return {
        accepted: true,
        message: `${approved ? 'approved' : 'rejected'} ${awaitingApprovalFor ?? ''} by ${request.by}`.trim(),
      };
    };
  const approvalValidator = (request: ApprovalInput): void => {
    if (!request.by || request.by.length > 200) throw new Error('approval needs who ("by"), at most 200 characters');
    if (awaitingApprovalFor === undefined) throw new Error('nothing is waiting for approval');
  };
  setHandler(approveUpdate, decide(true), { validator: approvalValidator });
  setHandler(rejectUpdate, decide(false), { validator: approvalValidator });
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: workflowInfo().workflowId,
    alert,
    step,
    firing,
    notifications,
    attempts: [...attempts],
    ...(outcome ? { outcome } : {}),
    ...(lastVerification ? { lastVerification } : {}),
    ...(targetSnapshot ? { targetSnapshot } : {}),
    ...(awaitingApprovalFor ? { awaitingApprovalFor } : {}),
  }));

  upsertSearchAttributes({
    TalonAlertName: [alert.alertName],
    TalonTarget: [targetName],
    TalonNamespace: [pod.namespace],
    TalonKind: ['pod'],
  });

  const tried = new Set<string>();
  let reason = '';
  let workload: string | undefined;

  for (let attempt = 1; attempt <= settings.maxAttempts; attempt++) {
    if (cancelled) break;
    if (!firing) {
      outcome = 'resolved';
      reason = attempt === 1 ? 'resolved before any change' : `resolved after ${attempts.at(-1)?.policy ?? 'waiting'}`;
      break;
    }

    step = 'gather';
    const snapshot = await reads.target.readTarget
      .executeWithOptions({ summary: `read ${targetName}: owner, node, requests and limits` }, [
        { namespace: pod.namespace, pod: pod.pod },
      ])
      .catch((err: unknown) => {
        if (failureType(err) === 'TargetNotFound') return undefined;
        throw err;
      });
    if (!snapshot) {
      // The pod is gone (replaced by a rollout, or deleted): this episode has nothing left to act on.
      outcome = attempts.some((a) => a.applied) ? 'resolved' : 'needs_human';
      reason = `pod ${pod.namespace}/${pod.pod} no longer exists`;
      break;
    }
    targetSnapshot = snapshot;
    // The Deployment/StatefulSet name, not the ReplicaSet's, so history survives rollouts.
    workload = workloadOf({ pod: pod.pod });
    const gathered = await reads.metrics.gatherWindow
      .executeWithOptions({ summary: `gather the 10-step metrics window of ${targetName}` }, [
        {
          target: { ...pod, workload, ...(snapshot.node ? { node: snapshot.node } : {}) },
          withHistory: true,
        },
      ])
      .catch((err: unknown) => ({ kind: 'error' as const, message: failureMessage(err) }));

    step = 'infer';
    let decision: PolicyDecision;
    if (gathered.kind === 'window') {
      decision = await reads.policy.decidePolicy
        .executeWithOptions({ summary: `rank policies for ${targetName} (model, rules as fallback)` }, [gathered])
        .catch((err: unknown): PolicyDecision => ({
          source: 'rules',
          ranked: policiesFromAlert(alert),
          fallbackReason: failureMessage(err),
        }));
    } else {
      const why =
        gathered.kind === 'error' ? `metrics unavailable: ${gathered.message}` : `too little data: ${gathered.reason}`;
      decision = { source: 'rules', ranked: policiesFromAlert(alert), fallbackReason: why };
    }
    const chosen = chooseCandidate(decision, alert, tried);
    if (!chosen) {
      outcome = 'needs_human';
      reason = `no untried policy left after ${[...tried].join(', ') || 'none'}`;
      break;
    }
    const candidate = chosen.candidate;
    const previous = attempts.at(-1);
    if (previous) talonMetrics.escalated(previous.policy, candidate.policy);
    tried.add(candidate.policy);
    upsertSearchAttributes({ TalonPolicy: [...tried] });
    const label = `${candidate.policy} ×${candidate.magnitude} on ${targetName}`;
    const record = (fields: Pick<AttemptRecord, 'summary' | 'applied'> & Partial<AttemptRecord>): void => {
      attempts.push({
        attempt,
        policy: candidate.policy,
        magnitude: candidate.magnitude,
        source: decision.source,
        ...(decision.fallbackReason ? { fallbackReason: decision.fallbackReason } : {}),
        ...fields,
      });
    };

    step = 'guard';
    if (settings.requireApproval.includes(candidate.policy)) {
      step = 'awaiting_approval';
      awaitingApprovalFor = label;
      approval = undefined;
      const answered = await condition(
        () => approval !== undefined || cancelled !== undefined || !firing,
        settings.approvalTimeoutSeconds * 1000,
        { summary: `wait up to ${settings.approvalTimeoutSeconds}s for approval of ${label}` },
      );
      awaitingApprovalFor = undefined;
      if (cancelled || !firing) continue;
      const answer = approval as { approved: boolean; by: string } | undefined;
      if (!answered || !answer) {
        outcome = 'needs_human';
        reason = `approval of ${label} timed out after ${settings.approvalTimeoutSeconds}s`;
        record({ summary: label, applied: false, detail: reason });
        break;
      }
      if (!answer.approved) {
        outcome = 'rejected';
        reason = `${label} rejected by ${answer.by}`;
        record({ summary: label, applied: false, detail: reason });
        break;
      }
    }

    step = 'apply';
    let applied: ApplyPolicyResult;
    try {
      applied = await kube.applyPolicy.executeWithOptions(
        {
          startToCloseTimeout: '5m',
          heartbeatTimeout: '30s',
          summary: `${settings.dryRun ? 'dry-run ' : ''}${label} (${decision.source}${decision.fallbackReason ? ': ' + decision.fallbackReason : ''})`,
          retry: {
            initialInterval: '2s',
            backoffCoefficient: 2,
            maximumInterval: '30s',
            maximumAttempts: 8,
            nonRetryableErrorTypes: PERMANENT,
          },
        },
        [
          {
            target: pod,
            policy: candidate.policy,
            magnitude: candidate.magnitude,
            operationId: `${workflowInfo().workflowId}/${workflowInfo().runId}/${attempt}`,
            dryRun: settings.dryRun,
          },
        ],
      );
    } catch (err) {
      const type = failureType(err);
      if (type && PERMANENT.includes(type)) {
        record({ summary: label, applied: false, detail: `${type}: ${failureMessage(err)}` });
        continue;
      }
      throw err;
    }

    step = 'verify';
    const verified = applied.dryRun
      ? { ok: true, observed: 'dry run: nothing to verify' }
      : await kube.verifyPolicy.executeWithOptions(
          {
            startToCloseTimeout: '5m',
            heartbeatTimeout: '30s',
            summary: `verify ${applied.summary}`,
            retry: { initialInterval: '2s', maximumAttempts: 3, nonRetryableErrorTypes: PERMANENT },
          },
          [{ applied }],
        );
    lastVerification = verified.observed;
    record({ summary: applied.summary, applied: !applied.dryRun, verified: verified.ok, detail: verified.observed });
    if (!verified.ok) continue;
    if (applied.dryRun) {
      outcome = 'no_action';
      reason = `dry run: ${applied.summary}`;
      break;
    }

    step = 'cooldown';
    const profile = await reads.metrics.workloadProfile
      .executeWithOptions({ summary: `history of ${pod.namespace}/${workload} for the cool-down` }, [
        { namespace: pod.namespace, workload },
      ])
      .catch(() => undefined);
    const cooldown: CooldownDecision = cooldownFor(
      settings.cooldown,
      profile?.remediations.meanResolveSeconds,
      attempt,
    );
    await condition(() => !firing || cancelled !== undefined, cooldown.seconds * 1000, {
      summary: `cool-down after ${applied.summary}: ${cooldown.explanation}`,
    });
  }

  if (!outcome) {
    if (cancelled) {
      outcome = 'cancelled';
      reason = `cancelled by ${(cancelled as { by: string }).by}`;
    } else if (!firing) {
      outcome = 'resolved';
      reason = `resolved after ${attempts.at(-1)?.summary ?? 'waiting'}`;
    } else {
      outcome = 'needs_human';
      reason = `still firing after ${attempts.length} attempt(s): ${attempts.map((a) => a.policy).join(', ')}`;
    }
  }

  step = 'done';
  upsertSearchAttributes({ TalonOutcome: [outcome] });
  talonMetrics.workflowFinished('remediateAlert', outcome);
  const last = attempts.at(-1);
  if (last && workload) {
    const info = workflowInfo();
    await reads.metrics.recordOutcome
      .executeWithOptions({ summary: `record outcome ${outcome} of ${last.policy} in InfluxDB` }, [
        {
          workflowId: info.workflowId,
          namespace: pod.namespace,
          workload,
          pod: pod.pod,
          policy: last.policy as RankedPolicy['policy'],
          magnitude: last.magnitude,
          outcome,
          decisionSource: last.source ?? 'rules',
          attempt: attempts.length,
          at: Math.floor(Date.now() / 1000),
          durationSeconds: Math.round((Date.now() - info.startTime.getTime()) / 1000),
        },
      ])
      .catch(() => undefined);
  }
  return { outcome, target: targetName, attempts, notifications, reason };
}
