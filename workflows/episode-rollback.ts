/**
 * Undoing a change (issue 14, gap 6): when verification did not see a change take effect, or the alert's signal
 * is worse after the cool-down than in the window the change was decided on, the change is restored to the
 * pre-change snapshot it recorded (the rollbackPolicy activity), the restore is verified, and the attempt and the
 * memory say so. Deterministic: the judgement is src/domain/rollback.ts on windows recorded in history.
 */
import { patched, proxyActivities } from '@temporalio/workflow';
import type { RemediationActivities } from '../activities/remediation';
import type { RollbackActivities } from '../activities/rollback';
import type { TalonAlert } from '../src/domain/alert';
import type { ApplyPolicyResult } from '../src/domain/remediation';
import { alertResource, alertSignal, compareRates, compareSignal } from '../src/domain/rollback';
import { reviseOutcome, type TargetMemory } from '../src/domain/target-memory';
import type { FeatureWindow, GatherOutcome } from '../src/domain/window';
import type { AttemptRecord, RemediationStep } from '../src/contracts/alert-episode';
import type { RemediationSettings } from '../src/contracts/remediate-alert';
import { failureMessage, failureType, PERMANENT } from './activity-failures';
import { note as noteDecision, type OperatorState } from './operator';

/** A change that was applied and verified, with the window it was decided on. */
export interface AppliedAttempt {
  readonly number: number;
  readonly operationId: string;
  readonly applied: ApplyPolicyResult;
  readonly window?: FeatureWindow;
}

/** What of a remediation episode a rollback reads and notes on (remediation/episode.ts's Episode has all of it). */
export interface UndoingEpisode {
  readonly settings: RemediationSettings;
  readonly attempts: AttemptRecord[];
  readonly current: TalonAlert;
  memory?: TargetMemory;
  readonly number: number;
  step: RemediationStep;
  lastChange?: AppliedAttempt;
  /** The operator policy: a rollback is a change, so it goes into the audit trail and an Event too. */
  readonly operator?: OperatorState;
}

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 8,
  nonRetryableErrorTypes: PERMANENT,
};
/**
 * An I/O or network alert's change is judged on the pod's own rate (disk I/O, dropped packets), not on CPU: since
 * their changes are undoable, a CPU wobble must not undo a data offload or a rate cap. Histories from before
 * judged every alert on its CPU or memory share.
 */
const OWN_SIGNAL_PATCH = 'talon-rollback-own-signal-v1';

const undo = proxyActivities<RollbackActivities>({ startToCloseTimeout: '5m', heartbeatTimeout: '30s', retry });
const kube = proxyActivities<RemediationActivities>({ startToCloseTimeout: '5m', heartbeatTimeout: '30s', retry });

/**
 * After a cool-down the alert still fires: if its signal is worse now than in the window the last change was
 * decided on, that change is undone (true) before anything else is tried. Judged once per change.
 */
export async function undoIfWorse(
  episode: UndoingEpisode,
  gathered: GatherOutcome | { readonly kind: 'error' },
): Promise<boolean> {
  const last = episode.lastChange;
  episode.lastChange = undefined;
  if (!last?.window || gathered.kind !== 'window') return false;
  const own = alertSignal(episode.current);
  const signal =
    (own === 'io' || own === 'network') && patched(OWN_SIGNAL_PATCH)
      ? compareRates(last.window, gathered, own, episode.settings.rollback)
      : compareSignal(last.window, gathered, alertResource(episode.current), episode.settings.rollback);
  if (!signal.worse) return false;
  return undoChange(episode, last, signal.explanation);
}

/**
 * rollback: restores the change to its pre-change snapshot, verifies the restore, and notes it on the attempt
 * and in the memory (a rolled-back change no longer counts as growth, and its policy as tried). A rollback that
 * cannot be done (no automatic undo, changed by someone since) is noted and the remediation moves on.
 */
export async function undoChange(episode: UndoingEpisode, change: AppliedAttempt, why: string): Promise<boolean> {
  episode.step = 'rollback';
  const { applied } = change;
  const result = await undo.rollbackPolicy
    .executeWithOptions({ summary: `roll back ${applied.summary}: ${why}` }, [
      {
        applied,
        appliedOperationId: change.operationId,
        operationId: `${change.operationId}/rollback`,
        dryRun: episode.settings.dryRun,
      },
    ])
    .catch((err: unknown) => {
      const type = failureType(err);
      if (!type || !PERMANENT.includes(type)) throw err;
      return { rolledBack: false, summary: `${type}: ${failureMessage(err)}`, reason: failureMessage(err) };
    });
  let note = `${why}; ${result.rolledBack ? result.summary : `not rolled back: ${result.reason ?? result.summary}`}`;
  if (result.rolledBack && 'expectation' in result) {
    episode.step = 'verify';
    const check = await kube.verifyPolicy.executeWithOptions(
      {
        startToCloseTimeout: '5m',
        heartbeatTimeout: '30s',
        summary: `verify ${result.summary}`,
        retry: { initialInterval: '2s', maximumAttempts: 3, nonRetryableErrorTypes: PERMANENT },
      },
      [{ applied: { ...applied, summary: result.summary, changes: result.changes, expectation: result.expectation } }],
    );
    note += check.ok ? ` (${check.observed})` : ` (restore NOT verified: ${check.observed})`;
    if (episode.memory) {
      episode.memory = reviseOutcome(episode.memory, episode.number, applied.policy, 'rolled_back');
    }
  }
  const index = episode.attempts.findLastIndex((a) => a.attempt === change.number);
  const record = episode.attempts[index];
  if (record)
    episode.attempts[index] = result.rolledBack
      ? { ...record, rolledBack: note }
      : { ...record, detail: `${record.detail ?? ''}; ${note}` };
  await noteDecision(episode.operator, {
    attempt: change.number,
    policy: applied.policy,
    decision: result.rolledBack ? 'rolled_back' : 'rollback_failed',
    why: `${applied.summary} ${result.rolledBack ? 'rolled back' : 'not rolled back'}: ${note}`,
    reason: result.rolledBack ? 'TalonRolledBack' : 'TalonRollbackFailed',
    warning: true,
  });
  return result.rolledBack;
}
