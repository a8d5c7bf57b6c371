/**
 * One alert episode, from first notification to outcome: gather → decide → guard → apply → verify →
 * cool-down, escalating to the next-best policy while the alert keeps firing, up to a bounded number
 * of attempts, then `needs_human`; finally record. Each step is one module of workflows/remediation/, named as
 * the history's summaries read. Deterministic: the world is touched only by activities, time only through
 * workflow timers, so a worker or server restart at any point loses nothing.
 */
import { continueAsNew } from '@temporalio/workflow';
import type { RemediateAlertInput, RemediateAlertResult } from '../src/contracts/remediate-alert';
import { beginEpisode, watchForRefire } from './episode-memory';
import { attemptPolicy } from './remediation/attempt-policy';
import { closingVerdict, resolvedBefore, type Episode, type Verdict } from './remediation/episode';
import { openEpisode } from './remediation/open-episode';
import { MAX_WATCH_HISTORY_EVENTS } from './remediation/proxies';
import { record } from './remediation/record';

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
