/**
 * The workload remediation's memory between episodes (issue 14, gap 5): after an episode it watches for a
 * re-fire while anything is remembered, a re-fire starts the next episode below the policies the memory window
 * still holds, and every attempt is remembered with its outcome. The rules are src/domain/target-memory.ts;
 * this module applies them to the running workflow. Deterministic: time is workflow time, waits are conditions.
 */
import { condition, patched, workflowInfo } from '@temporalio/workflow';
import type { AlertMembers } from '../src/domain/alert-members';
import type { PolicyName } from '../src/domain/policy';
import {
  EMPTY_MEMORY,
  prune,
  remember,
  rememberUntil,
  triedWithin,
  type MemoryOutcome,
  type TargetMemory,
} from '../src/domain/target-memory';
import type { AttemptRecord, CancelRequest, RemediationOutcome, RemediationStep } from '../src/contracts/alert-episode';
import type { RemediationSettings } from '../src/contracts/remediate-alert';
import {
  clearTalonSearchAttribute,
  SEARCH_ATTRIBUTES,
  upsertTalonSearchAttributes,
} from '../src/contracts/search-attributes';

/** Marks runs whose later episodes know when they began (the storm brake settles from there). */
const EPISODE_START_PATCH = 'talon-episode-start-v1';

/** What of a remediation episode the memory reads and resets (remediation/episode.ts's Episode has all of it). */
export interface RememberingEpisode {
  readonly members: AlertMembers;
  readonly settings: RemediationSettings;
  readonly workload: string;
  readonly attempts: AttemptRecord[];
  readonly tried: Set<string>;
  cancelled?: CancelRequest;
  memory?: TargetMemory;
  number: number;
  /** Workflow time this episode began; absent for the run's first episode (the run's start) and old histories. */
  startedAt?: number;
  endedAt?: number;
  watchingUntil?: number;
  step: RemediationStep;
  outcome?: RemediationOutcome;
  lastVerification?: string;
  lastChange?: unknown;
}

/**
 * Between episodes: waits for the workload to fire again while its memory matters (the memory window, or longer
 * while a change still counts against the growth cap). A re-fire is a firing notification after the workload went
 * quiet: an episode that ended with the alert still firing (needs_human, rejected) is a person's now, and its
 * repeats start nothing. 'refired' starts the next episode, 'done' ends the workflow, 'continue' hands the memory
 * to a fresh run before the history grows too long.
 */
export async function watchForRefire(
  episode: RememberingEpisode,
  maxEvents: number,
): Promise<'refired' | 'done' | 'continue'> {
  const settings = episode.settings.memory;
  let quiet = !episode.members.firing;
  // An episode that ended while only a forecast fired (a recommendation, say) holds nothing back: when the real
  // alert comes, it starts the next episode at once. Histories from before predicted alerts never have one.
  const forecastOnly = episode.members.firing && !episode.members.firingObserved;
  const realAlertCame = (): boolean => forecastOnly && !quiet && episode.members.firingObserved;
  for (;;) {
    const now = Date.now();
    const memory = prune(episode.memory ?? EMPTY_MEMORY, now, settings);
    episode.memory = memory;
    const until = rememberUntil(memory, episode.endedAt ?? now, settings);
    if (episode.cancelled || until <= now) return 'done';
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > maxEvents) return 'continue';
    episode.step = 'watching';
    episode.watchingUntil = until;
    const wanted = !quiet; // waiting for the workload to go quiet first, or (quiet) for it to fire again
    await condition(
      () => episode.members.firing !== wanted || realAlertCame() || episode.cancelled !== undefined,
      until - now,
      {
        summary: quiet
          ? `remember ${episode.workload} until ${new Date(until).toISOString()}: a re-fire continues with the next-best untried policy`
          : `${episode.workload} still fires after its episode ended ${episode.outcome ?? ''}: wait for it to go quiet`,
      },
    );
    episode.watchingUntil = undefined;
    if (episode.cancelled) return 'done';
    if (realAlertCame()) return 'refired';
    if (!quiet && !episode.members.firing) quiet = true;
    else if (quiet && episode.members.firing) return 'refired';
  }
}

/** A re-fire: a new episode of the same workload, remembering what the recent ones tried. */
export function beginEpisode(episode: RememberingEpisode): void {
  const memory = episode.memory ?? EMPTY_MEMORY;
  episode.memory = { ...memory, episodes: memory.episodes + 1 };
  episode.number = episode.memory.episodes;
  // The storm brake's settle delay counts from the episode's start (histories from before it: the run's).
  if (patched(EPISODE_START_PATCH)) episode.startedAt = Date.now();
  else delete episode.startedAt;
  episode.attempts.length = 0;
  episode.lastChange = undefined;
  episode.outcome = undefined;
  episode.lastVerification = undefined;
  episode.step = 'starting';
  rememberTried(episode);
  clearTalonSearchAttribute(SEARCH_ATTRIBUTES.TalonOutcome);
}

/** Policies the memory window still holds count as tried: the next episode starts below them. */
export function rememberTried(episode: RememberingEpisode): void {
  episode.tried.clear();
  if (!episode.memory) return;
  for (const policy of triedWithin(episode.memory, Date.now(), episode.settings.memory)) episode.tried.add(policy);
  if (episode.tried.size > 0)
    upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonPolicy, value: [...episode.tried] });
}

/** Remembers one attempt of this episode with what became of it. */
export function rememberAttempt(
  episode: Pick<RememberingEpisode, 'memory' | 'number'>,
  policy: PolicyName,
  magnitude: number,
  fields: Pick<AttemptRecord, 'applied' | 'verified'>,
): void {
  if (!episode.memory) return;
  const outcome: MemoryOutcome = !fields.applied ? 'not_applied' : fields.verified === false ? 'unverified' : 'applied';
  episode.memory = remember(episode.memory, { policy, magnitude, at: Date.now(), episode: episode.number, outcome });
}
