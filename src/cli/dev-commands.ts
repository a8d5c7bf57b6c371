/**
 * Commands whose code is not part of the runtime: the local stack and demo (tools/stack), the taxonomy
 * measurement (tools/taxonomy) and model training (training/, which needs tfjs, a dev dependency). They are
 * listed in `talon --help` like any command, but their code is loaded only when one of them is invoked,
 * so `talon worker` and `talon webhook` never load it and the published package, which does not contain
 * it, answers with a clear error instead of failing at start.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { repoRoot } from '../config/repo-root';
import { CliError } from './errors';

/** What a development module exports for each of its commands: fills in options and action. */
export type Configure = (cmd: Command) => void;

/**
 * Adds `name` under `parent` with only its description; `configure` gives it its options, arguments and
 * action (or subcommands) just before commander parses its arguments, so `--help` shows them too.
 */
export function devCommand(parent: Command, name: string, description: string, configure: Configure): Command {
  const cmd = parent.command(name).description(description);
  let configured = false;
  const ensureConfigured = (): void => {
    if (configured) return;
    configured = true;
    configure(cmd);
    // commander saved the option values before the hook ran; save again so a later parse keeps the defaults
    cmd.saveStateBeforeParse();
  };
  parent.hook('preSubcommand', (_parent, sub) => {
    if (sub === cmd) ensureConfigured();
  });
  // `talon help <name>` prints the command's help without dispatching to it
  const helpInformation = cmd.helpInformation.bind(cmd);
  cmd.helpInformation = (context) => {
    ensureConfigured();
    return helpInformation(context);
  };
  return cmd;
}

/**
 * Loads the function `exportName` of a module of tools/ or training/, given by its path from the repository
 * root (no extension). Neither folder is part of the build (a type import would pull them in, so callers
 * name the function's type themselves; test/unit/cli-entry.test.ts checks each against the module). The
 * CLI runs from dist/ once built: there the module runs from its TypeScript source through tsx, which a
 * clone has (a dev dependency).
 */
export function loadDevExport<F extends (...args: never[]) => unknown>(
  modulePath: string,
  exportName: string,
  command: string,
): F {
  const source = join(repoRoot(), `${modulePath}.ts`);
  if (!existsSync(source)) {
    throw new CliError(
      `\`talon ${command}\` is a development command: it runs from a clone of the repository (${modulePath} is not part of the published package)`,
    );
  }
  let loaded: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if (__filename.endsWith('.js')) require('tsx/cjs');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(source) as Record<string, unknown>;
  } catch (err) {
    const missing = missingPackage(err);
    if (missing === undefined) throw err;
    throw new CliError(
      `\`talon ${command}\` needs the development dependencies, and ${missing} is not installed: run \`npm install\` (without --omit=dev) in the repository`,
      err,
    );
  }
  const fn = loaded[exportName];
  if (typeof fn !== 'function') throw new Error(`${modulePath} has no function ${exportName}`);
  return fn as F;
}

/** The npm package a failed require could not find, if that is why it failed (not a missing file of ours). */
export function missingPackage(err: unknown): string | undefined {
  if (!(err instanceof Error) || (err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') return undefined;
  const name = /Cannot find (?:module|package) '([^']+)'/.exec(err.message)?.[1];
  if (name === undefined || name.startsWith('.') || name.startsWith('/')) return undefined;
  const parts = name.split('/');
  return name.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
