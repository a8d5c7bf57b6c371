/**
 * The decision log as data: what one policy decision saw and chose (with the probability its choice had, the
 * propensity off-policy evaluation needs), what was then applied, and how it ended. The records are written
 * by three places that each know one part (the policy activity, the apply step, the outcome record) and
 * joined here, keyed by workflow id, run id and attempt. Also the cost a logged decision is judged by and the
 * bounded exploration rule. Pure: no I/O, so the metrics adapter, the CLI and training share it.
 */
import type { TalonAlert } from './alert';
import { chooseCandidate, POD_POLICIES, relevantToAlert } from './escalation';
import type { ModelFeature } from './features';
import type { PolicyDecision, PolicyName, RankedPolicy } from './policy';
import type { ContainerResources, WindowSource } from './window';

/** What the workflow tells the policy activity about its episode, so the log can say what was chosen and why. */
export interface DecisionContext {
  readonly alertName: string;
  /** The alert's `talon_resource` label: a resource alert never takes a scale-down (chooseCandidate). */
  readonly resource?: string;
  /** Policies this episode already tried, in order. */
  readonly tried: readonly string[];
  /** The workflow's attempt number; the apply step's operation id ends with it. */
  readonly attempt: number;
  /**
   * Which episode of the workload's remediation (1-based; absent: 1). A workload's remediation outlives its
   * episode and a re-fire opens the next one in the same run, so attempt numbers repeat across episodes.
   */
  readonly episode?: number;
}

/** The alert as chooseCandidate reads it, rebuilt from a logged context. */
export function alertOfContext(context: DecisionContext): Pick<TalonAlert, 'alertName' | 'labels'> {
  return {
    alertName: context.alertName,
    labels: context.resource === undefined ? {} : { talon_resource: context.resource },
  };
}

/** The window as logged: enough to feed any model again, with which features were absent. */
export interface LoggedWindow {
  readonly end: number;
  readonly stepSeconds: number;
  readonly source: WindowSource;
  readonly values: readonly (readonly number[])[];
  readonly observed: readonly (readonly boolean[])[];
  readonly absentFeatures: readonly ModelFeature[];
  readonly qualityScore: number;
  readonly resources?: ContainerResources;
}

export interface LoggedCandidate {
  readonly policy: PolicyName;
  readonly score: number;
  readonly magnitude: number;
}

/** One engine's answer: the champion's (what the workflow acted on) or the shadow challenger's. */
export interface LoggedEngine {
  readonly source: 'model' | 'rules';
  readonly modelVersion?: string;
  readonly fallbackReason?: string;
  readonly ranked: readonly LoggedCandidate[];
  /** Wall time of the engine's answer, ms. */
  readonly ms: number;
}

/** The workflow's choice from a decision, and how likely it was under the policy that logged it. */
export interface LoggedChoice {
  readonly policy: PolicyName;
  readonly magnitude: number;
  /** The probability this action had under the logging policy: 1 without exploration. */
  readonly propensity: number;
  /** What the greedy (champion) choice was; equal to the action unless explored. */
  readonly greedy: { readonly policy: PolicyName; readonly magnitude: number };
  readonly explored: boolean;
  /** Exploration rate in force for this decision (0: none) and the actions it could pick among. */
  readonly epsilon: number;
  readonly eligible: readonly { readonly policy: PolicyName; readonly magnitude: number }[];
  /** The candidate came from the alert-derived list (the engine offered nothing usable). */
  readonly fromAlert: boolean;
}

export interface DecisionRecord {
  readonly workflowId: string;
  readonly runId: string;
  /** The activity id of the decision inside its run: a re-executed decision keeps it and overwrites. */
  readonly decisionId: string;
  /** Unix milliseconds. */
  readonly at: number;
  readonly namespace: string;
  readonly pod: string;
  readonly workload: string;
  readonly window: LoggedWindow;
  /** Absent when the workflow did not pass one (histories from before the decision log). */
  readonly context?: DecisionContext;
  readonly champion: LoggedEngine;
  readonly choice?: LoggedChoice;
  /** The shadow model's answer and the choice the workflow would have made with it: logged, never applied. */
  readonly challenger?: LoggedChallenger;
}

/** The challenger's part of a record: its answer, or the error it gave instead. */
export interface LoggedChallenger extends Partial<LoggedEngine> {
  readonly choice?: { readonly policy: PolicyName; readonly magnitude: number };
  readonly error?: string;
}

/** Where the policy activity and the apply step write the log (InfluxDB in the worker, memory in tests). */
export interface DecisionLogWriter {
  recordDecision(record: DecisionRecord): void;
  recordAction(record: ActionRecord): void;
}

/** What the apply step did with a choice. */
export interface ActionRecord {
  readonly workflowId: string;
  readonly runId: string;
  readonly attempt: number;
  /** The episode of the run the attempt belongs to (absent: 1), from the operation id (`…/e2.1`). */
  readonly episode?: number;
  /** Unix milliseconds. */
  readonly at: number;
  readonly namespace: string;
  readonly pod: string;
  readonly policy: PolicyName;
  readonly magnitude: number;
  /** The change reached the cluster (not a dry run, not refused, not failed). */
  readonly applied: boolean;
  readonly dryRun: boolean;
  readonly noop: boolean;
  readonly summary?: string;
  /** Failure type and message when the apply failed. */
  readonly error?: string;
}

/** How an episode ended (the workflow's `record` step, measurement talon_remediation). */
export interface EpisodeOutcome {
  readonly workflowId: string;
  readonly namespace: string;
  readonly workload: string;
  readonly outcome: string;
  readonly policy: string;
  /** Unix seconds. */
  readonly at: number;
  readonly durationSeconds?: number;
}

/** Energy attributed to the pod, joules per step, before the decision (its window) and over the horizon after. */
export interface EnergyReading {
  readonly beforeJoulesPerStep: number;
  readonly afterJoulesPerStep: number;
}

/** How much one logged decision cost, in seconds out of SLO (lower is better). */
export interface LogCostWeights {
  /** Cap and "never resolved" value: the simulator's 10-minute horizon. */
  readonly horizonSeconds: number;
  /** The same alert fired again within `refireWindowSeconds` after this decision resolved it. */
  readonly refireSeconds: number;
  readonly refireWindowSeconds: number;
  /** The change was undone (rollback). */
  readonly rollbackSeconds: number;
  /** Seconds per +100 % energy (the simulator's price: 1 % more energy = 0.1 step of 30 s). */
  readonly energySecondsPerRelative: number;
  /** A restart or move of the pod (the simulator's 4 steps of 30 s). */
  readonly disruptionSeconds: number;
}

export const DEFAULT_LOG_COST: LogCostWeights = {
  horizonSeconds: 600,
  refireSeconds: 300,
  refireWindowSeconds: 3600,
  rollbackSeconds: 600,
  energySecondsPerRelative: 300,
  disruptionSeconds: 120,
};

/** Policies that restart, move or evict: never explored, and new ones block a promotion. */
export const DISRUPTIVE_POLICIES: ReadonlySet<PolicyName> = new Set<PolicyName>([
  'task_offloading',
  'node_overload',
  'replica_scale_down',
]);

/** A logged decision with what happened after it; `cost` undefined when it cannot be judged (and why). */
export interface JoinedDecision {
  readonly decision: DecisionRecord;
  readonly action?: ActionRecord;
  readonly outcome?: EpisodeOutcome;
  /** Seconds from the decision until the alert resolved under this action, or until the next attempt. */
  readonly secondsOutOfSlo?: number;
  readonly resolved: boolean;
  readonly escalated: boolean;
  readonly refired: boolean;
  readonly rolledBack: boolean;
  readonly energy?: EnergyReading;
  readonly cost?: number;
  readonly unusable?: string;
}

const runKey = (workflowId: string, runId: string) => `${workflowId}\u0000${runId}`;
/** One episode of one run: decisions escalate within it; a later episode of the same run is a re-fire. */
const episodeKey = (workflowId: string, runId: string, episode: number | undefined) =>
  `${runKey(workflowId, runId)}\u0000${episode ?? 1}`;
const slotKey = (workflowId: string, runId: string, episode: number | undefined, attempt: number) =>
  `${episodeKey(workflowId, runId, episode)}\u0000${attempt}`;

/**
 * Joins decisions to the action taken at the same attempt and to the episode's outcome, and prices each.
 * A decision whose attempt applied nothing (dry run, refused, failed) or whose episode has not ended is kept
 * with `unusable` set: it says nothing about what its action does.
 */
export function joinDecisionLog(
  decisions: readonly DecisionRecord[],
  actions: readonly ActionRecord[],
  outcomes: readonly EpisodeOutcome[],
  options: { weights?: LogCostWeights; energy?: (d: DecisionRecord) => EnergyReading | undefined } = {},
): JoinedDecision[] {
  const weights = options.weights ?? DEFAULT_LOG_COST;
  const byAttempt = new Map<string, ActionRecord>();
  for (const a of actions) {
    const key = slotKey(a.workflowId, a.runId, a.episode, a.attempt);
    const seen = byAttempt.get(key);
    if (!seen || a.at >= seen.at) byAttempt.set(key, a);
  }
  const sorted = dedupeDecisions(decisions);
  const episodes = new Map<string, DecisionRecord[]>();
  for (const d of sorted) {
    const key = episodeKey(d.workflowId, d.runId, d.context?.episode);
    const list = episodes.get(key) ?? [];
    list.push(d);
    episodes.set(key, list);
  }
  const outcomesByWorkflow = new Map<string, EpisodeOutcome[]>();
  for (const o of [...outcomes].sort((a, b) => a.at - b.at)) {
    const list = outcomesByWorkflow.get(o.workflowId) ?? [];
    list.push(o);
    outcomesByWorkflow.set(o.workflowId, list);
  }
  const byWorkload = new Map<string, DecisionRecord[]>();
  for (const d of sorted) {
    const key = `${d.namespace}/${d.workload}`;
    const list = byWorkload.get(key) ?? [];
    list.push(d);
    byWorkload.set(key, list);
  }

  return sorted.map((decision): JoinedDecision => {
    const ownEpisode = episodeKey(decision.workflowId, decision.runId, decision.context?.episode);
    const next = (episodes.get(ownEpisode) ?? []).find((d) => d.at > decision.at);
    const outcome = outcomesByWorkflow.get(decision.workflowId)?.find((o) => o.at * 1000 >= decision.at);
    const action =
      decision.context === undefined
        ? undefined
        : byAttempt.get(
            slotKey(decision.workflowId, decision.runId, decision.context.episode, decision.context.attempt),
          );
    const base = { decision, resolved: false, escalated: next !== undefined, refired: false, rolledBack: false };
    const withParts = {
      ...base,
      ...(action ? { action } : {}),
      ...(outcome ? { outcome } : {}),
    };
    if (!decision.context)
      return { ...withParts, unusable: 'no decision context (workflow predates the decision log)' };
    if (!action) return { ...withParts, unusable: 'no apply step recorded for this attempt' };
    if (!action.applied)
      return { ...withParts, unusable: action.dryRun ? 'dry run' : `not applied: ${action.error ?? 'refused'}` };
    if (!next && !outcome) return { ...withParts, unusable: 'episode still open' };
    const resolved = !next && outcome?.outcome === 'resolved';
    const endMs = next ? next.at : (outcome?.at ?? 0) * 1000;
    const secondsOutOfSlo = Math.max(0, (endMs - decision.at) / 1000);
    const rolledBack = outcome?.outcome === 'rolled_back' && !next;
    let refired = false;
    if (resolved && outcome) {
      const later = byWorkload.get(`${decision.namespace}/${decision.workload}`) ?? [];
      // A re-fire is a decision of another episode: a new run (before escalation memory) or the next episode.
      refired = later.some(
        (d) =>
          episodeKey(d.workflowId, d.runId, d.context?.episode) !== ownEpisode &&
          d.at > outcome.at * 1000 &&
          d.at <= (outcome.at + weights.refireWindowSeconds) * 1000,
      );
    }
    const energy = options.energy?.(decision);
    const cost = logCost(
      { resolved, secondsOutOfSlo, refired, rolledBack, policy: action.policy, ...(energy ? { energy } : {}) },
      weights,
    );
    return { ...withParts, secondsOutOfSlo, resolved, refired, rolledBack, cost, ...(energy ? { energy } : {}) };
  });
}

/** One record per decision slot (workflow, run, activity id): the latest write wins, as in InfluxDB. */
export function dedupeDecisions(decisions: readonly DecisionRecord[]): DecisionRecord[] {
  const latest = new Map<string, DecisionRecord>();
  for (const d of decisions) {
    const key = `${runKey(d.workflowId, d.runId)}\u0000${d.decisionId}`;
    const seen = latest.get(key);
    if (!seen || d.at >= seen.at) latest.set(key, d);
  }
  return [...latest.values()].sort((a, b) => a.at - b.at || a.workflowId.localeCompare(b.workflowId));
}

/**
 * The price of one decision's result, in seconds out of SLO: the time until it resolved (or until the next
 * attempt took over, capped at the horizon; never resolved = the horizon), plus prices for a re-fire, a
 * rollback, a disruptive action and relative energy. An installation's trade-off, stated, not a law.
 */
export function logCost(
  r: {
    resolved: boolean;
    secondsOutOfSlo: number;
    refired: boolean;
    rolledBack: boolean;
    policy: PolicyName;
    energy?: EnergyReading;
  },
  w: LogCostWeights = DEFAULT_LOG_COST,
): number {
  const slo = r.resolved ? Math.min(r.secondsOutOfSlo, w.horizonSeconds) : w.horizonSeconds;
  let energy = 0;
  if (r.energy && r.energy.beforeJoulesPerStep > 0) {
    energy = w.energySecondsPerRelative * (r.energy.afterJoulesPerStep / r.energy.beforeJoulesPerStep - 1);
  }
  return (
    slo +
    (r.refired ? w.refireSeconds : 0) +
    (r.rolledBack ? w.rollbackSeconds : 0) +
    (DISRUPTIVE_POLICIES.has(r.policy) ? w.disruptionSeconds : 0) +
    energy
  );
}

/** Bounded exploration: the rate, and which namespaces opted in. Off unless a namespace is listed. */
export interface ExplorationSettings {
  readonly epsilon: number;
  readonly namespaces: readonly string[];
}

export const NO_EXPLORATION: ExplorationSettings = { epsilon: 0, namespaces: [] };

/** The largest exploration rate Talon accepts: more would make the champion a minority of its own decisions. */
export const MAX_EPSILON = 0.5;

const sameAction = (a: { policy: string; magnitude: number }, b: { policy: string; magnitude: number }) =>
  a.policy === b.policy && Math.abs(a.magnitude - b.magnitude) < 1e-9;

/**
 * The actions exploration may pick for this decision: the workflow's own candidates (relevant to the alert,
 * pod policies, untried, never no_action) from the engine's ranking, disruptive ones left out, magnitudes as
 * chooseCandidate rounds them; the greedy choice is always among them.
 */
export function explorationCandidates(
  decision: PolicyDecision,
  alert: Pick<TalonAlert, 'alertName' | 'labels'>,
  tried: ReadonlySet<string>,
): { policy: PolicyName; magnitude: number }[] {
  const greedy = chooseCandidate(decision, alert, tried);
  if (!greedy || greedy.fromAlert) return greedy ? [greedy.candidate] : [];
  const out: { policy: PolicyName; magnitude: number }[] = [
    { policy: greedy.candidate.policy, magnitude: greedy.candidate.magnitude },
  ];
  for (const r of relevantToAlert(decision.ranked, alert)) {
    if (r.policy === 'no_action' || !POD_POLICIES.has(r.policy) || tried.has(r.policy)) continue;
    if (DISRUPTIVE_POLICIES.has(r.policy) || out.some((o) => o.policy === r.policy)) continue;
    out.push({ policy: r.policy, magnitude: Math.round(r.magnitude * 100) / 100 });
  }
  return out;
}

/**
 * The logging policy's choice for one decision. With probability ε (only in opted-in namespaces) an action is
 * drawn uniformly among the candidates, else the greedy one; `draw` and `pick` are uniform numbers in [0, 1).
 * Returns the decision the workflow should act on (the explored candidate moved to the front, so the
 * workflow's own chooseCandidate takes it) and the logged choice with its true propensity.
 */
export function logChoice(
  decision: PolicyDecision,
  alert: Pick<TalonAlert, 'alertName' | 'labels'>,
  tried: ReadonlySet<string>,
  epsilon: number,
  draw: number,
  pick: number,
): { decision: PolicyDecision; choice?: LoggedChoice } {
  const greedy = chooseCandidate(decision, alert, tried);
  if (!greedy) return { decision };
  const g = { policy: greedy.candidate.policy, magnitude: greedy.candidate.magnitude };
  const eligible = epsilon > 0 ? explorationCandidates(decision, alert, tried) : [g];
  const k = eligible.length;
  const probability = (a: { policy: string; magnitude: number }) =>
    (sameAction(a, g) ? 1 - epsilon : 0) + (eligible.some((e) => sameAction(e, a)) ? epsilon / k : 0);
  const base = { greedy: g, epsilon: k > 1 ? epsilon : 0, eligible, fromAlert: greedy.fromAlert };
  if (k <= 1 || draw >= epsilon) {
    return { decision, choice: { ...g, ...base, propensity: k > 1 ? probability(g) : 1, explored: false } };
  }
  const picked = eligible[Math.min(k - 1, Math.floor(pick * k))] ?? g;
  if (sameAction(picked, g)) {
    return { decision, choice: { ...g, ...base, propensity: probability(g), explored: false } };
  }
  const original = decision.ranked.find((r) => r.policy === picked.policy);
  if (!original) return { decision, choice: { ...g, ...base, propensity: probability(g), explored: false } };
  const front: RankedPolicy = {
    ...original,
    reason: `explored (ε=${epsilon}, p=${(epsilon / k).toFixed(3)}) instead of ${g.policy} ×${g.magnitude}; ${original.reason}`,
  };
  const explored: PolicyDecision = {
    ...decision,
    ranked: [front, ...decision.ranked.filter((r) => r.policy !== picked.policy)],
  };
  // The workflow will run chooseCandidate on what it gets; exploring only makes sense if it takes the pick.
  const check = chooseCandidate(explored, alert, tried);
  if (!check || check.candidate.policy !== picked.policy) {
    return { decision, choice: { ...g, ...base, propensity: probability(g), explored: false } };
  }
  return {
    decision: explored,
    choice: { ...picked, ...base, propensity: probability(picked), explored: true },
  };
}

/**
 * How likely the logging policy was to take `action` on this decision: what importance weights divide by.
 * Zero means the log has no support for it (the logging policy never takes it there).
 */
export function loggingProbability(
  choice: LoggedChoice,
  action: { policy: string; magnitude: number },
  matches: (a: { policy: string; magnitude: number }, b: { policy: string; magnitude: number }) => boolean,
): number {
  const k = choice.eligible.length;
  const greedy = matches(action, choice.greedy) ? 1 - choice.epsilon : 0;
  const uniform =
    choice.epsilon > 0 && k > 0 && choice.eligible.some((e) => matches(e, action)) ? choice.epsilon / k : 0;
  return greedy + uniform;
}
