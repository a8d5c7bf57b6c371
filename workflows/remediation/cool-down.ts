/** cool-down: the wait after a change (or a rollback) before the alert is judged again. */
import { condition } from '@temporalio/workflow';
import { cooldownFor, type CooldownDecision } from '../../src/domain/cooldown';
import type { Episode } from './episode';

/** cool-down: a durable timer, as long as the workload's history suggests; ends early when resolved or cancelled. */
export async function coolDown(episode: Episode, number: number, after: string): Promise<void> {
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
