/**
 * The operator policy inside the alert workflows: which policy version decides each step (resolved by the worker
 * from the policy file, recorded in history as a local activity result), what the autonomy level lets Talon do
 * (observe, recommend, approve, auto), the storm brake (wait, or only observe, while too much is under
 * remediation), and the audit trail of every decision and change (a Kubernetes Event on the target, the
 * workflow's memo for `talon audit`, and the attempt records). Deterministic: only local activities, timers and
 * memo updates, all behind the OPERATOR_POLICY_PATCH, so histories recorded before it replay unchanged.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  patched,
  proxyLocalActivities,
  proxySinks,
  setCurrentDetails,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import {
  ACTIONABLE_POLICIES,
  actionFor,
  describeBrake,
  disallowedPolicies,
  isApprover,
  type OperatorAction,
  type ResolvedPolicy,
} from '../src/domain/autonomy';
import type { TalonAlert } from '../src/domain/alert';
import type { PolicyName, RankedPolicy } from '../src/domain/policy';
import type { OperatorLimits } from '../src/domain/remediation';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/contracts/failures';
import type { TalonMetricsSink } from '../src/contracts/common';
import {
  AUDIT_MEMO_KEY,
  MAX_AUDIT_ENTRIES,
  OPERATOR_POLICY_PATCH,
  type AuditEntry,
  type OperatorActivities,
  type OperatorEventInput,
} from '../src/contracts/operator';

const { talonMetrics } = proxySinks<TalonMetricsSink>();

const operatorActivities = proxyLocalActivities<OperatorActivities>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 3,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  },
  localRetryThreshold: '5s',
});

/** What an alert workflow knows of the operator policy during one episode. */
export interface OperatorState {
  /** The latest resolution; undefined without a policy file (the workflow input's settings apply). */
  policy?: ResolvedPolicy;
  /** Event writes failed permanently (e.g. RBAC): the audit continues in the memo and history only. */
  eventsBroken?: boolean;
  /** The current storm brake line while a remediation is held (the `state` query shows it). */
  brake?: string;
  /** Where its Events go: the pod the current attempt acts on (a workload's remediation moves between pods). */
  target: OperatorEventInput['target'];
  readonly audit: AuditEntry[];
}

/**
 * Called once as the episode opens. Undefined in histories recorded before the operator policy existed: those
 * keep their recorded shape (the patch marker decides, once, for the whole episode).
 */
export function openOperator(target: OperatorEventInput['target']): OperatorState | undefined {
  if (!patched(OPERATOR_POLICY_PATCH)) return undefined;
  return { target, audit: [] };
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** The policy file's answer for this alert now (a reload between attempts takes effect at the next one). */
export async function resolveOperator(
  op: OperatorState | undefined,
  alert: TalonAlert,
  attempt: number,
): Promise<ResolvedPolicy | undefined> {
  if (!op) return undefined;
  const resolved = await operatorActivities.resolveOperatorPolicy.executeWithOptions(
    { summary: `policy file: what may Talon do for ${alert.alertName} (attempt ${attempt})` },
    [
      {
        alertName: alert.alertName,
        labels: alert.labels,
        kind: alert.target.kind,
        ...(alert.target.kind === 'pod' ? { namespace: alert.target.namespace } : {}),
      },
    ],
  );
  op.policy = resolved ?? undefined;
  return op.policy;
}

/** Policies the policy in force does not allow (skipped as if tried). */
export function excludedPolicies(op: OperatorState | undefined, tried: ReadonlySet<string>): ReadonlySet<string> {
  if (!op?.policy) return tried;
  return new Set([...tried, ...disallowedPolicies(op.policy.settings)]);
}

/** Caps a scale-up's factor at the policy's growth cap (a cap limits the step, it does not refuse it). */
export function capMagnitude(op: OperatorState | undefined, candidate: RankedPolicy): RankedPolicy {
  const cap = op?.policy?.settings.growth.maxFactor?.[candidate.policy];
  if (cap === undefined || !candidate.policy.endsWith('_up') || candidate.magnitude <= cap) return candidate;
  return {
    ...candidate,
    magnitude: cap,
    reason: `${candidate.reason} (capped at ×${cap} by the policy's growth caps)`,
  };
}

/** The policy's limits as the actuator takes them with a change (guards of the version that decided). */
export function operatorLimits(op: OperatorState | undefined): { limits?: OperatorLimits } {
  const policy = op?.policy;
  if (!policy) return {};
  const g = policy.settings.growth;
  return {
    limits: {
      policyVersion: policy.version,
      protectedNamespaces: [...policy.protectedNamespaces],
      writeBudget: policy.writeBudgets.perNamespace,
      ...(policy.writeBudgets.cluster ? { clusterWriteBudget: policy.writeBudgets.cluster } : {}),
      ...(g.containerCpuMax ? { containerCpuMax: g.containerCpuMax } : {}),
      ...(g.containerMemoryMax ? { containerMemoryMax: g.containerMemoryMax } : {}),
      ...(g.replicasMax !== undefined ? { replicasMax: g.replicasMax } : {}),
      ...(g.maxFactor ? { maxFactor: { ...g.maxFactor } } : {}),
    },
  };
}

/** The settings an alert workflow takes from the policy in force (maxAttempts, cool-down, approvals). */
export function policySettings(policy: ResolvedPolicy): {
  maxAttempts: number;
  cooldown: ResolvedPolicy['settings']['cooldown'];
  requireApproval: PolicyName[];
  approvalTimeoutSeconds: number;
} {
  const s = policy.settings;
  return {
    maxAttempts: s.maxAttempts,
    cooldown: s.cooldown,
    // approve: every change waits; auto: the listed ones (observe and recommend never reach the approval).
    requireApproval: s.autonomy === 'approve' ? [...ACTIONABLE_POLICIES] : [...s.requireApproval],
    approvalTimeoutSeconds: s.approvalTimeoutSeconds,
  };
}

/**
 * Refuses an approval or rejection from an identity the policy does not list (the update's validator calls it,
 * so a refused answer is never recorded as one). Without a policy file anyone may answer, as before.
 */
export function checkApprover(op: OperatorState | undefined, identity: string): void {
  const policy = op?.policy;
  if (!policy) return;
  if (!isApprover(policy.settings.approvers, identity)) {
    throw new Error(
      `${JSON.stringify(identity)} may not approve or reject here: policy ${policy.version} allows ${policy.settings.approvers.join(', ')}`,
    );
  }
}

export interface Note {
  readonly decision: string;
  readonly why: string;
  readonly attempt?: number;
  readonly policy?: string;
  readonly who?: string;
  /** Kubernetes Event reason; no Event when absent. */
  readonly reason?: string;
  readonly warning?: boolean;
}

/**
 * Records one decision or change: in the audit trail (memo, read by `talon audit`), the operator's counters,
 * and as a Kubernetes Event on the target. Events are best effort: the decision stands if the Event cannot be
 * written, and after a permanent failure (RBAC) no more are tried.
 */
export async function note(op: OperatorState | undefined, entry: Note): Promise<void> {
  if (!op) return;
  const version = op.policy?.version;
  const audit: AuditEntry = {
    at: new Date(Date.now()).toISOString(),
    ...(entry.attempt !== undefined ? { attempt: entry.attempt } : {}),
    decision: entry.decision,
    ...(entry.policy ? { policy: entry.policy } : {}),
    who: entry.who ?? 'talon',
    why: entry.why,
    ...(version ? { policyVersion: version } : {}),
  };
  op.audit.push(audit);
  if (op.audit.length > MAX_AUDIT_ENTRIES) op.audit.splice(0, op.audit.length - MAX_AUDIT_ENTRIES);
  upsertMemo({ [AUDIT_MEMO_KEY]: [...op.audit] });
  talonMetrics.operatorDecision(entry.decision);
  if (!entry.reason || op.eventsBroken) return;
  const info = workflowInfo();
  try {
    await operatorActivities.recordEvent.executeWithOptions({ summary: `event ${entry.reason} on ${describe(op)}` }, [
      {
        target: op.target,
        reason: entry.reason,
        message: entry.why,
        type: entry.warning ? 'Warning' : 'Normal',
        workflowId: info.workflowId,
        key: `${info.runId}/${op.audit.length}/${entry.decision}`,
        ...(version ? { policyVersion: version } : {}),
      },
    ]);
  } catch (err) {
    // Best effort: an unwritable Event never changes what Talon does; a permanent failure stops further tries.
    const type = failureType(err);
    if (type && (NON_RETRYABLE_FAILURE_TYPES as readonly string[]).includes(type)) op.eventsBroken = true;
  }
}

function describe(op: OperatorState): string {
  return op.target.kind === 'Pod' ? `pod ${op.target.namespace}/${op.target.name}` : `node ${op.target.name}`;
}

/** How a gate ends an attempt or the episode. */
export type GateResult =
  | { readonly kind: 'proceed'; readonly action: OperatorAction }
  | { readonly kind: 'skip' }
  | { readonly kind: 'verdict'; readonly outcome: 'no_action' | 'needs_human'; readonly reason: string };

export interface GateContext {
  readonly attempt: number;
  readonly policy: PolicyName;
  /** "cpu_scale_up ×1.5 on shop/web-1": what Talon would do. */
  readonly label: string;
  readonly kind: 'pod' | 'node';
  readonly namespace?: string;
  /** Workflow time the episode began, when it is not the run's start (a workload remediation's later episode). */
  readonly episodeStartedAt?: number;
  /** True once the alert resolved or the episode was cancelled: a held remediation stops waiting. */
  readonly done: () => boolean;
}

/**
 * Before a change: a protected namespace ends the episode, observe and recommend record what Talon would do and
 * end it, the storm brake holds it (or turns it into an observation). 'proceed' leaves approvals to the caller
 * (the policy's requireApproval is in its settings).
 */
export async function gate(op: OperatorState | undefined, ctx: GateContext): Promise<GateResult> {
  const policy = op?.policy;
  if (!op || !policy) return { kind: 'proceed', action: 'apply' };
  const { attempt, label } = ctx;
  const base = { attempt, policy: ctx.policy };
  if (policy.protectedBy !== undefined) {
    const why = `namespace ${ctx.namespace ?? '?'} is protected (${policy.protectedBy}): Talon changes nothing there`;
    await note(op, { ...base, decision: 'protected', why, reason: 'TalonProtected' });
    return { kind: 'verdict', outcome: 'no_action', reason: why };
  }
  const action = actionFor(policy.settings, ctx.policy);
  if (action === 'observe' || action === 'recommend') {
    const why =
      action === 'observe'
        ? `observe: would apply ${label} (autonomy observe, nothing changed)`
        : `recommend: ${label} (autonomy recommend, nothing changed; apply it by hand or raise the autonomy)`;
    await note(op, {
      ...base,
      decision: action,
      why,
      reason: action === 'observe' ? 'TalonObserved' : 'TalonRecommendation',
    });
    return { kind: 'verdict', outcome: 'no_action', reason: why };
  }
  const held = await holdForBrake(op, ctx);
  if (held) return held;
  return { kind: 'proceed', action };
}

/**
 * The storm brake again, right before a change that waited for an approval: a storm that began during the wait
 * holds it too (the brake counts what runs, so the first remediations of a burst can pass before the count shows
 * the burst). Undefined when clear.
 */
export async function recheckBrake(op: OperatorState | undefined, ctx: GateContext): Promise<GateResult | undefined> {
  if (!op?.policy) return undefined;
  return holdForBrake(op, ctx);
}

/** The storm brake: undefined when clear; otherwise how the held attempt ends (observe, resolved meanwhile, too long). */
async function holdForBrake(op: OperatorState, ctx: GateContext): Promise<GateResult | undefined> {
  const policy = op.policy!;
  const config = policy.stormBrake;
  const base = { attempt: ctx.attempt, policy: ctx.policy };
  const started = Date.now();
  // Let a burst that arrived together show in the counts before the first judgement (settleSeconds).
  const age = (started - (ctx.episodeStartedAt ?? workflowInfo().startTime.getTime())) / 1000;
  const settle = config.settleSeconds ?? 0;
  if (age < settle) {
    await condition(ctx.done, Math.ceil((settle - age) * 1000), {
      summary: `storm brake: let alerts that came together show in the counts (${settle}s after the start)`,
    });
    if (ctx.done()) return { kind: 'skip' };
  }
  let announced = false;
  for (;;) {
    const state = await operatorActivities.checkStormBrake.executeWithOptions(
      { summary: `storm brake: is too much under remediation for ${ctx.label}?` },
      [{ kind: ctx.kind, ...(ctx.namespace ? { namespace: ctx.namespace } : {}), config }],
    );
    if (!state.engaged) {
      op.brake = undefined;
      if (announced) {
        setCurrentDetails('');
        await note(op, {
          ...base,
          decision: 'brake_released',
          why: `storm brake released; going on with ${ctx.label}`,
        });
      }
      return undefined;
    }
    const line = describeBrake(state);
    op.brake = line;
    if (state.action === 'observe') {
      const why = `${line}; observe: would apply ${ctx.label}`;
      await note(op, { ...base, decision: 'brake_observe', why, reason: 'TalonStormBrake', warning: true });
      return { kind: 'verdict', outcome: 'no_action', reason: why };
    }
    const waited = (Date.now() - started) / 1000;
    if (waited >= config.maxWaitSeconds) {
      const why = `${line}; held ${Math.round(waited)}s, more than maxWaitSeconds ${config.maxWaitSeconds}`;
      await note(op, { ...base, decision: 'brake_timeout', why, reason: 'TalonStormBrake', warning: true });
      return { kind: 'verdict', outcome: 'needs_human', reason: why };
    }
    if (!announced) {
      announced = true;
      await note(op, {
        ...base,
        decision: 'brake_wait',
        why: `${line}; ${ctx.label} waits until it is released`,
        reason: 'TalonStormBrake',
        warning: true,
      });
    }
    // Shown in the Temporal UI's "current details" while the remediation waits.
    setCurrentDetails(`**Storm brake engaged** — ${ctx.label} waits.\n\n${line}`);
    await condition(ctx.done, config.recheckSeconds * 1000, {
      summary: `${line}; check again in ${config.recheckSeconds}s`,
    });
    if (ctx.done()) {
      op.brake = undefined;
      setCurrentDetails('');
      return { kind: 'skip' };
    }
  }
}
