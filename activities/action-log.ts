/**
 * The apply step's entry in the decision log: what was actually applied for an attempt (or refused, or failed,
 * or only dry-run), keyed by workflow id, run id, episode and the attempt number the workflow puts at the end of
 * its operation id. A decorator around the remediation activities, so the actuation code and the workflow stay as
 * they are; logging never changes the activity's result or error.
 */
import type { ActionRecord, DecisionLogWriter } from '../src/domain/decision-log';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../src/domain/remediation';
import { activityContext } from './context';

interface Applies {
  applyPolicy(input: ApplyPolicyInput): Promise<ApplyPolicyResult>;
}

const describe = (error: unknown): string => {
  const cause = error instanceof Error && 'type' in error && typeof error.type === 'string' ? `${error.type}: ` : '';
  return error instanceof Error ? `${cause}${error.message}` : String(error);
};

/**
 * The episode and attempt at the end of an operation id: `<workflowId>/<runId>/<attempt>` (the first episode, and
 * every history from before escalation memory) or `<workflowId>/<runId>/e<episode>.<attempt>` (later episodes).
 */
export function slotOfOperation(operationId: string): { episode: number; attempt: number } | undefined {
  const last = operationId.slice(operationId.lastIndexOf('/') + 1);
  const match = /^(?:e(\d+)\.)?(\d+)$/.exec(last);
  if (!match) return undefined;
  const episode = match[1] === undefined ? 1 : Number(match[1]);
  const attempt = Number(match[2]);
  const valid = (n: number) => Number.isSafeInteger(n) && n >= 1;
  return valid(episode) && valid(attempt) ? { episode, attempt } : undefined;
}

/** The attempt number alone (see slotOfOperation). */
export function attemptOfOperation(operationId: string): number | undefined {
  return slotOfOperation(operationId)?.attempt;
}

/** `activities` with applyPolicy logged to `log`; every other activity is passed through untouched. */
export function withActionLog<A extends Applies>(
  activities: A,
  log: DecisionLogWriter,
  now: () => number = Date.now,
): A {
  const apply = activities.applyPolicy.bind(activities);
  const record = (input: ApplyPolicyInput, fields: Pick<ActionRecord, 'applied' | 'noop'> & Partial<ActionRecord>) => {
    const execution = activityContext()?.info.workflowExecution;
    const slot = slotOfOperation(input.operationId);
    if (!execution || slot === undefined) return;
    try {
      log.recordAction({
        workflowId: execution.workflowId,
        runId: execution.runId,
        attempt: slot.attempt,
        ...(slot.episode > 1 ? { episode: slot.episode } : {}),
        at: now(),
        namespace: input.target.namespace,
        pod: input.target.pod,
        policy: input.policy,
        magnitude: input.magnitude,
        dryRun: input.dryRun,
        ...fields,
      });
    } catch {
      // Evidence, not a precondition: the change stands without its log entry.
    }
  };
  return {
    ...activities,
    async applyPolicy(input: ApplyPolicyInput): Promise<ApplyPolicyResult> {
      try {
        const result = await apply(input);
        record(input, { applied: !result.dryRun, noop: result.noop, dryRun: result.dryRun, summary: result.summary });
        return result;
      } catch (error) {
        record(input, { applied: false, noop: false, error: describe(error) });
        throw error;
      }
    },
  };
}
