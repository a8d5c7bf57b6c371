/**
 * `npm test`: everything CI checks, in order, on a fresh machine or a warm one. Builds the tools if
 * needed, type-checks and lints, runs the unit tier, brings up the local stack (leaving alone a stack
 * that was already running), runs the workflow, replay and integration tiers against it, and stops
 * what it started. A missing server is a failure, never a skip.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStackConfig } from '../src/config/local-stack';
import { setupTools } from '../tools/stack/setup';
import { COMPONENTS, stackDown, stackUp } from '../tools/stack/stack';
import { TOOLS } from '../tools/stack/tools';

const log = (line: string): void => {
  process.stdout.write(`[test] ${line}\n`);
};

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

/** No step may eat CI's 90 minutes: a hung step is killed and reported as such. */
const STEP_LIMIT_MS = Number(process.env.TALON_TEST_STEP_LIMIT_MS ?? 40 * 60_000);

function run(title: string, command: string, args: string[]): boolean {
  log(`${title}: ${command} ${args.join(' ')}`);
  const started = Date.now();
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: process.env,
    timeout: STEP_LIMIT_MS,
    killSignal: 'SIGKILL',
  });
  const timedOut = result.error !== undefined && (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
  const verdict =
    result.status === 0
      ? 'ok'
      : timedOut
        ? `KILLED after the ${STEP_LIMIT_MS / 60_000} min step limit`
        : `FAILED (exit ${result.status})`;
  log(`${title}: ${verdict} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return result.status === 0;
}

function jest(title: string, args: string[], tally: Tally): boolean {
  const out = join(mkdtempSync(join(tmpdir(), 'talon-jest-')), 'result.json');
  // --forceExit: a handle leaked by a library (a gRPC retry timer, a watch) must not hold the run open.
  const ok = run(title, 'npx', ['jest', ...args, '--forceExit', '--json', `--outputFile=${out}`]);
  try {
    const result = JSON.parse(readFileSync(out, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
      numTodoTests: number;
      numRuntimeErrorTestSuites: number;
    };
    tally.passed += result.numPassedTests;
    tally.failed += result.numFailedTests + result.numRuntimeErrorTestSuites;
    tally.skipped += result.numPendingTests + result.numTodoTests;
  } catch {
    tally.failed += 1;
  }
  return ok;
}

async function main(): Promise<number> {
  const started = Date.now();
  const config = loadStackConfig();
  const tally: Tally = { passed: 0, failed: 0, skipped: 0 };
  const failures: string[] = [];
  const step = (name: string, ok: boolean): void => {
    if (!ok) failures.push(name);
  };

  log('setting up tools (cached after the first run)');
  await setupTools({ cacheDir: config.cacheDir, tools: TOOLS, log });

  step('typecheck', run('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']));
  step('lint', run('lint', 'npx', ['eslint', '.']));
  step('format', run('format', 'npx', ['prettier', '--check', '.']));
  step('unit', jest('unit tests', ['--selectProjects', 'unit'], tally));

  const wasRunning = new Set<string>();
  for (const c of COMPONENTS) if (await c.isRunning(config)) wasRunning.add(c.name);
  if (process.env.CI === 'true' && wasRunning.size === 0) {
    // CI starts from a clean cluster and Temporal database, whatever earlier sessions left behind.
    log('CI: purging the stack state of earlier runs');
    await stackDown(config, log, { purge: true });
  }
  const up = await stackUp(config, log);
  try {
    step(
      'server tiers',
      jest(
        'workflow, replay and integration tests',
        ['--selectProjects', 'workflows', 'replay', 'integration', '--runInBand'],
        tally,
      ),
    );
  } finally {
    if (up.started.length > 0 && wasRunning.size === 0) await stackDown(config, log);
    else if (up.started.length > 0)
      log(`leaving the stack running (it was partly up before: ${[...wasRunning].join(', ')})`);
  }

  log(`finished in ${((Date.now() - started) / 1000).toFixed(0)}s; failed steps: ${failures.join(', ') || 'none'}`);
  process.stdout.write(
    `talon: ${tally.passed} passed, ${tally.failed} failed${tally.skipped ? `, ${tally.skipped} skipped` : ''}\n`,
  );
  return failures.length === 0 && tally.failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`[test] ${err instanceof Error ? err.message : String(err)}\n`);
    process.stdout.write('talon: 0 passed, 1 failed\n');
    process.exitCode = 1;
  },
);
