/**
 * The what-if behind `talon alerts replay`: recorded Alertmanager notifications go through the webhook's
 * validation and the remediation workflow's first pass (read the pod, gather, infer, filter, guard) with the
 * real activities, and the chosen change goes to the apiserver with dryRun=All, which validates it and keeps
 * nothing. Parsing, the walk and the formatting are here; connecting to the world is the command's job.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import type { MetricsActivities } from '../../activities/metrics';
import type { PolicyActivities } from '../../activities/policy';
import type { RemediationActivities } from '../../activities/remediation';
import type { TargetActivities } from '../../activities/target';
import { alertWorkflowId, describeTarget, type AlertStatus, type TalonAlert } from '../domain/alert';
import { chooseCandidate, irrelevanceOf, POD_POLICIES, policiesFromAlert } from '../domain/escalation';
import type { DecisionSource, PolicyDecision, RankedPolicy } from '../domain/policy';
import type { AppliedChange, PodTarget } from '../domain/remediation';
import { hasFeature, recentMean, workloadOf } from '../domain/window';
import { alertmanagerPayload, describeIssues, normaliseAlertmanager } from '../webhook/payloads';
import { CliError, errorMessage as message } from './errors';

export type AlertmanagerPayload = z.infer<typeof alertmanagerPayload>;

/** The activities the what-if runs, exactly as a worker registers them. */
export interface WhatIfActivities {
  readonly readTarget: TargetActivities['readTarget'];
  readonly gatherWindow: MetricsActivities['gatherWindow'];
  readonly decidePolicy: PolicyActivities['decidePolicy'];
  readonly applyPolicy: RemediationActivities['applyPolicy'];
}

export interface CandidateView extends RankedPolicy {
  readonly usable: boolean;
  /** Why the workflow would never pick this one for this alert. */
  readonly skippedBecause?: string;
}

export type GatherView =
  | {
      readonly kind: 'window';
      readonly source: string;
      readonly steps: number;
      readonly stepSeconds: number;
      readonly quality: number;
      /** Mean of the last three steps, as a share of the limit. */
      readonly cpuShare?: number;
      readonly memoryShare?: number;
      readonly note?: string;
    }
  | { readonly kind: 'insufficient'; readonly reason: string }
  | { readonly kind: 'error'; readonly message: string };

export interface TryView {
  readonly attempt: number;
  readonly policy: string;
  readonly magnitude: number;
  /** True when the engines' candidates were used up and the alert's own default was taken. */
  readonly fromAlert: boolean;
  readonly outcome: 'would_apply' | 'refused' | 'failed';
  readonly summary?: string;
  readonly changes?: readonly AppliedChange[];
  readonly noop?: boolean;
  readonly failureType?: string;
  readonly guard?: string;
  readonly message?: string;
}

export interface AlertWhatIf {
  /** 1-based, as people count. */
  readonly payload: number;
  readonly alert: number;
  readonly alertName: string;
  readonly status: AlertStatus;
  readonly target: string;
  readonly workflowId: string;
  readonly outcome: 'would_apply' | 'needs_human' | 'skipped' | 'error';
  readonly verdict: string;
  readonly node?: string;
  readonly gather?: GatherView;
  readonly decision?: {
    readonly source: DecisionSource;
    readonly modelVersion?: string;
    readonly fallbackReason?: string;
  };
  readonly candidates: readonly CandidateView[];
  readonly tries: readonly TryView[];
}

export interface RejectedView {
  readonly payload: number;
  readonly alert: number;
  readonly alertName?: string;
  readonly reason: string;
}

export interface WhatIfReport {
  readonly file: string;
  /** Which engine decided, in words ("the ONNX policy model … " or "the rule policy (why)"). */
  readonly engine: string;
  readonly payloads: number;
  readonly alerts: readonly AlertWhatIf[];
  readonly rejected: readonly RejectedView[];
}

export interface ParsedPayload {
  /** 1-based position in the file. */
  readonly index: number;
  /** Line of newline-delimited input. */
  readonly line?: number;
  readonly payload: AlertmanagerPayload;
}

/**
 * A file of recorded notifications: one Alertmanager webhook payload, a JSON array of them, or one per line
 * (newline-delimited JSON). Every payload is validated like the webhook does; any invalid one fails the
 * whole file, naming each problem, so a replay never silently runs on half its input.
 */
export function parsePayloads(text: string, source: string): ParsedPayload[] {
  if (text.trim() === '') {
    throw new CliError(`${source} is empty: expected an Alertmanager webhook payload, a JSON array of them, or NDJSON`);
  }
  let raws: { value: unknown; line?: number }[];
  try {
    const whole: unknown = JSON.parse(text);
    raws = Array.isArray(whole) ? whole.map((value: unknown) => ({ value })) : [{ value: whole }];
  } catch (wholeError) {
    raws = [];
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]?.trim() ?? '';
      if (line === '') continue;
      try {
        raws.push({ value: JSON.parse(line) as unknown, line: i + 1 });
      } catch (lineError) {
        // A bad first line means the file is not NDJSON at all, so the whole-document error is the useful one.
        if (raws.length === 0) throw new CliError(`${source} is not valid JSON: ${message(wholeError)}`);
        throw new CliError(`${source} line ${i + 1} is not valid JSON: ${message(lineError)}`);
      }
    }
  }
  if (raws.length === 0) throw new CliError(`${source} holds no payloads`);
  const problems: string[] = [];
  const parsed: ParsedPayload[] = [];
  raws.forEach((raw, i) => {
    const where = `payload ${i + 1}${raw.line !== undefined ? ` (line ${raw.line})` : ''}`;
    const result = alertmanagerPayload.safeParse(raw.value);
    if (result.success) {
      parsed.push({ index: i + 1, ...(raw.line !== undefined ? { line: raw.line } : {}), payload: result.data });
    } else {
      problems.push(`${where}: ${describeIssues(result.error).join('; ')}`);
    }
  });
  if (problems.length > 0) {
    throw new CliError(
      `${source}: ${problems.length} of ${raws.length} payload(s) are not Alertmanager webhook payloads (version 4):\n` +
        problems.map((p) => `  ${p}`).join('\n'),
    );
  }
  return parsed;
}

/** Every ranked policy, with why the workflow would pass over it. */
export function explainCandidates(decision: PolicyDecision, alert: TalonAlert): CandidateView[] {
  return decision.ranked.map((r) => {
    let skippedBecause: string | undefined;
    if (r.policy === 'no_action') skippedBecause = 'never chosen while the alert fires';
    else if (!POD_POLICIES.has(r.policy)) skippedBecause = 'not a pod action';
    else skippedBecause = irrelevanceOf(r.policy, alert);
    return { ...r, usable: skippedBecause === undefined, ...(skippedBecause ? { skippedBecause } : {}) };
  });
}

function failureOf(err: unknown): { type?: string; nonRetryable: boolean; guard?: string; message: string } {
  if (err instanceof ApplicationFailure) {
    const guard = err.type === 'GuardRefused' && typeof err.details?.[0] === 'string' ? err.details[0] : undefined;
    return {
      ...(err.type ? { type: err.type } : {}),
      nonRetryable: err.nonRetryable === true,
      ...(guard ? { guard } : {}),
      message: err.message,
    };
  }
  return { nonRetryable: false, message: message(err) };
}

function gatherView(
  gathered: Awaited<ReturnType<WhatIfActivities['gatherWindow']>> | { kind: 'error'; message: string },
) {
  if (gathered.kind === 'error') return gathered;
  if (gathered.kind === 'insufficient') return { kind: 'insufficient' as const, reason: gathered.reason };
  return {
    kind: 'window' as const,
    source: gathered.source,
    steps: gathered.steps,
    stepSeconds: gathered.stepSeconds,
    quality: gathered.quality.score,
    ...(hasFeature(gathered, 'cpu_usage') ? { cpuShare: recentMean(gathered, 'cpu_usage', 3) } : {}),
    ...(hasFeature(gathered, 'memory_usage') ? { memoryShare: recentMean(gathered, 'memory_usage', 3) } : {}),
    ...(gathered.note ? { note: gathered.note } : {}),
  };
}

export interface WhatIfOptions {
  /** The workflow's bound on policies per episode. */
  readonly maxAttempts: number;
  /** Operation ids of the dry runs; unique per replay so no real operation's record is matched. */
  readonly operationPrefix: string;
}

/**
 * One firing pod alert through the workflow's steps. A guard refusal (any non-retryable failure) moves on to
 * the next candidate, as the workflow does; the decision is reused rather than re-gathered, since a what-if
 * runs all attempts at the same moment.
 */
export async function whatIfAlert(
  alert: TalonAlert,
  activities: WhatIfActivities,
  options: WhatIfOptions,
  position: { payload: number; alert: number },
): Promise<AlertWhatIf> {
  const base = {
    ...position,
    alertName: alert.alertName,
    status: alert.status,
    target: describeTarget(alert.target),
    workflowId: alertWorkflowId(alert),
  };
  if (alert.status === 'resolved') {
    return {
      ...base,
      outcome: 'skipped',
      verdict: 'resolved: Talon would tell the running remediation (if any) and decide nothing',
      candidates: [],
      tries: [],
    };
  }
  if (alert.target.kind !== 'pod') {
    return {
      ...base,
      outcome: 'skipped',
      verdict: 'a node alert: the nodeOverload workflow (taint, evict, untaint) handles it; not simulated here',
      candidates: [],
      tries: [],
    };
  }
  const pod: PodTarget = {
    namespace: alert.target.namespace,
    pod: alert.target.pod,
    ...(alert.target.container ? { container: alert.target.container } : {}),
  };

  let node: string | undefined;
  try {
    node = (await activities.readTarget({ namespace: pod.namespace, pod: pod.pod })).node ?? undefined;
  } catch (err) {
    const failure = failureOf(err);
    if (failure.type === 'TargetNotFound') {
      return {
        ...base,
        outcome: 'needs_human',
        verdict: `${failure.message}: nothing to act on, the remediation would end needs_human`,
        candidates: [],
        tries: [],
      };
    }
    return { ...base, outcome: 'error', verdict: `cannot read the pod: ${failure.message}`, candidates: [], tries: [] };
  }

  const gathered = await activities
    .gatherWindow({
      target: { ...pod, workload: workloadOf({ pod: pod.pod }), ...(node ? { node } : {}) },
      withHistory: true,
    })
    .catch((err: unknown) => ({ kind: 'error' as const, message: failureOf(err).message }));
  let decision: PolicyDecision;
  if (gathered.kind === 'window') {
    decision = await activities.decidePolicy(gathered).catch((err: unknown): PolicyDecision => ({
      source: 'rules',
      ranked: policiesFromAlert(alert),
      fallbackReason: failureOf(err).message,
    }));
  } else {
    const why =
      gathered.kind === 'error' ? `metrics unavailable: ${gathered.message}` : `too little data: ${gathered.reason}`;
    decision = { source: 'rules', ranked: policiesFromAlert(alert), fallbackReason: why };
  }

  const tries: TryView[] = [];
  const tried = new Set<string>();
  let outcome: AlertWhatIf['outcome'] | undefined;
  let verdict = '';
  for (let attempt = 1; attempt <= options.maxAttempts && !outcome; attempt++) {
    const chosen = chooseCandidate(decision, alert, tried);
    if (!chosen) {
      outcome = 'needs_human';
      verdict = `no untried policy left after ${[...tried].join(', ') || 'none'}: needs a human`;
      break;
    }
    const { candidate, fromAlert } = chosen;
    tried.add(candidate.policy);
    const head = { attempt, policy: candidate.policy, magnitude: candidate.magnitude, fromAlert };
    try {
      const result = await activities.applyPolicy({
        target: pod,
        policy: candidate.policy,
        magnitude: candidate.magnitude,
        operationId: `${options.operationPrefix}/${attempt}`,
        dryRun: true,
      });
      if (!result.dryRun) {
        // Cannot happen with the actuator as written; if it ever does, say so loudly rather than report success.
        throw new CliError(`the actuator ignored dryRun and changed the cluster: ${result.summary}`);
      }
      // The activity's `noop` means "nothing written", true of every dry run; here it means nothing to change.
      const noop = result.changes.length === 0;
      tries.push({ ...head, outcome: 'would_apply', summary: result.summary, changes: result.changes, noop });
      outcome = 'would_apply';
      verdict = `would apply ${candidate.policy} ×${candidate.magnitude}${noop ? ' (nothing to change: already in place)' : ''}`;
    } catch (err) {
      if (err instanceof CliError) throw err;
      const failure = failureOf(err);
      tries.push({
        ...head,
        outcome: failure.nonRetryable ? 'refused' : 'failed',
        ...(failure.type ? { failureType: failure.type } : {}),
        ...(failure.guard ? { guard: failure.guard } : {}),
        message: failure.message,
      });
      if (!failure.nonRetryable) {
        outcome = 'error';
        verdict = `${candidate.policy} failed in a way the workflow would retry: ${failure.message}`;
      }
    }
  }
  if (!outcome) {
    outcome = 'needs_human';
    verdict = `every policy tried was refused (${tries.map((t) => t.policy).join(', ')}): needs a human`;
  }
  return {
    ...base,
    outcome,
    verdict,
    ...(node ? { node } : {}),
    gather: gatherView(gathered),
    decision: {
      source: decision.source,
      ...(decision.modelVersion ? { modelVersion: decision.modelVersion } : {}),
      ...(decision.fallbackReason ? { fallbackReason: decision.fallbackReason } : {}),
    },
    candidates: explainCandidates(decision, alert),
    tries,
  };
}

/**
 * Every alert of the payloads, in order. A repeat of an alert already seen reaches the same workflow
 * (signal-with-start), so it is reported as such rather than decided twice.
 */
export async function whatIfPayloads(
  payloads: readonly ParsedPayload[],
  activities: WhatIfActivities,
  options: WhatIfOptions & { readonly file: string; readonly engine: string },
): Promise<WhatIfReport> {
  const alerts: AlertWhatIf[] = [];
  const rejected: RejectedView[] = [];
  const seen = new Map<string, AlertWhatIf>();
  for (const { index, payload } of payloads) {
    const batch = normaliseAlertmanager(payload);
    for (const r of batch.rejected) {
      rejected.push({
        payload: index,
        alert: r.index + 1,
        ...(r.alertname ? { alertName: r.alertname } : {}),
        reason: r.reason,
      });
    }
    // normaliseAlertmanager keeps accepted alerts in order and numbers only the rejected ones.
    const rejectedAt = new Set(batch.rejected.map((r) => r.index));
    const acceptedAt = payload.alerts.map((_, i) => i).filter((i) => !rejectedAt.has(i));
    for (const [n, alert] of batch.alerts.entries()) {
      const position = { payload: index, alert: (acceptedAt[n] ?? n) + 1 };
      const workflowId = alertWorkflowId(alert);
      const first = seen.get(workflowId);
      if (first && alert.status === 'firing') {
        alerts.push({
          ...position,
          alertName: alert.alertName,
          status: alert.status,
          target: describeTarget(alert.target),
          workflowId,
          outcome: 'skipped',
          verdict: `a repeat of payload ${first.payload} alert ${first.alert}: it would reach the same remediation`,
          candidates: [],
          tries: [],
        });
        continue;
      }
      const result = await whatIfAlert(
        alert,
        activities,
        { ...options, operationPrefix: `${options.operationPrefix}/${alerts.length + 1}` },
        position,
      );
      if (alert.status === 'firing') seen.set(workflowId, result);
      alerts.push(result);
    }
  }
  return { file: options.file, engine: options.engine, payloads: payloads.length, alerts, rejected };
}

const pct = (share: number): string => `${Math.round(share * 100)}%`;

function formatGather(g: GatherView): string {
  if (g.kind === 'error') return `failed: ${g.message}`;
  if (g.kind === 'insufficient') return `too little data: ${g.reason}`;
  const usage = [
    g.cpuShare !== undefined ? `CPU ${pct(g.cpuShare)} of limit` : undefined,
    g.memoryShare !== undefined ? `memory ${pct(g.memoryShare)} of limit` : undefined,
  ].filter((s) => s !== undefined);
  return (
    `${g.source} window, ${g.steps} steps × ${g.stepSeconds} s, quality ${g.quality.toFixed(2)}` +
    (usage.length ? `; ${usage.join(', ')}` : '') +
    (g.note ? ` (${g.note})` : '')
  );
}

function formatTry(t: TryView): string[] {
  const head = `try ${t.attempt}   ${t.policy} ×${t.magnitude}${t.fromAlert ? ' (the alert’s default)' : ''}`;
  if (t.outcome === 'would_apply') {
    const lines = [`${head} → dry run accepted by the apiserver: ${t.summary ?? ''}`];
    for (const c of t.changes ?? []) {
      lines.push(
        `            ${c.path}${c.from !== undefined || c.to !== undefined ? `: ${c.from ?? '∅'} → ${c.to ?? '∅'}` : ''}`,
      );
    }
    return lines;
  }
  const what =
    t.outcome === 'refused'
      ? t.guard
        ? `refused by guard ${t.guard}`
        : `refused (${t.failureType ?? 'permanent'})`
      : 'failed';
  return [`${head} → ${what}: ${t.message ?? ''}`];
}

/** The report as people read it: one block per alert, what Talon would do and why. Pure. */
export function formatWhatIf(report: WhatIfReport): string {
  const alertCount = report.alerts.length + report.rejected.length;
  const lines = [
    `what-if for ${report.file}: ${report.payloads} payload(s), ${alertCount} alert(s)`,
    `decisions by ${report.engine}; changes are sent with dryRun=All, so the cluster validates them and keeps nothing`,
  ];
  for (const a of report.alerts) {
    lines.push('');
    lines.push(`[${a.payload}.${a.alert}] ${a.alertName} on ${a.target} (${a.status}) → ${a.workflowId}`);
    if (a.node) lines.push(`    pod      on node ${a.node}`);
    if (a.gather) lines.push(`    gather   ${formatGather(a.gather)}`);
    if (a.decision) {
      const d = a.decision;
      lines.push(
        `    infer    ${d.source}${d.modelVersion ? ` (model ${d.modelVersion})` : ''}${d.fallbackReason ? `, because ${d.fallbackReason}` : ''}`,
      );
    }
    a.candidates.forEach((c, i) => {
      const label = i === 0 ? '    ranked   ' : '             ';
      const tail = c.usable ? c.reason : `skipped: ${c.skippedBecause ?? ''}`;
      lines.push(
        `${label}${i + 1}. ${c.policy.padEnd(18)} ${c.score.toFixed(2)}  ×${c.magnitude.toFixed(2)}  ${tail}`.trimEnd(),
      );
    });
    for (const t of a.tries) for (const line of formatTry(t)) lines.push(`    ${line}`);
    lines.push(`    verdict  ${a.verdict}`);
  }
  for (const r of report.rejected) {
    lines.push('');
    lines.push(
      `[${r.payload}.${r.alert}] ${r.alertName ?? '(no alertname)'} rejected as the webhook would: ${r.reason}`,
    );
  }
  return lines.join('\n');
}
