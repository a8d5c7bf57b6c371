/**
 * One attempt of an episode: gather → (undo a change that made things worse) → decide → guard → apply → verify →
 * cool-down. Each step is its own module, named as the history's summaries read.
 */
import { undoChange, undoIfWorse, type AppliedAttempt } from '../episode-rollback';
import { policySettings, resolveOperator } from '../operator';
import { apply } from './apply';
import { coolDown } from './cool-down';
import { decide } from './decide';
import { operationId, type Episode, type Verdict } from './episode';
import { gather } from './gather';
import { guard } from './guard';
import { verify } from './verify';

/** One policy, start to end: a verdict ends the episode, undefined moves on to the next attempt. */
export async function attemptPolicy(episode: Episode, number: number): Promise<Verdict | undefined> {
  // The policy of the alert this attempt will act on (the newest firing member, an observed alert before a
  // forecast): a real alert that joined after a predicted one is decided under its own autonomy.
  const acting = episode.members.target()?.alert ?? episode.current;
  const policy = await resolveOperator(episode.operator, acting, number);
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
