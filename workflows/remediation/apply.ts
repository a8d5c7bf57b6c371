/** apply: the one Kubernetes change of an attempt. */
import type { ApplyPolicyResult } from '../../src/domain/remediation';
import { failureMessage, failureType, PERMANENT } from '../activity-failures';
import { note, operatorLimits } from '../operator';
import { noteAttempt, operationId, type Attempt, type Episode } from './episode';
import { kube } from './proxies';

/** apply: the one Kubernetes change; a permanent failure is noted and the next policy gets its turn (undefined). */
export async function apply(episode: Episode, attempt: Attempt): Promise<ApplyPolicyResult | undefined> {
  const { settings } = episode;
  const { decision, candidate, label } = attempt;
  episode.step = 'apply';
  try {
    return await kube.applyPolicy.executeWithOptions(
      {
        startToCloseTimeout: '5m',
        heartbeatTimeout: '30s',
        summary: `${settings.dryRun ? 'dry-run ' : ''}${label} (${decision.source}${decision.fallbackReason ? ': ' + decision.fallbackReason : ''})`,
        retry: {
          initialInterval: '2s',
          backoffCoefficient: 2,
          maximumInterval: '30s',
          maximumAttempts: 8,
          nonRetryableErrorTypes: PERMANENT,
        },
      },
      [
        {
          target: episode.pod,
          policy: candidate.policy,
          magnitude: candidate.magnitude,
          operationId: operationId(episode, attempt.number),
          dryRun: settings.dryRun,
          ...operatorLimits(episode.operator),
        },
      ],
    );
  } catch (err) {
    const type = failureType(err);
    if (type && PERMANENT.includes(type)) {
      const detail = `${type}: ${failureMessage(err)}`;
      noteAttempt(episode, attempt, { summary: label, applied: false, detail });
      await note(episode.operator, {
        attempt: attempt.number,
        policy: candidate.policy,
        decision: 'refused',
        why: `${label} not applied: ${detail}`,
        reason: 'TalonChangeRefused',
        warning: true,
      });
      return undefined;
    }
    throw err;
  }
}
