/**
 * Undo steps a benchmark registers as it creates things (namespaces, nodes, workflows, child processes),
 * run newest first at the end of a measurement, on failure and on Ctrl-C, so a run leaves the shared
 * stack as it found it.
 */
import { errText, out } from './output';

const steps: (() => Promise<void>)[] = [];
let interrupted = false;

/** Registers an undo step. */
export function onCleanup(step: () => Promise<void>): void {
  steps.push(step);
}

/** How many steps are registered: pass it to `cleanupTo` to undo only what came after. */
export function cleanupDepth(): number {
  return steps.length;
}

/** Runs (newest first) the steps registered after `depth`; a failing step is reported, the rest still run. */
export async function cleanupTo(depth: number, label = 'cleanup'): Promise<void> {
  while (steps.length > depth) {
    const step = steps.pop()!;
    try {
      await step();
    } catch (err) {
      out(`  ${label}: ${errText(err)}`);
    }
  }
}

/** Runs every registered step. */
export function runCleanups(): Promise<void> {
  return cleanupTo(0, 'cleanup step failed');
}

/** Ctrl-C runs the cleanups, then exits 130; a second Ctrl-C exits at once. */
export function cleanupOnInterrupt(): void {
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    out('\ninterrupted: cleaning up (Ctrl-C again to abandon)…');
    void runCleanups().then(() => process.exit(130));
  });
}
