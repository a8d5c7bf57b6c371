/** Argument checks: pure, throw CliError; commander sees them through `asArgument`. */
import { InvalidArgumentError } from 'commander';
import { CliError, errorMessage } from '../errors';

export function checkWorkflowId(value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw new CliError('a workflow id is required');
  if (value.length > 1000) throw new CliError('a workflow id is at most 1000 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new CliError('a workflow id has no control characters');
  return value;
}

/** Who answers or cancels: recorded in the workflow, so it must name someone (the workflow's own bound). */
export function checkWho(value: string | undefined, command: string): string {
  const who = value?.trim();
  if (!who) throw new CliError(`${command} needs --by <who>: the person (or system) answering, for the record`);
  if (who.length > 200) throw new CliError('--by is at most 200 characters');
  return who;
}

export function checkLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > 10_000) {
    throw new CliError(`--limit must be a whole number from 1 to 10000, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function checkRunId(value: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new CliError(`--run must be a run id (a UUID), got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkQuery(value: string): string {
  if (value.trim() === '') throw new CliError('--query must not be empty (leave it out to list everything)');
  return value;
}

export function checkShards(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new CliError(`--shards must be an integer from 1 to 64, got ${value}`);
  return n;
}

export function checkAttempts(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 10) {
    throw new CliError(`--max-attempts must be a whole number from 1 to 10, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function asArgument<T>(check: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return check(value);
    } catch (err) {
      throw new InvalidArgumentError(errorMessage(err));
    }
  };
}

/** The `<workflowId>` argument of the commands that act on one remediation. */
export const workflowIdArgument = [
  '<workflowId>',
  'the remediation’s workflow id, e.g. remediate/<ns>/<workload> or node-overload/<alert>/<node>/<fp>',
] as const;
