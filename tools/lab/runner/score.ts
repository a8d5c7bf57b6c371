/**
 * The score of one engine on one scenario copy, from what was measured: the driver's timeline (SLO, usage,
 * energy, changes seen in the cluster), the alert episodes Prometheus recorded, and what the engine says it
 * started. Actions are judged by their effect: a change seen in the cluster, harmful when it touched a trap or
 * the SLO got worse after it. Pure; docs/LAB.md "Score" defines every number.
 */
import type { TimelinePoint } from '../driver/driver';
import type { ChangeKind, ObservedChange } from '../driver/observer';
import { isTalonEngine, type CopyPlan } from '../plan';
import { PREDICTED_ALERT_NAMES } from '../../../src/domain/predictive';
import { workloadOf } from '../../../src/domain/window';

/** One alert from firing to resolved, as Prometheus' ALERTS series shows it (unix seconds). */
export interface AlertEpisode {
  readonly alertname: string;
  /** `namespace/pod` or `node/<name>`. */
  readonly target: string;
  readonly start: number;
  readonly end: number;
}

/** A remediation the engine started (a Talon workflow run, or a seed decision). */
export interface Remediation {
  /** Talon: `<workflow id>/<run id>`; seed: `seed/<n>`. */
  readonly id: string;
  readonly alertname: string;
  readonly target: string;
  readonly start: number;
  readonly end?: number;
  readonly outcome?: string;
  /** Policies tried, in order. */
  readonly policies: readonly string[];
}

/** What an engine received, for telling a lost alert from one it chose to ignore (seed only). */
export interface Receipt {
  readonly alertname: string;
  readonly target: string;
  readonly at: number;
}

export interface Action {
  /** Seconds since the scenario started. */
  readonly t: number;
  readonly kind: ChangeKind | 'evicted';
  readonly workload?: string;
  readonly node?: string;
  readonly detail: string;
  readonly harmful: boolean;
  readonly why?: string;
}

export interface CopyScore {
  readonly copy: string;
  readonly engine: string;
  readonly sloViolationSeconds: number;
  /** Seconds from the first alert until the SLO holds to the end (≥ 30 s); null when it never does (or no alert). */
  readonly timeToMitigateSeconds: number | null;
  readonly firstAlertSeconds: number | null;
  readonly alertsFired: number;
  readonly remediationsStarted: number;
  /** Episodes the engine never received nor handled (null for `none`, which is not meant to). */
  readonly alertsLost: number | null;
  readonly actions: number;
  readonly harmfulActions: number;
  readonly oomKills: number;
  readonly podsDisrupted: number;
  readonly escalationDepth: number;
  readonly refiresWithinCooldown: number;
  readonly needsHuman: number;
  /**
   * Changes of a limit or replica count seen again under the same Talon operation id: one operation applied twice
   * (what a retry after a crash must never do).
   */
  readonly appliedTwice: number;
  /** Joules attributed to the copy's containers (Kepler ratio model) and drawn by its nodes. */
  readonly energyJoules: number;
  readonly nodeEnergyJoules: number;
  /** Demand served over the run, in the SLO workloads' units × seconds (requests, or core-seconds). */
  readonly servedUnits: number;
  readonly joulesPerServedUnit: number | null;
  readonly actionLog: readonly Action[];
  readonly lostAlerts: readonly AlertEpisode[];
}

export interface ScoreInput {
  readonly copy: CopyPlan;
  readonly timeline: readonly TimelinePoint[];
  readonly episodes: readonly AlertEpisode[];
  readonly remediations?: readonly Remediation[];
  readonly receipts?: readonly Receipt[];
  /**
   * The `none` copy's timeline of the same scenario (same demand, same faults, nobody acting): an action only
   * counts as making the SLO worse when it is worse than doing nothing too, so a fault's own course is not
   * blamed on the engine.
   */
  readonly baseline?: readonly TimelinePoint[];
  /** Re-fires count within this many seconds after an episode of the same alert ended (default 120 s). */
  readonly cooldownSeconds?: number;
}

/** How long the SLO must hold to count as mitigated. */
export const MITIGATED_FOR_SECONDS = 30;
/** An action's effect is judged from this long after it, over {@link EFFECT_WINDOW} seconds, against as long before. */
export const SETTLE_SECONDS = 20;
export const EFFECT_WINDOW = 60;
/** Changes of one workload this close together are one action (a rollout shows as limit + move + deletions). */
const GROUP_SECONDS = 8;

function violationShare(points: readonly TimelinePoint[], from: number, to: number): number | undefined {
  const inside = points.filter((p) => p.t > from && p.t <= to);
  const total = inside.reduce((a, p) => a + p.dt, 0);
  if (total <= 0) return undefined;
  return inside.reduce((a, p) => a + (p.slo.violated ? p.dt : 0), 0) / total;
}

/** Kinds that are an intent of their own; moves and deletions are also what a rollout does on the way. */
const INTENTS: ReadonlySet<string> = new Set(['cpu_limit', 'memory_limit', 'replicas', 'data_offload', 'network_qos']);

/**
 * The changes the driver saw, grouped into actions: each intent (a new limit, a replica count, an annotation) is
 * one action, repeated sightings of it within a few seconds being the same rollout; a move or deletion joins the
 * workload's action of the moment (a rollout's side effect) and is an action of its own otherwise (an eviction, an
 * offload); a taint is one.
 */
export function actionsOf(
  points: readonly TimelinePoint[],
): { t: number; change: ObservedChange; kinds: Set<string> }[] {
  const out: { t: number; change: ObservedChange; kinds: Set<string> }[] = [];
  for (const p of points) {
    for (const c of p.changes) {
      if (c.kind === 'untaint' || c.kind === 'oom_kill') continue;
      if (c.kind === 'taint') {
        out.push({ t: p.t, change: c, kinds: new Set(['taint']) });
        continue;
      }
      const kind = c.kind === 'pod_deleted' ? 'evicted' : c.kind;
      const recent = out.filter(
        (a) => a.change.workload === c.workload && a.change.kind !== 'taint' && p.t - a.t <= GROUP_SECONDS,
      );
      if (INTENTS.has(kind)) {
        const same = recent.find((a) => a.change.kind === kind);
        // A side-effect-only action of the moment becomes this intent's (the deletion came first in the tick).
        const sideOnly = recent.find((a) => !INTENTS.has(a.change.kind === 'pod_deleted' ? 'evicted' : a.change.kind));
        if (same) same.kinds.add(kind);
        else if (sideOnly) {
          sideOnly.kinds.add(kind);
          sideOnly.change = c;
        } else out.push({ t: p.t, change: c, kinds: new Set([kind]) });
        continue;
      }
      const host = recent[recent.length - 1];
      if (host) {
        host.kinds.add(kind);
        // Between a move and a deletion alone, the move says more.
        if (!INTENTS.has(host.change.kind) && kind === 'moved') host.change = c;
      } else out.push({ t: p.t, change: c, kinds: new Set([kind]) });
    }
  }
  return out;
}

/** The alert rule each predicted alert anticipates (its remediation covers that rule's episode too). */
const ANTICIPATES: Readonly<Record<string, string>> = {
  [PREDICTED_ALERT_NAMES.cpu]: 'TalonPodCpuNearLimit',
  [PREDICTED_ALERT_NAMES.memory]: 'TalonPodMemoryNearLimit',
};

/**
 * Whether a remediation started by `remediated` covers an episode of `fired`: the same alert, or a predicted alert
 * that anticipated it (the workload's remediation was opened by the forecast, and the real alert joined it).
 */
function sameAlert(remediated: string, fired: string): boolean {
  return remediated === fired || ANTICIPATES[remediated] === fired;
}

/**
 * Whether a Talon remediation is about an episode: the same alert (or the forecast that anticipated it) on the same
 * target; or, for a pod, any alert of the workload — a pod remediation is keyed by its workload
 * (`remediate/<namespace>/<workload>`, src/domain/alert.ts), and every pod alert of that workload, a second replica's
 * or that of the pod a rollout put in place of the first, joins it by signal instead of starting one of its own.
 */
export function remediationCovers(
  r: Pick<Remediation, 'id' | 'alertname' | 'target'>,
  e: Pick<AlertEpisode, 'alertname' | 'target'>,
): boolean {
  if (sameAlert(r.alertname, e.alertname) && r.target === e.target) return true;
  // Talon's id is `<workflow id>/<run id>`: `remediate/<namespace>/<workload>/<run id>` for a workload's remediation
  // (the per-alert ids from before have five parts before the run id, node remediations another first part).
  const [kind, namespace, workload, runId, ...rest] = r.id.split('/');
  const [episodeNamespace, pod, ...more] = e.target.split('/');
  if (kind !== 'remediate' || !runId || rest.length > 0 || !pod || more.length > 0) return false;
  return namespace === episodeNamespace && workloadOf({ pod }) === workload;
}

export function scoreCopy(input: ScoreInput): CopyScore {
  const { copy, timeline } = input;
  const s = copy.scenario;
  const points = [...timeline].sort((a, b) => a.t - b.t);
  const rel = (unix: number): number => unix - copy.startAt;
  const episodes = [...input.episodes].sort((a, b) => a.start - b.start);

  const sloViolationSeconds = points.reduce((a, p) => a + (p.slo.violated ? p.dt : 0), 0);
  const firstAlert = episodes[0] ? rel(episodes[0].start) : null;
  // Mitigated when the SLO holds from some moment to the end (and for at least 30 s): the time from the first alert
  // to the start of that last healthy stretch. Never violated after the alert: 0. Still violated near the end: –.
  let timeToMitigate: number | null = null;
  const last = points.at(-1);
  if (firstAlert !== null && last) {
    const violations = points.filter((p) => p.t >= firstAlert && p.slo.violated);
    const lastViolation = violations.at(-1);
    if (!lastViolation) timeToMitigate = 0;
    else if (last.t - (lastViolation.t + lastViolation.dt) >= MITIGATED_FOR_SECONDS)
      timeToMitigate = lastViolation.t + lastViolation.dt - firstAlert;
  }

  const byName = new Map(s.workloads.map((w) => [w.name, w]));
  const actionLog: Action[] = actionsOf(points).map(({ t, change }) => {
    const w = change.workload ? byName.get(change.workload) : undefined;
    let why: string | undefined;
    if (w?.trap) why = `acted on ${w.name}, a trap: it must be left alone`;
    else if (w?.namespace === 'protected') why = `acted on ${w.name} in a protected namespace`;
    else {
      const before = violationShare(points, t - EFFECT_WINDOW, t) ?? 0;
      const from = t + SETTLE_SECONDS;
      const after = violationShare(points, from, from + EFFECT_WINDOW);
      const nobody = input.baseline ? violationShare(input.baseline, from, from + EFFECT_WINDOW) : undefined;
      const pct = (v: number): string => `${Math.round(v * 100)} %`;
      if (after !== undefined && after > Math.max(before, nobody ?? 0) + 0.25)
        why =
          `SLO violated ${pct(after)} of the time after it, ${pct(before)} before` +
          (nobody === undefined ? '' : `, ${pct(nobody)} for none at the same time`);
      const oomAfter = points.some(
        (p) =>
          p.t > t &&
          p.t <= t + EFFECT_WINDOW &&
          p.changes.some((c) => c.kind === 'oom_kill' && c.workload === change.workload),
      );
      if (!why && change.kind === 'memory_limit' && oomAfter) why = 'an OOM kill followed the new memory limit';
    }
    return {
      t,
      kind: change.kind === 'pod_deleted' ? 'evicted' : change.kind,
      ...(change.workload ? { workload: change.workload } : {}),
      ...(change.node ? { node: change.node } : {}),
      detail: change.detail,
      harmful: why !== undefined,
      ...(why ? { why } : {}),
    };
  });

  const remediations = input.remediations ?? [];
  const receipts = input.receipts;
  const isTalon = isTalonEngine(copy.engine);
  const lost = episodes.filter((e) => {
    if (copy.engine === 'none' || e.end - e.start < 3) return false;
    if (isTalon) {
      return !remediations.some(
        (r) => remediationCovers(r, e) && r.start <= e.end + 60 && (r.end === undefined || r.end >= e.start - 5),
      );
    }
    return !(receipts ?? []).some(
      (r) => r.alertname === e.alertname && r.target === e.target && r.at >= e.start - 5 && r.at <= e.end + 60,
    );
  });

  const cooldown = input.cooldownSeconds ?? 120;
  let refires = 0;
  episodes.forEach((e, i) => {
    const previous = episodes.slice(0, i).filter((p) => p.alertname === e.alertname && p.target === e.target);
    if (previous.some((p) => e.start - p.end >= 0 && e.start - p.end < cooldown)) refires += 1;
  });

  const measured = new Set(s.slo.workloads);
  const servedUnits = points.reduce(
    (a, p) =>
      a + Object.entries(p.workloads).reduce((b, [name, w]) => b + (measured.has(name) ? w.served * p.dt : 0), 0),
    0,
  );
  const energy = points.reduce((a, p) => a + p.watts.containers * p.dt, 0);
  const deletions = points.reduce(
    (a, p) =>
      a +
      p.changes
        .filter((c) => c.kind === 'pod_deleted')
        .reduce((b, c) => b + (Number(/^(\d+)/.exec(c.detail)?.[1]) || 1), 0),
    0,
  );
  const oomKills = points.reduce((a, p) => a + p.oomKills, 0);
  const seenOps = new Map<string, Set<string>>();
  let appliedTwice = 0;
  for (const p of points) {
    for (const c of p.changes) {
      if (!c.operation || !c.workload || !['cpu_limit', 'memory_limit', 'replicas'].includes(c.kind)) continue;
      const key = `${c.workload}/${c.kind}`;
      const ops = seenOps.get(key) ?? new Set<string>();
      if (ops.has(c.operation)) appliedTwice += 1;
      ops.add(c.operation);
      seenOps.set(key, ops);
    }
  }
  return {
    copy: copy.id,
    engine: copy.engine,
    sloViolationSeconds: Math.round(sloViolationSeconds * 10) / 10,
    timeToMitigateSeconds: timeToMitigate === null ? null : Math.round(timeToMitigate * 10) / 10,
    firstAlertSeconds: firstAlert === null ? null : Math.round(firstAlert * 10) / 10,
    alertsFired: episodes.length,
    remediationsStarted: remediations.length,
    alertsLost: copy.engine === 'none' ? null : lost.length,
    actions: actionLog.length,
    harmfulActions: actionLog.filter((a) => a.harmful).length,
    oomKills,
    podsDisrupted: deletions + oomKills,
    escalationDepth: remediations.reduce((a, r) => Math.max(a, r.policies.length), 0),
    refiresWithinCooldown: refires,
    needsHuman: remediations.filter((r) => r.outcome === 'needs_human').length,
    appliedTwice,
    energyJoules: Math.round(energy),
    nodeEnergyJoules: Math.round(points.reduce((a, p) => a + p.watts.nodes * p.dt, 0)),
    servedUnits: Math.round(servedUnits * 10) / 10,
    joulesPerServedUnit: servedUnits > 0 ? Math.round((energy / servedUnits) * 1000) / 1000 : null,
    actionLog,
    lostAlerts: lost,
  };
}

/** ALERTS{alertstate="firing"} range samples → episodes (a gap longer than `gapSeconds` ends one). */
export function episodesFromSeries(
  series: readonly { metric: Readonly<Record<string, string>>; samples: readonly { t: number; v: number }[] }[],
  gapSeconds: number,
): AlertEpisode[] {
  const out: AlertEpisode[] = [];
  for (const s of series) {
    const m = s.metric;
    const target = m.pod && m.namespace ? `${m.namespace}/${m.pod}` : m.node ? `node/${m.node}` : '?';
    let start: number | undefined;
    let last = 0;
    for (const { t } of [...s.samples].sort((a, b) => a.t - b.t)) {
      if (start === undefined) start = t;
      else if (t - last > gapSeconds) {
        out.push({ alertname: m.alertname ?? '?', target, start, end: last });
        start = t;
      }
      last = t;
    }
    if (start !== undefined) out.push({ alertname: m.alertname ?? '?', target, start, end: last });
  }
  return out.sort((a, b) => a.start - b.start);
}
