/**
 * One alert episode, from first notification to outcome: gather → decide → guard → apply → verify →
 * cool-down, escalating to the next-best policy while the alert keeps firing, up to a bounded number
 * of attempts, then `needs_human`; finally record. Each step is one function below, named as the history's
 * summaries read. Deterministic: the world is touched only by activities, time only through workflow timers,
 * so a worker or server restart at any point loses nothing.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
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
import type { ApplyPolicyResult, PodTarget, VerifyPolicyResult } from '../src/domain/remediation';
import {
  alertFiredSignal,
  alertResolvedSignal,
  cancelSignal,
  stateQuery,
  type AttemptRecord,
  type CancelRequest,
  type RemediationOutcome,
  type RemediationState,
  type RemediationStep,
} from '../src/contracts/alert-episode';
import { WORKFLOW_TYPES, type TalonMetricsSink } from '../src/contracts/common';
import {
  approveUpdate,
  DEFAULT_REMEDIATION_SETTINGS,
  rejectUpdate,
  type ApprovalInput,
  type RemediateAlertInput,
  type RemediateAlertResult,
  type RemediationSettings,
} from '../src/contracts/remediate-alert';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../src/contracts/search-attributes';

const { talonMetrics } = proxySinks<TalonMetricsSink>();
const TYPE = WORKFLOW_TYPES.remediateAlert;

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

/** The reads before a change: local activities, or ordinary ones in histories recorded before the patch. */
interface Reads {
  readonly target: typeof target;
  readonly metrics: typeof metrics;
  readonly policy: typeof policy;
}

/** Everything one episode knows; the handlers write to it and the `state` query reads it. */
interface Episode {
  readonly alert: TalonAlert;
  readonly pod: PodTarget;
  readonly targetName: string;
  readonly settings: RemediationSettings;
  readonly reads: Reads;
  step: RemediationStep;
  firing: boolean;
  notifications: number;
  cancelled?: CancelRequest;
  approval?: { approved: boolean; by: string; comment?: string };
  awaitingApprovalFor?: string;
  lastVerification?: string;
  targetSnapshot?: unknown;
  outcome?: RemediationOutcome;
  /** The Deployment/StatefulSet name, not the ReplicaSet's, so history survives rollouts. */
  workload?: string;
  readonly attempts: AttemptRecord[];
  /** Policies already chosen in this episode (the search attribute lists them). */
  readonly tried: Set<string>;
}

/** How an episode ends, and why in one line. */
interface Verdict {
  readonly outcome: RemediationOutcome;
  readonly reason: string;
}

/** The policy one attempt tries, who chose it, and its one-line label. */
interface Attempt {
  readonly number: number;
  readonly decision: PolicyDecision;
  readonly candidate: RankedPolicy;
  readonly label: string;
}

type Gathered =
  Awaited<ReturnType<MetricsActivities['gatherWindow']>> | { readonly kind: 'error'; readonly message: string };

export async function remediateAlert(input: RemediateAlertInput): Promise<RemediateAlertResult> {
  const episode = openEpisode(input);
  let verdict: Verdict | undefined;
  for (let attempt = 1; attempt <= episode.settings.maxAttempts && !verdict && !episode.cancelled; attempt++) {
    verdict = episode.firing ? await attemptPolicy(episode, attempt) : resolvedBefore(episode, attempt);
  }
  return record(episode, verdict ?? closingVerdict(episode));
}

/** Checks the alert, picks the reads' shape, answers signals, updates and the query, tags the search attributes. */
function openEpisode(input: RemediateAlertInput): Episode {
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
  // Histories recorded before the patch replay with ordinary activities; new runs take the in-task path.
  const readsInTask = patched(LOCAL_READS_PATCH);
  const reads: Reads = readsInTask
    ? { target: localTarget, metrics: localMetrics, policy: localPolicy }
    : { target, metrics, policy };
  const episode: Episode = {
    alert,
    pod,
    targetName,
    settings,
    reads,
    step: 'starting',
    firing: alert.status === 'firing',
    notifications: 0,
    attempts: [],
    tried: new Set<string>(),
  };

  talonMetrics.workflowStarted(TYPE);
  setHandler(alertFiredSignal, () => {
    episode.notifications += 1;
    // signal-with-start delivers the first notification; every later one is a repeat Talon absorbed.
    if (episode.notifications > 1) talonMetrics.alertDeduplicated(TYPE);
    episode.firing = true;
  });
  setHandler(alertResolvedSignal, () => {
    episode.firing = false;
  });
  setHandler(cancelSignal, (request) => {
    episode.cancelled = request;
  });
  const answer =
    (approved: boolean) =>
    (request: ApprovalInput): { accepted: boolean; message: string } => {
      episode.approval = { approved, by: request.by, ...(request.comment ? { comment: request.comment } : {}) };
      return {
        accepted: true,
        message: `${approved ? 'approved' : 'rejected'} ${episode.awaitingApprovalFor ?? ''} by ${request.by}`.trim(),
      };
    };
  const approvalValidator = (request: ApprovalInput): void => {
    if (!request.by || request.by.length > 200) throw new Error('approval needs who ("by"), at most 200 characters');
    if (episode.awaitingApprovalFor === undefined) throw new Error('nothing is waiting for approval');
  };
  setHandler(approveUpdate, answer(true), { validator: approvalValidator });
  setHandler(rejectUpdate, answer(false), { validator: approvalValidator });
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: workflowInfo().workflowId,
    alert,
    step: episode.step,
    firing: episode.firing,
    notifications: episode.notifications,
    attempts: [...episode.attempts],
    ...(episode.outcome ? { outcome: episode.outcome } : {}),
    ...(episode.lastVerification ? { lastVerification: episode.lastVerification } : {}),
    ...(episode.targetSnapshot ? { targetSnapshot: episode.targetSnapshot } : {}),
    ...(episode.awaitingApprovalFor ? { awaitingApprovalFor: episode.awaitingApprovalFor } : {}),
  }));

  upsertTalonSearchAttributes(
    { key: SEARCH_ATTRIBUTES.TalonAlertName, value: alert.alertName },
    { key: SEARCH_ATTRIBUTES.TalonTarget, value: targetName },
    { key: SEARCH_ATTRIBUTES.TalonNamespace, value: pod.namespace },
    { key: SEARCH_ATTRIBUTES.TalonKind, value: 'pod' },
  );
  return episode;
}

/** The alert stopped firing before this attempt. */
function resolvedBefore(episode: Episode, attempt: number): Verdict {
  const reason =
    attempt === 1 ? 'resolved before any change' : `resolved after ${episode.attempts.at(-1)?.policy ?? 'waiting'}`;
  return { outcome: 'resolved', reason };
}

/** One policy, start to end: a verdict ends the episode, undefined moves on to the next attempt. */
async function attemptPolicy(episode: Episode, number: number): Promise<Verdict | undefined> {
  const gathered = await gather(episode);
  if ('outcome' in gathered) return gathered;
  const attempt = await decide(episode, number, gathered);
  if ('outcome' in attempt) return attempt;
  const guarded = await guard(episode, attempt);
  if (guarded === 'skip') return undefined;
  if (guarded !== 'proceed') return guarded;
  const applied = await apply(episode, attempt);
  if (!applied) return undefined;
  const verified = await verify(episode, attempt, applied);
  if (!verified.ok) return undefined;
  if (applied.dryRun) return { outcome: 'no_action', reason: `dry run: ${applied.summary}` };
  await coolDown(episode, number, applied);
  return undefined;
}

/** gather: the pod as it is now (owner, node, requests, limits), then its metrics window. */
async function gather(episode: Episode): Promise<Gathered | Verdict> {
  const { pod, targetName, reads } = episode;
  episode.step = 'gather';
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
    return {
      outcome: episode.attempts.some((a) => a.applied) ? 'resolved' : 'needs_human',
      reason: `pod ${pod.namespace}/${pod.pod} no longer exists`,
    };
  }
  episode.targetSnapshot = snapshot;
  const workload = workloadOf({ pod: pod.pod });
  episode.workload = workload;
  return reads.metrics.gatherWindow
    .executeWithOptions({ summary: `gather the 10-step metrics window of ${targetName}` }, [
      {
        target: { ...pod, workload, ...(snapshot.node ? { node: snapshot.node } : {}) },
        withHistory: true,
      },
    ])
    .catch((err: unknown) => ({ kind: 'error' as const, message: failureMessage(err) }));
}

/** decide: rank the policies (the model, the rules without a usable window) and take the best untried one. */
async function decide(episode: Episode, number: number, gathered: Gathered): Promise<Attempt | Verdict> {
  const { alert, targetName, tried } = episode;
  episode.step = 'infer';
  let decision: PolicyDecision;
  if (gathered.kind === 'window') {
    decision = await episode.reads.policy.decidePolicy
      .executeWithOptions({ summary: `rank policies for ${targetName} (model, rules as fallback)` }, [
        gathered,
        // For the decision log: what chooseCandidate below will read (arguments do not enter replay checks).
        {
          alertName: alert.alertName,
          ...(alert.labels.talon_resource ? { resource: alert.labels.talon_resource } : {}),
          tried: [...tried],
          attempt: number,
        },
      ])
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
    return { outcome: 'needs_human', reason: `no untried policy left after ${[...tried].join(', ') || 'none'}` };
  }
  const candidate = chosen.candidate;
  const previous = episode.attempts.at(-1);
  if (previous) talonMetrics.escalated(previous.policy, candidate.policy);
  tried.add(candidate.policy);
  upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonPolicy, value: [...tried] });
  return { number, decision, candidate, label: `${candidate.policy} ×${candidate.magnitude} on ${targetName}` };
}

/** Appends this attempt to the episode's record (what the query and the result show). */
function noteAttempt(
  episode: Episode,
  attempt: Attempt,
  fields: Pick<AttemptRecord, 'summary' | 'applied'> & Partial<AttemptRecord>,
): void {
  const { decision, candidate } = attempt;
  episode.attempts.push({
    attempt: attempt.number,
    policy: candidate.policy,
    magnitude: candidate.magnitude,
    source: decision.source,
    ...(decision.fallbackReason ? { fallbackReason: decision.fallbackReason } : {}),
    ...fields,
  });
}

/**
 * guard: a policy listed in `requireApproval` waits for an approve/reject update. 'skip' moves on to the next
 * attempt (cancelled or resolved meanwhile); a verdict ends the episode (timed out, rejected).
 */
async function guard(episode: Episode, attempt: Attempt): Promise<'proceed' | 'skip' | Verdict> {
  const { settings } = episode;
  episode.step = 'guard';
  if (!settings.requireApproval.includes(attempt.candidate.policy)) return 'proceed';
  const { label } = attempt;
  episode.step = 'awaiting_approval';
  episode.awaitingApprovalFor = label;
  episode.approval = undefined;
  const answered = await condition(
    () => episode.approval !== undefined || episode.cancelled !== undefined || !episode.firing,
    settings.approvalTimeoutSeconds * 1000,
    { summary: `wait up to ${settings.approvalTimeoutSeconds}s for approval of ${label}` },
  );
  episode.awaitingApprovalFor = undefined;
  if (episode.cancelled || !episode.firing) return 'skip';
  // Set by an update handler during the wait (the compiler still sees the `undefined` written above).
  const answer = episode.approval as Episode['approval'];
  let verdict: Verdict | undefined;
  if (!answered || !answer) {
    verdict = {
      outcome: 'needs_human',
      reason: `approval of ${label} timed out after ${settings.approvalTimeoutSeconds}s`,
    };
  } else if (!answer.approved) {
    verdict = { outcome: 'rejected', reason: `${label} rejected by ${answer.by}` };
  }
  if (!verdict) return 'proceed';
  noteAttempt(episode, attempt, { summary: label, applied: false, detail: verdict.reason });
  return verdict;
}

/** apply: the one Kubernetes change; a permanent failure is noted and the next policy gets its turn (undefined). */
async function apply(episode: Episode, attempt: Attempt): Promise<ApplyPolicyResult | undefined> {
  const { settings } = episode;
  const { decision, candidate, label } = attempt;
  episode.step = 'apply';
  try {
    return await kube.applyPolicy.executeWithOptions(
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
          target: episode.pod,
          policy: candidate.policy,
          magnitude: candidate.magnitude,
          operationId: `${workflowInfo().workflowId}/${workflowInfo().runId}/${attempt.number}`,
          dryRun: settings.dryRun,
        },
      ],
    );
  } catch (err) {
    const type = failureType(err);
    if (type && PERMANENT.includes(type)) {
      noteAttempt(episode, attempt, { summary: label, applied: false, detail: `${type}: ${failureMessage(err)}` });
      return undefined;
    }
    throw err;
  }
}

/** verify: the change took effect (a dry run has nothing to verify); the attempt is noted either way. */
async function verify(episode: Episode, attempt: Attempt, applied: ApplyPolicyResult): Promise<VerifyPolicyResult> {
  episode.step = 'verify';
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
  episode.lastVerification = verified.observed;
  noteAttempt(episode, attempt, {
    summary: applied.summary,
    applied: !applied.dryRun,
    verified: verified.ok,
    detail: verified.observed,
  });
  return verified;
}

/** cool-down: a durable timer, as long as the workload's history suggests; ends early when resolved or cancelled. */
async function coolDown(episode: Episode, number: number, applied: ApplyPolicyResult): Promise<void> {
  const { pod, workload, settings } = episode;
  episode.step = 'cooldown';
  const profile = await episode.reads.metrics.workloadProfile
    .executeWithOptions({ summary: `history of ${pod.namespace}/${workload} for the cool-down` }, [
      { namespace: pod.namespace, workload: workload! },
    ])
    .catch(() => undefined);
  const cooldown: CooldownDecision = cooldownFor(settings.cooldown, profile?.remediations.meanResolveSeconds, number);
  await condition(() => !episode.firing || episode.cancelled !== undefined, cooldown.seconds * 1000, {
    summary: `cool-down after ${applied.summary}: ${cooldown.explanation}`,
  });
}

/** The attempts ran out (or the episode was cancelled) without a verdict. */
function closingVerdict(episode: Episode): Verdict {
  const { cancelled, attempts } = episode;
  if (cancelled) return { outcome: 'cancelled', reason: `cancelled by ${cancelled.by}` };
  if (!episode.firing)
    return { outcome: 'resolved', reason: `resolved after ${attempts.at(-1)?.summary ?? 'waiting'}` };
  return {
    outcome: 'needs_human',
    reason: `still firing after ${attempts.length} attempt(s): ${attempts.map((a) => a.policy).join(', ')}`,
  };
}

/** record: the outcome to the search attributes, the worker's counters and InfluxDB (best effort). */
async function record(episode: Episode, verdict: Verdict): Promise<RemediateAlertResult> {
  const { pod, workload, attempts } = episode;
  const { outcome, reason } = verdict;
  episode.outcome = outcome;
  episode.step = 'done';
  upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonOutcome, value: outcome });
  talonMetrics.workflowFinished(TYPE, outcome);
  const last = attempts.at(-1);
  if (last && workload) {
    const info = workflowInfo();
    await episode.reads.metrics.recordOutcome
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
  return { outcome, target: episode.targetName, attempts, notifications: episode.notifications, reason };
}
