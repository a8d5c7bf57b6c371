/**
 * `talon audit [--since 24h] [--query <q>] [--limit n] [--json]`: what Talon decided and changed, with who, what,
 * why and the policy version, from Temporal visibility (each alert workflow's audit memo), oldest first.
 */
import { ServiceError } from '@temporalio/client';
import type { Command } from 'commander';
import type { AuditRecord } from '../../client/talon-client';
import { CliError } from '../errors';
import { asArgument, checkLimit, checkQuery } from './arguments';
import { plural, print, type RemediationCliDeps } from './deps';
import { detailOf, grpcCode, withTalon } from './temporal';

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (`90m`, `24h`, `7d`) or an ISO-8601 instant. */
export function parseSince(value: string, now = Date.now()): Date {
  const duration = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim());
  if (duration) return new Date(now - Number(duration[1]) * UNITS[duration[2]!]!);
  const at = Date.parse(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && Number.isFinite(at)) return new Date(at);
  throw new CliError(
    `--since must be a duration such as 90m, 24h or 7d, or an ISO-8601 time; got ${JSON.stringify(value)}`,
  );
}

export async function auditAction(
  opts: { since?: string; query?: string; limit?: number; json?: boolean } = {},
  deps: RemediationCliDeps = {},
): Promise<AuditRecord[]> {
  const since = parseSince(opts.since ?? '24h');
  const query = opts.query === undefined ? undefined : checkQuery(opts.query);
  const rows = await withTalon(deps, undefined, async (talon) => {
    try {
      return await talon.audit({ since, ...(query ? { query } : {}), limit: opts.limit ?? 200 });
    } catch (err) {
      if (err instanceof ServiceError && grpcCode(err) === 3) {
        throw new CliError(`Temporal refused --query ${JSON.stringify(query)}: ${detailOf(err)}`, err);
      }
      throw err;
    }
  });
  print(deps, opts.json ? JSON.stringify(rows, null, 2) : formatAudit(rows, since));
  return rows;
}

/** The trail as a table, oldest first. Pure. */
export function formatAudit(rows: readonly AuditRecord[], since: Date): string {
  if (rows.length === 0) return `no decisions since ${since.toISOString()}`;
  const header = ['AT', 'WHO', 'DECISION', 'POLICY', 'TARGET', 'POLICY VERSION', 'WHY', 'WORKFLOW ID'];
  const cells = rows.map((r) => [
    `${r.at.slice(0, 19).replace('T', ' ')}Z`,
    r.who,
    r.decision,
    r.policy ?? '-',
    r.target ?? '-',
    r.policyVersion ?? '-',
    r.why.length > 100 ? `${r.why.slice(0, 99)}…` : r.why,
    r.workflowId,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: readonly string[]): string =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line), plural(rows.length, 'decision')].join('\n');
}

export function registerAuditCommand(program: Command, deps: RemediationCliDeps): void {
  program
    .command('audit')
    .description('what Talon decided and changed (who, what, why, policy version), from Temporal visibility')
    .option('--since <when>', 'a duration back from now (90m, 24h, 7d) or an ISO-8601 time', '24h')
    .option(
      '--query <query>',
      'narrow with a visibility query, e.g. \'TalonNamespace = "shop"\'',
      asArgument(checkQuery),
    )
    .option('--limit <n>', 'at most this many entries, the newest (1-10000)', asArgument(checkLimit), 200)
    .option('--json', 'print the entries as JSON')
    .action(async (opts: { since: string; query?: string; limit: number; json?: boolean }) => {
      await auditAction(opts, deps);
    });
}
