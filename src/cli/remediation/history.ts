/** `talon history export <workflowId>`: a remediation's event history as JSON, as the replay test reads it. */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Command } from 'commander';
import { CliError } from '../errors';
import { asArgument, checkRunId, checkWorkflowId, workflowIdArgument } from './arguments';
import { plural, print, type RemediationCliDeps } from './deps';
import { withTalon } from './temporal';

export const HISTORY_DIR = join('test', 'replay', 'histories');

/** A file name the replay test picks up: the id's safe characters, everything else a dash. Pure. */
export function historyFileName(workflowId: string): string {
  const safe = workflowId
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 200);
  return `${safe || 'history'}.json`;
}

export function defaultHistoryPath(workflowId: string, cwd: string = process.cwd()): string {
  return join(cwd, HISTORY_DIR, historyFileName(workflowId));
}

export async function historyExportAction(
  workflowId: string,
  opts: { run?: string; out?: string; force?: boolean } = {},
  deps: RemediationCliDeps = {},
): Promise<{ path: string; events: number }> {
  const id = checkWorkflowId(workflowId);
  const runId = opts.run === undefined ? undefined : checkRunId(opts.run);
  let path: string;
  if (opts.out !== undefined) {
    if (opts.out.trim() === '') throw new CliError('--out must name a file');
    path = resolve(opts.out);
  } else {
    path = defaultHistoryPath(id);
    if (!existsSync(dirname(path))) {
      throw new CliError(`${HISTORY_DIR} does not exist here: run from the repository root or pass --out <file>`);
    }
  }
  if (!opts.force && existsSync(path)) {
    throw new CliError(`${path} exists: pass --force to overwrite it, or --out <file>`);
  }
  const history = await withTalon(deps, id, (talon) => talon.history(id, runId));
  const events = history.events?.length ?? 0;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${historyToJSON(history)}\n`);
  print(
    deps,
    `wrote ${plural(events, 'event')} of ${id}${runId ? ` (run ${runId})` : ''} to ${path}` +
      (path.includes(HISTORY_DIR) ? '; npm run test:replay now replays it' : ''),
  );
  return { path, events };
}

export function registerHistoryCommands(program: Command, deps: RemediationCliDeps): void {
  program
    .command('history')
    .description('workflow histories')
    .command('export')
    .description(`write a remediation's event history as JSON, the format the replay test replays`)
    .argument(...workflowIdArgument, asArgument(checkWorkflowId))
    .option('--run <runId>', 'a particular run (default: the latest)', asArgument(checkRunId))
    .option('--out <file>', `where to write it (default: ${HISTORY_DIR}/<sanitised id>.json)`)
    .option('--force', 'overwrite an existing file')
    .action(async (workflowId: string, opts: { run?: string; out?: string; force?: boolean }) => {
      await historyExportAction(workflowId, opts, deps);
    });
}
