/**
 * The apply step's entry in the decision log: what was actually applied for an attempt (or refused, or failed,
 * or only dry-run), keyed by workflow id, run id and the attempt number the workflow puts at the end of its
 * operation id. A decorator around the remediation activities, so the actuation code and the workflow stay as
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

/** The attempt number at the end of `<workflowId>/<runId>/<attempt>`, if the id has that shape. */
export function attemptOfOperation(operationId: string): number | undefined {
  const last = operationId.slice(operationId.lastIndexOf('/') + 1);
  const n = Number(last);
  return /^\d+$/.test(last) && Number.isSafeInteger(n) && n >= 1 ? n : undefined;
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
    const attempt = attemptOfOperation(input.operationId);
    if (!execution || attempt === undefined) return;
    try {
      log.recordAction({
        workflowId: execution.workflowId,
        runId: execution.runId,
        attempt,
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
