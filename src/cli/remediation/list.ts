/** `talon list [--query <q>] [--limit <n>]`: remediations as a table, filtered by a visibility query. */
import { ServiceError } from '@temporalio/client';
import type { Command } from 'commander';
import type { RemediationSummary } from '../../client/talon-client';
import { CliError } from '../errors';
import { asArgument, checkLimit, checkQuery } from './arguments';
import { plural, print, type RemediationCliDeps } from './deps';
import { detailOf, grpcCode, withTalon } from './temporal';

export async function listAction(
  opts: { query?: string; limit?: number; json?: boolean } = {},
  deps: RemediationCliDeps = {},
): Promise<RemediationSummary[]> {
  const query = opts.query === undefined ? '' : checkQuery(opts.query);
  const limit = opts.limit ?? 50;
  const rows = await withTalon(deps, undefined, async (talon) => {
    try {
      return await talon.list(query, limit);
    } catch (err) {
      if (err instanceof ServiceError && grpcCode(err) === 3) {
        throw new CliError(`Temporal refused --query ${JSON.stringify(query)}: ${detailOf(err)}`, err);
      }
      throw err;
    }
  });
  print(deps, opts.json ? JSON.stringify(rows, null, 2) : formatList(rows));
  return rows;
}

const when = (d: Date): string => `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;

/** Remediations as a table, in the order Temporal lists them. Pure. */
export function formatList(rows: readonly RemediationSummary[]): string {
  if (rows.length === 0) return 'no remediations match';
  const header = ['STARTED', 'STATUS', 'OUTCOME', 'ALERT', 'TARGET', 'POLICIES', 'WORKFLOW ID'];
  const cells = rows.map((r) => [
    when(r.startTime),
    r.status,
    r.outcome ?? '-',
    r.alertName ?? '-',
    r.target ?? '-',
    r.policies?.length ? r.policies.join(',') : '-',
    r.workflowId,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: readonly string[]): string =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line), `${plural(rows.length, 'remediation')}`].join('\n');
}

export function registerListCommand(program: Command, deps: RemediationCliDeps): void {
  program
    .command('list')
    .description('a table of remediations, filtered by a Temporal visibility query over Talon’s search attributes')
    .option(
      '--query <query>',
      'e.g. \'TalonOutcome = "needs_human"\' or \'TalonNamespace = "shop"\'',
      asArgument(checkQuery),
    )
    .option('--limit <n>', 'at most this many rows (1-10000)', asArgument(checkLimit), 50)
    .option('--json', 'print the rows as JSON')
    .action(async (opts: { query?: string; limit: number; json?: boolean }) => {
      await listAction(opts, deps);
    });
}
