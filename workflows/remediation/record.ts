/** The record step: an episode's verdict, written where operators look for it. */
import { workflowInfo } from '@temporalio/workflow';
import type { RankedPolicy } from '../../src/domain/policy';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../../src/contracts/search-attributes';
import { note } from '../operator';
import type { Episode, Verdict } from './episode';
import { talonMetrics, TYPE } from './proxies';

/** record: the outcome to the search attributes, the worker's counters and InfluxDB (best effort). */
export async function record(episode: Episode, verdict: Verdict): Promise<RemediateAlertResult> {
  const { pod, workload, attempts } = episode;
  const { outcome, reason } = verdict;
  episode.outcome = outcome;
  episode.step = 'done';
  episode.endedAt = Date.now();
  upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonOutcome, value: outcome });
  talonMetrics.workflowFinished(TYPE, outcome);
  await note(episode.operator, {
    decision: `outcome_${outcome}`,
    why: reason,
    ...(episode.cancelled ? { who: episode.cancelled.by } : {}),
    reason: outcome === 'needs_human' ? 'TalonNeedsHuman' : 'TalonFinished',
    warning: outcome === 'needs_human',
  });
  const last = attempts.at(-1);
  if (last && workload) {
    const info = workflowInfo();
    await episode.reads.metrics.recordOutcome
      .executeWithOptions({ summary: `record outcome ${outcome} of ${last.policy} in InfluxDB` }, [
        {
          workflowId: info.workflowId,
          namespace: pod.namespace,
          workload,
          pod: pod.pod,
          policy: last.policy as RankedPolicy['policy'],
          magnitude: last.magnitude,
          outcome,
          decisionSource: last.source ?? 'rules',
          attempt: attempts.length,
          at: Math.floor(Date.now() / 1000),
          durationSeconds: Math.round((Date.now() - info.startTime.getTime()) / 1000),
        },
      ])
      .catch(() => undefined);
  }
  return {
    outcome,
    target: episode.targetName,
    attempts: [...attempts],
    notifications: episode.notifications,
    reason,
    ...(episode.memory ? { episodes: episode.memory.episodes } : {}),
  };
}
