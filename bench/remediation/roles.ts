/**
 * The benchmark's child processes are its own entry script run with a role (`worker`, `poster`) as first
 * argument: bench/remediation.ts under tsx, .bench-dist/bench/remediation.js when compiled.
 */
import { extname, join } from 'node:path';
import { forkChild, type ChildHandle } from '../support/children';

const ENTRY = join(__dirname, '..', `remediation${extname(__filename)}`);

export function forkRole<In>(
  role: 'worker' | 'poster',
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): ChildHandle<In> {
  return forkChild<In>(ENTRY, role, args, env);
}
