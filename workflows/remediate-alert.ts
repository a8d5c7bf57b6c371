/**
 * One alert episode, from first notification to outcome: gather → decide → guard → apply → verify →
 * cool-down, escalating to the next-best policy while the alert keeps firing, up to a bounded number
 * of attempts, then `needs_human`; finally record. Each step is one function below, named as the history's
 * summaries read. Deterministic: the world is touched only by activities, time only through workflow timers,
 * so a worker or server restart at any point loses nothing.
 */
import {
  ApplicationFailure,
  condition,
  continueAsNew,
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
import { alertKey, alertWorkload, describeTarget, type TalonAlert } from '../src/domain/alert';
import { AlertMembers } from '../src/domain/alert-members';
import { cooldownFor, type CooldownDecision } from '../src/domain/cooldown';
import { chooseCandidate, policiesFromAlert } from '../src/domain/escalation';
import type { PolicyDecision, RankedPolicy } from '../src/domain/policy';
import { EMPTY_MEMORY, growthRefusal, validateMemory, type TargetMemory } from '../src/domain/target-memory';
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
import { failureMessage, failureType, PERMANENT } from './activity-failures';
import { beginEpisode, rememberAttempt, rememberTried, watchForRefire } from './episode-memory';
import { undoChange, undoIfWorse, type AppliedAttempt } from './episode-rollback';
import {
  capMagnitude,
  checkApprover,
  excludedPolicies,
  gate,
  note,
  openOperator,
  operatorLimits,
  policySettings,
  recheckBrake,
  resolveOperator,
  type OperatorState,
} from './operator';

const { talonMetrics } = proxySinks<TalonMetricsSink>();
const TYPE = WORKFLOW_TYPES.remediateAlert;

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
/**
 * Escalation memory (issue 14, gap 5): after an episode the workload's remediation keeps watching for a re-fire
 * while anything is remembered, continues with the next-best untried policy, and refuses growth past the cap.
 * Histories from before it end with their first episode.
 */
const TARGET_MEMORY_PATCH = 'talon-target-memory-v1';
/**
 * Rollback (issue 14, gap 6): a change whose verification failed, or after whose cool-down the alert's signal is
 * worse than before it, is restored to its pre-change snapshot before the next policy. Histories from before it
 * move on without undoing anything.
 */
const ROLLBACK_PATCH = 'talon-rollback-v1';
/** A watching remediation continues as new past this many events (each episode adds some tens). */
const MAX_WATCH_HISTORY_EVENTS = 5_000;
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

/**
 * Stable per attempt so a retried activity recognises its own earlier write; later episodes of one run get their
 * own (`…/e2.1`), the first keeps the shape histories from before escalation memory recorded.
 */
function operationId(episode: { readonly number: number }, attempt: number): string {
  const { workflowId, runId } = workflowInfo();
  return episode.number > 1
    ? `${workflowId}/${runId}/e${episode.number}.${attempt}`
    : `${workflowId}/${runId}/${attempt}`;
}

/** The reads before a change: local activities, or ordinary ones in histories recorded before the patch. */
interface Reads {
  readonly target: typeof target;
  readonly metrics: typeof metrics;
  readonly policy: typeof policy;
}

/** Everything one episode knows; the handlers write to it and the `state` query reads it. */
interface Episode {
  /** The alert that started the workflow (the query shows it). */
  readonly alert: TalonAlert;
  /** Every pod alert of the workload that joined; the episode fires while any of them does. */
  readonly members: AlertMembers;
  /** The alert and pod the current attempt acts on: the newest firing member whose pod exists. */
  current: TalonAlert;
  pod: PodTarget;
  targetName: string;
  /** The input's settings; the policy file's replace them attempt by attempt when there is one. */
  settings: RemediationSettings;
  readonly reads: Reads;
  step: RemediationStep;
  notifications: number;
  cancelled?: CancelRequest;
  /** `identity`: who the client is to Temporal (checked against the policy's approvers); `by`: who they say. */
  approval?: { approved: boolean; by: string; identity?: string; comment?: string };
  awaitingApprovalFor?: string;
  lastVerification?: string;
  targetSnapshot?: unknown;
  outcome?: RemediationOutcome;
  /** The Deployment/StatefulSet name, not the ReplicaSet's, so history survives rollouts (the workflow id's key). */
  readonly workload: string;
  readonly attempts: AttemptRecord[];
  /** Policies already chosen in this episode, or remembered from recent ones (the search attribute lists them). */
  readonly tried: Set<string>;
  /** What the workload's remediation remembers across episodes; undefined in histories from before it. */
  memory?: TargetMemory;
  /** Which episode of the workload this is (1-based). */
  number: number;
  /** Workflow time this episode began, for later episodes of the run (the storm brake settles from there). */
  startedAt?: number;
  /** Workflow time the last episode ended, and until when the remediation watches for a re-fire. */
  endedAt?: number;
  watchingUntil?: number;
  /** Whether a failed or harmful change is undone (false in histories from before rollback). */
  readonly undoing: boolean;
  /** The change the last cool-down judged: what to compare the next window with, and what to undo. */
  lastChange?: AppliedAttempt;
  /** The operator policy (workflows/operator.ts); undefined in histories recorded before it. */
  readonly operator?: OperatorState;
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
  let result = input.carried?.lastResult ?? (await runEpisode(episode));
  if (!episode.memory) return result;
  for (;;) {
    const next = await watchForRefire(episode, input.maxWatchHistoryEvents ?? MAX_WATCH_HISTORY_EVENTS);
    if (next === 'done') return { ...result, episodes: episode.memory.episodes };
    if (next === 'continue') {
      return continueAsNew<typeof remediateAlert>({
        alert: { ...episode.current, status: 'resolved' },
        ...(input.settings ? { settings: input.settings } : {}),
        carried: { memory: episode.memory, lastResult: result },
        ...(input.maxWatchHistoryEvents ? { maxWatchHistoryEvents: input.maxWatchHistoryEvents } : {}),
      });
    }
    beginEpisode(episode);
    result = await runEpisode(episode);
  }
}

/** One episode: attempts until a verdict (or the attempts run out), then the record. */
async function runEpisode(episode: Episode): Promise<RemediateAlertResult> {
  let verdict: Verdict | undefined;
  for (let attempt = 1; attempt <= episode.settings.maxAttempts && !verdict && !episode.cancelled; attempt++) {
    verdict = episode.members.firing ? await attemptPolicy(episode, attempt) : resolvedBefore(episode, attempt);
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
  const remembering = patched(TARGET_MEMORY_PATCH);
  const undoing = patched(ROLLBACK_PATCH) && settings.rollback.enabled;
  const carried = input.carried?.memory;
  if (remembering) {
    try {
      validateMemory(settings.memory);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(failureMessage(err), 'InvalidRequest');
    }
  }
  const reads: Reads = readsInTask
    ? { target: localTarget, metrics: localMetrics, policy: localPolicy }
    : { target, metrics, policy };
  const episode: Episode = {
    alert,
    members: new AlertMembers(alert),
    current: alert,
    pod,
    targetName,
    workload: alertWorkload(alert) ?? pod.pod,
    settings,
    reads,
    step: 'starting',
    notifications: 0,
    attempts: [],
    tried: new Set<string>(),
    ...(remembering ? { memory: carried ?? { ...EMPTY_MEMORY, episodes: 1 } } : {}),
    number: carried?.episodes ?? 1,
    undoing,
    ...(input.carried ? { outcome: input.carried.lastResult.outcome, endedAt: Date.now() } : {}),
  };
  if (input.carried) episode.step = 'watching';
  rememberTried(episode);
  const operator = openOperator({ kind: 'Pod', namespace: pod.namespace, name: pod.pod });
  if (operator) Object.assign(episode, { operator });

  talonMetrics.workflowStarted(TYPE);
  setHandler(alertFiredSignal, (fired) => {
    episode.notifications += 1;
    // signal-with-start delivers the first notification; every later one is a repeat Talon absorbed.
    if (episode.notifications > 1) talonMetrics.alertDeduplicated(TYPE);
    episode.members.fired(fired);
  });
  setHandler(alertResolvedSignal, (resolved) => {
    episode.members.resolved(resolved);
  });
  setHandler(cancelSignal, (request) => {
    episode.cancelled = request;
  });
  const answer =
    (approved: boolean) =>
    (request: ApprovalInput): { accepted: boolean; message: string } => {
      episode.approval = {
        approved,
        by: request.by,
        ...(request.identity ? { identity: request.identity } : {}),
        ...(request.comment ? { comment: request.comment } : {}),
      };
      return {
        accepted: true,
        message: `${approved ? 'approved' : 'rejected'} ${episode.awaitingApprovalFor ?? ''} by ${request.by}`.trim(),
      };
    };
  const approvalValidator = (request: ApprovalInput): void => {
    if (!request.by || request.by.length > 200) throw new Error('approval needs who ("by"), at most 200 characters');
    if (episode.awaitingApprovalFor === undefined) throw new Error('nothing is waiting for approval');
    checkApprover(episode.operator, request.identity ?? request.by);
  };
  setHandler(approveUpdate, answer(true), { validator: approvalValidator });
  setHandler(rejectUpdate, answer(false), { validator: approvalValidator });
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: workflowInfo().workflowId,
    alert,
    step: episode.step,
    firing: episode.members.firing,
    notifications: episode.notifications,
    pods: episode.members.pods(),
    attempts: [...episode.attempts],
    ...(episode.outcome ? { outcome: episode.outcome } : {}),
    ...(episode.lastVerification ? { lastVerification: episode.lastVerification } : {}),
    ...(episode.targetSnapshot ? { targetSnapshot: episode.targetSnapshot } : {}),
    ...(episode.awaitingApprovalFor ? { awaitingApprovalFor: episode.awaitingApprovalFor } : {}),
    ...(episode.memory ? { episode: episode.number, memory: [...episode.memory.entries] } : {}),
    ...(episode.watchingUntil ? { watchingUntil: new Date(episode.watchingUntil).toISOString() } : {}),
    ...(episode.operator?.policy
      ? {
          operator: {
            policyVersion: episode.operator.policy.version,
            autonomy: episode.operator.policy.settings.autonomy,
            matched: [...episode.operator.policy.matched],
            ...(episode.operator.brake ? { brake: episode.operator.brake } : {}),
          },
        }
      : {}),
  }));

  upsertTalonSearchAttributes(
    { key: SEARCH_ATTRIBUTES.TalonAlertName, value: alertKey(alert.alertName) },
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
  const policy = await resolveOperator(episode.operator, episode.current, number);
  if (policy) episode.settings = { ...episode.settings, ...policySettings(policy) };
  const gathered = await gather(episode);
  if ('outcome' in gathered) return gathered;
  if (await undoIfWorse(episode, gathered)) {
    // The target is back where it was: let it settle (the alert may resolve), then the next policy's turn.
    await coolDown(episode, number, 'the rollback');
    return undefined;
  }
  const attempt = await decide(episode, number, gathered);
  if ('outcome' in attempt) return attempt;
  const guarded = await guard(episode, attempt);
  if (guarded === 'skip') return undefined;
  if (guarded !== 'proceed') return guarded;
  const applied = await apply(episode, attempt);
  if (!applied) return undefined;
  const verified = await verify(episode, attempt, applied);
  const change: AppliedAttempt = {
    number,
    operationId: operationId(episode, number),
    applied,
    ...(gathered.kind === 'window' ? { window: gathered } : {}),
  };
  if (!verified.ok) {
    if (episode.undoing && !applied.dryRun) await undoChange(episode, change, `not verified: ${verified.observed}`);
    return undefined;
  }
  if (applied.dryRun) return { outcome: 'no_action', reason: `dry run: ${applied.summary}` };
  if (episode.undoing) episode.lastChange = change;
  await coolDown(episode, number, applied.summary);
  return undefined;
}

/**
 * The newest firing member whose pod still exists, read as it is now (owner, node, requests, limits). A member
 * whose pod is gone (replaced by a rollout, evicted, deleted) stops counting as firing and the next one is read.
 */
async function readTargetPod(episode: Episode): Promise<Awaited<ReturnType<TargetActivities['readTarget']>> | Verdict> {
  let lastGone: PodTarget = episode.pod;
  for (let member = episode.members.target(); member; member = episode.members.target()) {
    const { pod, alert } = member;
    const targetName = describeTarget(alert.target);
    const snapshot = await episode.reads.target.readTarget
      .executeWithOptions({ summary: `read ${targetName}: owner, node, requests and limits` }, [
        { namespace: pod.namespace, pod: pod.pod },
      ])
      .catch((err: unknown) => {
        if (failureType(err) === 'TargetNotFound') return undefined;
        throw err;
      });
    if (snapshot) {
      episode.current = alert;
      episode.pod = pod;
      episode.targetName = targetName;
      // The Events of the operator policy go on the pod Talon acts on now.
      if (episode.operator) episode.operator.target = { kind: 'Pod', namespace: pod.namespace, name: pod.pod };
      return snapshot;
    }
    episode.members.markGone(member.fingerprint);
    lastGone = pod;
  }
  // No firing member's pod exists any more: this episode has nothing left to act on.
  return {
    outcome: episode.attempts.some((a) => a.applied) ? 'resolved' : 'needs_human',
    reason: `pod ${lastGone.namespace}/${lastGone.pod} no longer exists`,
  };
}

/** gather: the pod to act on, then its metrics window. */
async function gather(episode: Episode): Promise<Gathered | Verdict> {
  episode.step = 'gather';
  const snapshot = await readTargetPod(episode);
  if ('outcome' in snapshot) return snapshot;
  const { pod, targetName, reads, workload } = episode;
  episode.targetSnapshot = snapshot;
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
  const { current: alert, targetName, tried } = episode;
  episode.step = 'infer';
  let decision: PolicyDecision;
  if (gathered.kind === 'window') {
    const rules = episode.operator?.policy?.settings.rules;
    decision = await episode.reads.policy.decidePolicy
      .executeWithOptions({ summary: `rank policies for ${targetName} (model, rules as fallback)` }, [
        gathered,
        // The operator's thresholds, and for the decision log what chooseCandidate below will read (arguments
        // do not enter replay checks).
        {
          ...(rules ? { rules } : {}),
          alertName: alert.alertName,
          ...(alert.labels.talon_resource ? { resource: alert.labels.talon_resource } : {}),
          tried: [...tried],
          attempt: number,
          ...(episode.number > 1 ? { episode: episode.number } : {}),
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
  talonMetrics.decided(decision.source);
  const chosen = chooseCandidate(decision, alert, excludedPolicies(episode.operator, tried));
  if (!chosen) {
    return { outcome: 'needs_human', reason: `no untried policy left after ${[...tried].join(', ') || 'none'}` };
  }
  const candidate = capMagnitude(episode.operator, chosen.candidate);
  const previous = episode.attempts.at(-1);
  if (previous) talonMetrics.escalated(previous.policy, candidate.policy);
  tried.add(candidate.policy);
  upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonPolicy, value: [...tried] });
  const attempt = {
    number,
    decision,
    candidate,
    label: `${candidate.policy} ×${candidate.magnitude} on ${targetName}`,
  };
  const capped = episode.memory && growthRefusal(episode.memory, candidate, Date.now(), episode.settings.memory);
  if (capped) {
    // Growing this target further is a person's call, not another automatic step.
    noteAttempt(episode, attempt, { summary: attempt.label, applied: false, detail: capped.reason });
    return { outcome: 'needs_human', reason: capped.reason };
  }
  return attempt;
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
    ...(episode.operator?.policy ? { policyVersion: episode.operator.policy.version } : {}),
    ...fields,
  });
  rememberAttempt(episode, candidate.policy, candidate.magnitude, fields);
}

/**
 * guard: a policy listed in `requireApproval` waits for an approve/reject update. 'skip' moves on to the next
 * attempt (cancelled or resolved meanwhile); a verdict ends the episode (timed out, rejected).
 */
async function guard(episode: Episode, attempt: Attempt): Promise<'proceed' | 'skip' | Verdict> {
  episode.step = 'guard';
  const gated = await gate(episode.operator, {
    attempt: attempt.number,
    policy: attempt.candidate.policy,
    label: attempt.label,
    kind: 'pod',
    namespace: episode.pod.namespace,
    ...(episode.startedAt !== undefined ? { episodeStartedAt: episode.startedAt } : {}),
    done: () => episode.cancelled !== undefined || !episode.members.firing,
  });
  if (gated.kind === 'skip') return 'skip';
  if (gated.kind === 'verdict') {
    noteAttempt(episode, attempt, { summary: attempt.label, applied: false, detail: gated.reason });
    return gated;
  }
  const { settings } = episode;
  if (!settings.requireApproval.includes(attempt.candidate.policy)) return 'proceed';
  const { label } = attempt;
  await note(episode.operator, {
    attempt: attempt.number,
    policy: attempt.candidate.policy,
    decision: 'approval_requested',
    why: `${label} waits up to ${settings.approvalTimeoutSeconds}s for an approval (talon approve ${workflowInfo().workflowId})`,
    reason: 'TalonApprovalRequested',
  });
  episode.step = 'awaiting_approval';
  episode.awaitingApprovalFor = label;
  episode.approval = undefined;
  const answered = await condition(
    () => episode.approval !== undefined || episode.cancelled !== undefined || !episode.members.firing,
    settings.approvalTimeoutSeconds * 1000,
    { summary: `wait up to ${settings.approvalTimeoutSeconds}s for approval of ${label}` },
  );
  episode.awaitingApprovalFor = undefined;
  if (episode.cancelled || !episode.members.firing) return 'skip';
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
  await note(episode.operator, {
    attempt: attempt.number,
    policy: attempt.candidate.policy,
    decision: !answer ? 'approval_timed_out' : answer.approved ? 'approved' : 'rejected',
    why: `${verdict?.reason ?? `${label} approved by ${answer!.by}`}${answer?.identity && answer.identity !== answer.by ? ` (as ${answer.identity})` : ''}${answer?.comment ? `: ${answer.comment}` : ''}`,
    ...(answer ? { who: answer.identity ?? answer.by } : {}),
    reason: !answer ? 'TalonApprovalTimedOut' : answer.approved ? 'TalonApproved' : 'TalonRejected',
    warning: !answer?.approved,
  });
  if (!verdict) {
    const held = await recheckBrake(episode.operator, {
      attempt: attempt.number,
      policy: attempt.candidate.policy,
      label,
      kind: 'pod',
      namespace: episode.pod.namespace,
      ...(episode.startedAt !== undefined ? { episodeStartedAt: episode.startedAt } : {}),
      done: () => episode.cancelled !== undefined || !episode.members.firing,
    });
    if (!held) return 'proceed';
    if (held.kind === 'skip') return 'skip';
    if (held.kind === 'verdict') verdict = held;
    else return 'proceed';
  }
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
          operationId: operationId(episode, attempt.number),
          dryRun: settings.dryRun,
          ...operatorLimits(episode.operator),
        },
      ],
    );
  } catch (err) {
    const type = failureType(err);
    if (type && PERMANENT.includes(type)) {
      const detail = `${type}: ${failureMessage(err)}`;
      noteAttempt(episode, attempt, { summary: label, applied: false, detail });
      await note(episode.operator, {
        attempt: attempt.number,
        policy: candidate.policy,
        decision: 'refused',
        why: `${label} not applied: ${detail}`,
        reason: 'TalonChangeRefused',
        warning: true,
      });
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
  await note(episode.operator, {
    attempt: attempt.number,
    policy: attempt.candidate.policy,
    decision: applied.dryRun ? 'dry_run' : verified.ok ? 'applied' : 'not_verified',
    why: `${applied.summary}${applied.dryRun ? '' : `; verified: ${verified.observed}`}`,
    reason: applied.dryRun ? 'TalonDryRun' : verified.ok ? 'TalonApplied' : 'TalonNotVerified',
    warning: !applied.dryRun && !verified.ok,
  });
  noteAttempt(episode, attempt, {
    summary: applied.summary,
    applied: !applied.dryRun,
    verified: verified.ok,
    detail: verified.observed,
  });
  return verified;
}

/** cool-down: a durable timer, as long as the workload's history suggests; ends early when resolved or cancelled. */
async function coolDown(episode: Episode, number: number, after: string): Promise<void> {
  const { pod, workload, settings } = episode;
  episode.step = 'cooldown';
  const profile = await episode.reads.metrics.workloadProfile
    .executeWithOptions({ summary: `history of ${pod.namespace}/${workload} for the cool-down` }, [
      { namespace: pod.namespace, workload },
    ])
    .catch(() => undefined);
  const cooldown: CooldownDecision = cooldownFor(settings.cooldown, profile?.remediations.meanResolveSeconds, number);
  await condition(() => !episode.members.firing || episode.cancelled !== undefined, cooldown.seconds * 1000, {
    summary: `cool-down after ${after}: ${cooldown.explanation}`,
  });
}

/** The attempts ran out (or the episode was cancelled) without a verdict. */
function closingVerdict(episode: Episode): Verdict {
  const { cancelled, attempts } = episode;
  if (cancelled) return { outcome: 'cancelled', reason: `cancelled by ${cancelled.by}` };
  if (!episode.members.firing)
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
  episode.endedAt = Date.now();
  upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonOutcome, value: outcome });
  talonMetrics.workflowFinished(TYPE, outcome);
  await note(episode.operator, {
    decision: `outcome_${outcome}`,
    why: reason,
    ...(episode.cancelled ? { who: episode.cancelled.by } : {}),
    reason: outcome === 'needs_human' ? 'TalonNeedsHuman' : 'TalonFinished',
    warning: outcome === 'needs_human',
  });
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
  return {
    outcome,
    target: episode.targetName,
    attempts: [...attempts],
    notifications: episode.notifications,
    reason,
    ...(episode.memory ? { episodes: episode.memory.episodes } : {}),
  };
}
