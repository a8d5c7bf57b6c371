/** gather: the pod to act on (the newest firing member whose pod still exists), then its metrics window. */
import type { TargetActivities } from '../../activities/target';
import { describeTarget } from '../../src/domain/alert';
import type { PodTarget } from '../../src/domain/remediation';
import { failureMessage, failureType } from '../activity-failures';
import type { Episode, Gathered, Verdict } from './episode';

/**
 * The newest firing member whose pod still exists, read as it is now (owner, node, requests, limits). A member
 * whose pod is gone (replaced by a rollout, evicted, deleted) stops counting as firing and the next one is read.
 */
export async function readTargetPod(
  episode: Episode,
): Promise<Awaited<ReturnType<TargetActivities['readTarget']>> | Verdict> {
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
export async function gather(episode: Episode): Promise<Gathered | Verdict> {
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
