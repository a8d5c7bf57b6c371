/** verify: whether the change took effect, noted on the attempt and in the audit trail. */
import type { ApplyPolicyResult, VerifyPolicyResult } from '../../src/domain/remediation';
import { PERMANENT } from '../activity-failures';
import { note } from '../operator';
import { noteAttempt, type Attempt, type Episode } from './episode';
import { kube } from './proxies';

/** verify: the change took effect (a dry run has nothing to verify); the attempt is noted either way. */
export async function verify(
  episode: Episode,
  attempt: Attempt,
  applied: ApplyPolicyResult,
): Promise<VerifyPolicyResult> {
  episode.step = 'verify';
  const verified = applied.dryRun
    ? { ok: true, observed: 'dry run: nothing to verify' }
    : await kube.verifyPolicy.executeWithOptions(
        {
          startToCloseTimeout: '5m',
          heartbeatTimeout: '30s',
          summary: `verify ${applied.summary}`,
          retry: { initialInterval: '2s', maximumAttempts: 3, nonRetryableErrorTypes: PERMANENT },
        },
        [{ applied }],
      );
  episode.lastVerification = verified.observed;
  await note(episode.operator, {
    attempt: attempt.number,
    policy: attempt.candidate.policy,
    decision: applied.dryRun ? 'dry_run' : verified.ok ? 'applied' : 'not_verified',
    why: `${applied.summary}${applied.dryRun ? '' : `; verified: ${verified.observed}`}`,
    reason: applied.dryRun ? 'TalonDryRun' : verified.ok ? 'TalonApplied' : 'TalonNotVerified',
    warning: !applied.dryRun && !verified.ok,
  });
  noteAttempt(episode, attempt, {
    summary: applied.summary,
    applied: !applied.dryRun,
    verified: verified.ok,
    detail: verified.observed,
  });
  return verified;
}
