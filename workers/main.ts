/**
 * The `talon` entry point: `bin/talon` (the package's bin and the image's ENTRYPOINT) calls `main`, and
 * `tsx workers/main.ts …` (the npm scripts) runs this file directly. It composes the command line of src/cli
 * with what only this layer has: the worker and webhook services and the worker's activities for the what-if.
 */
import type { Command } from 'commander';
import { buildCliProgram, runProgram } from '../src/cli/program';
import { registerServiceCommands } from './services';
import { workerWhatIf } from './what-if';

export function buildProgram(): Command {
  return buildCliProgram({ registerServices: registerServiceCommands, whatIf: workerWhatIf });
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv);
}

if (require.main === module) void main();
