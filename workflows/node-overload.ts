/**
 * The TALON documents' Rule 2 for an overloaded node: taint it NoSchedule, evict its heaviest pod, wait,
 * untaint. The untaint runs exactly once even if a worker dies during the wait or the workflow is
 * cancelled: the wait is a durable timer and the untaint sits in a non-cancellable scope.
 *
 * Judged by effect (issue 14, gap 7): during the untaint delay the node's CPU usage is read; the episode is
 * resolved only once it fell under the threshold, otherwise the next heaviest pod is evicted (bounded), and then a
 * person is called. An alert naming the node by address (node-exporter's `instance`) is mapped to its node.
 * Histories from before this evict once and end resolved (patch `talon-node-verify-v1`).
 *
 * Under the operator policy (workflows/operator.ts) the policy file decides first whether node_overload may run at
 * all, and how (observe, recommend, approve, the storm brake), its limits go with every write, and every decision
 * and change is noted (audit memo, Kubernetes Events on the node).
 */
import {
  CancellationScope,
  condition,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
  proxySinks,
} from '@temporalio/workflow';
import type { MetricsActivities } from '../activities/metrics';
import { approveUpdate, rejectUpdate, type ApprovalInput } from '../src/contracts/remediate-alert';
import { checkApprover, gate, note, openOperator, operatorLimits, recheckBrake, resolveOperator } from './operator';
import type { RemediationActivities } from '../activities/remediation';
import type { TargetActivities } from '../activities/target';
import { alertKey, isIpAddress } from '../src/domain/alert';
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
/** Usage reads: a few quick tries, then the check counts as unread (the next check tries again). */
const metrics = proxyActivities<MetricsActivities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
});
const target = proxyActivities<TargetActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 5, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
});

const NODE_VERIFY_PATCH = 'talon-node-verify-v1';

/** What one eviction and the wait after it came to. */
interface EvictionRound {
  readonly evicted?: string;
  readonly blocked?: string;
  readonly relieved: boolean;
  readonly cpuShare?: number;
  readonly unread?: string;
}

export async function nodeOverload(input: NodeOverloadInput): Promise<NodeOverloadResult> {
  const { alert } = input;
  let settings: NodeOverloadSettings = { ...DEFAULT_NODE_OVERLOAD_SETTINGS, ...input.settings };
  if (alert.target.kind !== 'node') throw new Error('nodeOverload handles node alerts');
  let node = alert.target.node;
  const verifying = patched(NODE_VERIFY_PATCH);
  const info = workflowInfo();
  const operation = (what: string): string => `${info.workflowId}/${info.runId}/${what}`;
  let step: RemediationStep = 'starting';
  let firing = alert.status === 'firing';
  let notifications = 0;
  let cancelled = false;
  let outcome: RemediationOutcome | undefined = undefined;
  const attempts: AttemptRecord[] = [];
  const op = openOperator({ kind: 'Node', name: node });
  let awaitingApproval: string | undefined;
  let approval: { approved: boolean; by: string; identity?: string; comment?: string } | undefined;

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
  // Approvals (autonomy approve, or node_overload in requireApproval): only registered under the operator policy.
  if (op) {
    const answer =
      (approved: boolean) =>
      (request: ApprovalInput): { accepted: boolean; message: string } => {
        approval = {
          approved,
          by: request.by,
          ...(request.identity ? { identity: request.identity } : {}),
          ...(request.comment ? { comment: request.comment } : {}),
        };
        return {
          accepted: true,
          message: `${approved ? 'approved' : 'rejected'} ${awaitingApproval ?? ''} by ${approval.by}`,
        };
      };
    const validator = (request: ApprovalInput): void => {
      if (!request.by || request.by.length > 200) throw new Error('approval needs who ("by"), at most 200 characters');
      if (awaitingApproval === undefined) throw new Error('nothing is waiting for approval');
      checkApprover(op, request.identity ?? request.by);
    };
    setHandler(approveUpdate, answer(true), { validator });
    setHandler(rejectUpdate, answer(false), { validator });
  }
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: info.workflowId,
    alert,
    step,
    firing,
    notifications,
    attempts: [...attempts],
    ...(outcome ? { outcome } : {}),
    ...(awaitingApproval ? { awaitingApprovalFor: awaitingApproval } : {}),
    ...(op?.policy
      ? {
          operator: {
            policyVersion: op.policy.version,
            autonomy: op.policy.settings.autonomy,
            matched: [...op.policy.matched],
            ...(op.brake ? { brake: op.brake } : {}),
          },
        }
      : {}),
  }));
  const finish = async (result: RemediationOutcome, why: string): Promise<NodeOverloadResult> => {
    outcome = result;
    step = 'done';
    upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonOutcome, value: outcome });
    talonMetrics.workflowFinished(TYPE, outcome);
    await note(op, {
      decision: `outcome_${outcome}`,
      why,
      reason: outcome === 'needs_human' ? 'TalonNeedsHuman' : 'TalonFinished',
      warning: outcome === 'needs_human',
    });
    return { outcome, node, reason: why };
  };
  let alertedAs: string | undefined;
  if (verifying && isIpAddress(node)) {
    step = 'gather';
    const resolved = await target.resolveNode
      .executeWithOptions({ summary: `find the node whose address is ${node}` }, [{ node }])
      .catch(() => undefined);
    if (!resolved) return finish('needs_human', `no node is named ${node} or has it as an address`);
    alertedAs = node;
    node = resolved.node;
    // The Events of the operator policy go on the node, not on its address.
    if (op) op.target = { kind: 'Node', name: node };
  }
  upsertTalonSearchAttributes(
    { key: SEARCH_ATTRIBUTES.TalonAlertName, value: alertKey(alert.alertName) },
    { key: SEARCH_ATTRIBUTES.TalonTarget, value: `node/${node}` },
    { key: SEARCH_ATTRIBUTES.TalonKind, value: 'node' },
    { key: SEARCH_ATTRIBUTES.TalonPolicy, value: ['node_overload'] },
  );

  step = 'guard';
  const policy = await resolveOperator(op, alert, 1);
  if (policy) {
    settings = { ...settings, untaintAfterSeconds: policy.settings.untaintAfterSeconds };
    const label = `node_overload on ${node}`;
    const record = (detail: string): void => {
      attempts.push({
        attempt: 1,
        policy: 'node_overload',
        magnitude: 1,
        summary: label,
        applied: false,
        detail,
        policyVersion: policy.version,
      });
    };
    if (!policy.settings.allowedPolicies.includes('node_overload')) {
      const why = `node_overload is not among the allowed policies of policy ${policy.version}`;
      await note(op, { attempt: 1, policy: 'node_overload', decision: 'not_allowed', why, reason: 'TalonNotAllowed' });
      record(why);
      return finish('no_action', why);
    }
    const gated = await gate(op, {
      attempt: 1,
      policy: 'node_overload',
      label,
      kind: 'node',
      done: () => cancelled || !firing,
    });
    if (gated.kind === 'skip')
      return finish(
        cancelled ? 'cancelled' : 'resolved',
        `${cancelled ? 'cancelled' : 'resolved'} while held by the storm brake`,
      );
    if (gated.kind === 'verdict') {
      record(gated.reason);
      return finish(gated.outcome, gated.reason);
    }
    if (gated.action === 'approve') {
      const timeout = policy.settings.approvalTimeoutSeconds;
      awaitingApproval = label;
      step = 'awaiting_approval';
      await note(op, {
        attempt: 1,
        policy: 'node_overload',
        decision: 'approval_requested',
        why: `${label} waits up to ${timeout}s for an approval (talon approve ${info.workflowId})`,
        reason: 'TalonApprovalRequested',
      });
      await condition(() => approval !== undefined || cancelled || !firing, timeout * 1000, {
        summary: `wait up to ${timeout}s for approval of ${label}`,
      });
      awaitingApproval = undefined;
      const answered = approval;
      if (cancelled || !firing)
        return finish(
          cancelled ? 'cancelled' : 'resolved',
          `${cancelled ? 'cancelled' : 'resolved'} while awaiting approval`,
        );
      const why = !answered
        ? `approval of ${label} timed out after ${timeout}s`
        : answered.approved
          ? `${label} approved by ${answered.by}${answered.comment ? `: ${answered.comment}` : ''}`
          : `${label} rejected by ${answered.by}`;
      await note(op, {
        attempt: 1,
        policy: 'node_overload',
        decision: !answered ? 'approval_timed_out' : answered.approved ? 'approved' : 'rejected',
        why,
        ...(answered ? { who: answered.identity ?? answered.by } : {}),
        reason: !answered ? 'TalonApprovalTimedOut' : answered.approved ? 'TalonApproved' : 'TalonRejected',
        warning: !answered?.approved,
      });
      if (!answered?.approved) {
        record(why);
        return finish(answered ? 'rejected' : 'needs_human', why);
      }
      const held = await recheckBrake(op, {
        attempt: 1,
        policy: 'node_overload',
        label,
        kind: 'node',
        done: () => cancelled || !firing,
      });
      if (held?.kind === 'skip')
        return finish(
          cancelled ? 'cancelled' : 'resolved',
          `${cancelled ? 'cancelled' : 'resolved'} while held by the storm brake`,
        );
      if (held?.kind === 'verdict') {
        record(held.reason);
        return finish(held.outcome, held.reason);
      }
    }
  }
  const limits = operatorLimits(op);

  let evicted: string | undefined;
  let reason = '';
  let rounds: EvictionRound[] | undefined;
  step = 'apply';
  const taint = await kube.taintNode.executeWithOptions(
    { startToCloseTimeout: '1m', summary: `taint ${node} NoSchedule (talon.io/overloaded)` },
    [{ node, operationId: operation('taint'), dryRun: settings.dryRun, ...limits }],
  );
  await note(op, {
    attempt: 1,
    policy: 'node_overload',
    decision: 'applied',
    why: taint.summary,
    reason: 'TalonApplied',
  });
  attempts.push({
    attempt: 1,
    policy: 'node_overload',
    magnitude: 1,
    summary: taint.summary,
    applied: taint.applied || taint.alreadyApplied,
  });
  try {
    if (verifying) rounds = await evictUntilRelieved();
    else reason = await evictOnceAndWait();
  } finally {
    await CancellationScope.nonCancellable(async () => {
      step = 'verify';
      const untaint = await kube.untaintNode.executeWithOptions(
        { startToCloseTimeout: '1m', summary: `untaint ${node}` },
        [{ node, operationId: operation('untaint'), dryRun: settings.dryRun, ...limits }],
      );
      await note(op, {
        attempt: 1,
        policy: 'node_overload',
        decision: 'applied',
        why: untaint.summary,
        reason: 'TalonApplied',
      });
      attempts.push({
        attempt: 1,
        policy: 'node_overload',
        magnitude: 1,
        summary: untaint.summary,
        applied: untaint.applied || untaint.alreadyApplied,
      });
    });
  }
  const judged: { outcome: RemediationOutcome; reason: string } = rounds
    ? judge(rounds)
    : { outcome: cancelled ? 'cancelled' : evicted || !firing ? 'resolved' : 'needs_human', reason };
  const finished = await finish(judged.outcome, judged.reason);
  const evictions = rounds?.flatMap((r) => r.evicted ?? []);
  const last = rounds?.at(-1);
  return {
    ...finished,
    ...(evictions?.[0] ? { evicted: evictions[0] } : evicted ? { evicted } : {}),
    ...(evictions ? { evictions } : {}),
    ...(last?.cpuShare !== undefined ? { cpuShare: last.cpuShare } : {}),
    ...(alertedAs ? { alertedAs } : {}),
  };

  /** Before usage verification (histories without the patch): evict the heaviest pod once, wait, done. */
  async function evictOnceAndWait(): Promise<string> {
    const victim = await kube.heaviestPod.executeWithOptions(
      { startToCloseTimeout: '1m', summary: `find the heaviest pod on ${node}` },
      [{ node }],
    );
    let said: string;
    if (!victim) {
      said = `no evictable pod on ${node}`;
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
            ...limits,
          },
        ],
      );
      await note(op, {
        attempt: 1,
        policy: 'node_overload',
        decision: eviction.outcome === 'blocked' ? 'refused' : 'applied',
        why: eviction.summary,
        reason: eviction.outcome === 'blocked' ? 'TalonChangeRefused' : 'TalonApplied',
        warning: eviction.outcome === 'blocked',
      });
      attempts.push({
        attempt: 1,
        policy: 'node_overload',
        magnitude: 1,
        summary: eviction.summary,
        applied: eviction.outcome === 'evicted',
        detail: eviction.blockedBy ?? eviction.outcome,
      });
      if (eviction.outcome === 'blocked')
        said = `eviction of ${name} blocked: ${eviction.blockedBy ?? 'PodDisruptionBudget'}`;
      else {
        evicted = name;
        said = `${eviction.outcome === 'dry-run' ? 'would evict' : 'evicted'} ${name}`;
      }
    }
    step = 'cooldown';
    // A durable timer: a worker restart during the wait resumes it, it does not restart it.
    await condition(() => cancelled, settings.untaintAfterSeconds * 1000, {
      summary: `keep ${node} tainted ${settings.untaintAfterSeconds}s so the evicted work lands elsewhere`,
    });
    return said;
  }

  /** Evicts the heaviest pod, watches the node's usage through the untaint delay, and again while still over. */
  async function evictUntilRelieved(): Promise<EvictionRound[]> {
    const done: EvictionRound[] = [];
    for (let n = 1; n <= settings.maxEvictions && !cancelled; n++) {
      step = 'apply';
      const victim = await kube.heaviestPod.executeWithOptions(
        { startToCloseTimeout: '1m', summary: `find the heaviest pod on ${node}` },
        [{ node }],
      );
      if (!victim) break;
      const name = `${victim.namespace}/${victim.pod}`;
      const eviction = await kube.evictPod.executeWithOptions(
        {
          startToCloseTimeout: '1m',
          summary: `evict ${name} (${victim.cpuCores.toFixed(2)} cores by ${victim.basis}) from ${node} (${n} of at most ${settings.maxEvictions})`,
        },
        [
          {
            namespace: victim.namespace,
            pod: victim.pod,
            uid: victim.uid,
            operationId: operation(`evict-${n}`),
            dryRun: settings.dryRun,
            ...limits,
          },
        ],
      );
      await note(op, {
        attempt: n,
        policy: 'node_overload',
        decision: eviction.outcome === 'blocked' ? 'refused' : 'applied',
        why: eviction.summary,
        reason: eviction.outcome === 'blocked' ? 'TalonChangeRefused' : 'TalonApplied',
        warning: eviction.outcome === 'blocked',
      });
      attempts.push({
        attempt: n,
        policy: 'node_overload',
        magnitude: 1,
        summary: eviction.summary,
        applied: eviction.outcome === 'evicted',
        detail: eviction.blockedBy ?? eviction.outcome,
      });
      if (eviction.outcome === 'dry-run') {
        done.push({ evicted: name, relieved: false, unread: 'dry run: nothing was evicted' });
        break;
      }
      const blocked = eviction.outcome === 'blocked' ? (eviction.blockedBy ?? 'PodDisruptionBudget') : undefined;
      const watched = await watchUsage();
      done.push({
        ...(blocked ? { blocked: `eviction of ${name} blocked: ${blocked}` } : { evicted: name }),
        ...watched,
      });
      // A blocked eviction would pick the same pod again: a person decides what may go.
      if (watched.relieved || blocked) break;
    }
    return done;
  }

  /**
   * The untaint delay, reading the node's CPU share every `checkEverySeconds` until it is under the threshold
   * (then the rest of the delay passes without reads: the evicted work must land elsewhere first).
   */
  async function watchUsage(): Promise<Omit<EvictionRound, 'evicted' | 'blocked'>> {
    step = 'cooldown';
    const end = Date.now() + settings.untaintAfterSeconds * 1000;
    let cpuShare: number | undefined;
    let unread: string | undefined;
    let relieved = false;
    for (let left = end - Date.now(); left > 0 && !cancelled; left = end - Date.now()) {
      const wait = relieved ? left : Math.min(left, settings.checkEverySeconds * 1000);
      await condition(() => cancelled, wait, {
        summary: relieved
          ? `keep ${node} tainted until the untaint delay ends (usage already under ${pct(settings.cpuThreshold)})`
          : `keep ${node} tainted; read its usage in ${Math.round(wait / 1000)}s`,
      });
      if (relieved || cancelled) continue;
      step = 'verify';
      const loads = await metrics.rankNodes
        .executeWithOptions({ summary: `read the CPU usage of ${node}` }, [{}])
        .catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
      step = 'cooldown';
      const share = typeof loads === 'string' ? undefined : loads.find((l) => l.node === node)?.cpuShare;
      unread =
        typeof loads === 'string' ? loads : share === undefined ? `Prometheus has no usage of ${node}` : undefined;
      if (share !== undefined) cpuShare = share;
      relieved = share !== undefined && share < settings.cpuThreshold;
    }
    return { relieved, ...(cpuShare === undefined ? {} : { cpuShare }), ...(unread && !relieved ? { unread } : {}) };
  }

  function judge(list: readonly EvictionRound[]): { outcome: RemediationOutcome; reason: string } {
    const last = list.at(-1);
    const evictedNames = list.flatMap((r) => r.evicted ?? []);
    const usage = last?.cpuShare === undefined ? '' : ` at ${pct(last.cpuShare)} CPU`;
    if (cancelled) {
      const what = [
        ...(evictedNames.length ? [`evicting ${evictedNames.join(', ')}`] : []),
        ...(last?.blocked ? [last.blocked] : []),
      ];
      return { outcome: 'cancelled', reason: `cancelled${what.length ? ` after ${what.join('; ')}` : ''}` };
    }
    if (!last) return { outcome: 'needs_human', reason: `no evictable pod on ${node}` };
    if (last.relieved) {
      return {
        outcome: 'resolved',
        reason: `evicted ${evictedNames.join(', ')}; ${node}${usage}, under ${pct(settings.cpuThreshold)}`,
      };
    }
    if (settings.dryRun) return { outcome: 'no_action', reason: `dry run: would evict ${evictedNames.join(', ')}` };
    if (last.blocked) return { outcome: 'needs_human', reason: `${last.blocked}; ${node}${usage}` };
    if (last.unread) {
      return {
        outcome: 'needs_human',
        reason: `evicted ${evictedNames.join(', ')}; usage not verified: ${last.unread}`,
      };
    }
    const why =
      list.length >= settings.maxEvictions ? `at most ${settings.maxEvictions} evictions` : 'no evictable pod left';
    return {
      outcome: 'needs_human',
      reason: `${node} still${usage} (threshold ${pct(settings.cpuThreshold)}) after evicting ${evictedNames.join(', ')}; ${why}`,
    };
  }
}

function pct(share: number): string {
  return `${Math.round(share * 100)} %`;
}
