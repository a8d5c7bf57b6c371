/**
 * `npm test`: everything CI checks, in order, on a fresh machine or a warm one. Builds the tools if needed,
 * type-checks and lints, runs the unit tier, then runs the workflow, replay and integration tiers on the
 * test stack: its own instance of the local stack, on its own ports and state directory
 * (test/support/test-stack.ts), started fresh and stopped afterwards. A user's stack, and the demo on it,
 * is never touched. A missing server is a failure, never a skip.
 *
 *   npm test                              every check and tier, on a purged test stack
 *   npm test -- integration -- crash      only the named tiers (unit, workflows, replay, integration);
 *                                         arguments after the second -- go to jest
 *   npm test -- --keep integration        leave the test stack up afterwards; the next tier run reuses it
 *   npx tsx test/run-all.ts up | down     start (and keep) or stop and remove the test stack
 *   npx tsx test/run-all.ts env           its variables: eval "$(npx tsx test/run-all.ts env)"; npx jest …
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupTools } from '../tools/stack/setup';
import { TOOLS } from '../tools/stack/tools';
import { claimTestStack, exportLines, releaseTestStack, removeTestStack, testStackEnv } from './support/test-stack';

const log = (line: string): void => {
  process.stdout.write(`[test] ${line}\n`);
};

const TIERS = ['unit', 'workflows', 'replay', 'integration'] as const;
type Tier = (typeof TIERS)[number];
/** Tiers that need the test stack's servers (replay needs none). */
const SERVER_TIERS: readonly Tier[] = ['workflows', 'integration'];

interface Plan {
  readonly command: 'test' | 'up' | 'down' | 'env';
  /** Empty: the whole run (checks and every tier). */
  readonly tiers: readonly Tier[];
  readonly keep: boolean;
  readonly jestArgs: readonly string[];
}

function parseArgs(argv: readonly string[]): Plan {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const jestArgs = split < 0 ? [] : argv.slice(split + 1);
  const first = own[0];
  if (first === 'up' || first === 'down' || first === 'env') {
    if (own.length > 1) throw new Error(`\`${first}\` takes no other arguments`);
    return { command: first, tiers: [], keep: true, jestArgs: [] };
  }
  const tiers: Tier[] = [];
  let keep = false;
  for (const arg of own) {
    if (arg === '--keep') keep = true;
    else if ((TIERS as readonly string[]).includes(arg)) tiers.push(arg as Tier);
    else throw new Error(`unknown argument "${arg}": expected --keep, a tier (${TIERS.join(', ')}), up, down or env`);
  }
  if (jestArgs.length > 0 && tiers.length === 0) throw new Error('jest arguments need a tier: npm test -- <tier> -- …');
  return { command: 'test', tiers, keep, jestArgs };
}

/**
 * The integration tier runs in this many steps (jest --shard), one after another on the same stack: each step has
 * its own limit, so the limit stays a guard against a hung step rather than a cap on a suite that grows.
 */
const INTEGRATION_SHARDS = Number(process.env.TALON_TEST_INTEGRATION_SHARDS ?? 3);

interface ServerStep {
  readonly name: string;
  readonly tiers: readonly Tier[];
  readonly args: readonly string[];
}

/** The tiers after unit as steps: the workflow and replay tiers together, then the integration tier's shards. */
function serverSteps(tiers: readonly Tier[], jestArgs: readonly string[]): ServerStep[] {
  const first = tiers.filter((t) => t !== 'integration');
  const steps: ServerStep[] =
    first.length > 0 ? [{ name: `${first.join(', ')} tests`, tiers: first, args: jestArgs }] : [];
  if (!tiers.includes('integration')) return steps;
  // A named selection (npm test -- integration -- crash) is small: one step.
  const shards = jestArgs.length > 0 || !(INTEGRATION_SHARDS >= 1) ? 1 : Math.floor(INTEGRATION_SHARDS);
  for (let i = 1; i <= shards; i++) {
    steps.push({
      name: shards === 1 ? 'integration tests' : `integration tests (part ${i} of ${shards})`,
      tiers: ['integration'],
      args: shards === 1 ? jestArgs : [...jestArgs, `--shard=${i}/${shards}`],
    });
  }
  return steps;
}

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

/** No step may eat CI's 90 minutes: a hung step is killed and reported as such. */
const STEP_LIMIT_MS = Number(process.env.TALON_TEST_STEP_LIMIT_MS ?? 40 * 60_000);

/** Set by the first Ctrl-C / SIGTERM: the running step is stopped, later steps are skipped, the stack stopped. */
let interrupted = false;
let current: { pid: number } | undefined;

function signalStep(signal: NodeJS.Signals): void {
  if (!current) return;
  try {
    process.kill(-current.pid, signal);
  } catch {
    // already gone
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping the running step, then the test stack (again to quit at once)`);
    signalStep(signal);
  });
}

async function run(title: string, command: string, args: readonly string[]): Promise<boolean> {
  if (interrupted) return false;
  log(`${title}: ${command} ${args.join(' ')}`);
  const started = Date.now();
  // Its own process group, so a stop or the step limit reaches npx's children (jest and its workers) too.
  const child = spawn(command, args, { stdio: 'inherit', env: process.env, detached: true });
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    signalStep('SIGKILL');
  }, STEP_LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once('spawn', () => (current = { pid: child.pid! }));
    child.once('error', (err) => {
      log(`${title}: ${err.message}`);
      resolve(null);
    });
    child.once('exit', (status) => resolve(status));
  });
  clearTimeout(limit);
  current = undefined;
  const verdict =
    code === 0
      ? 'ok'
      : timedOut
        ? `KILLED after the ${STEP_LIMIT_MS / 60_000} min step limit`
        : interrupted
          ? 'INTERRUPTED'
          : `FAILED (exit ${code})`;
  log(`${title}: ${verdict} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return code === 0;
}

/** `args` end with --selectProjects and its names (it takes every word after it, so nothing may follow them). */
async function jest(title: string, args: readonly string[], tally: Tally): Promise<boolean> {
  const out = join(mkdtempSync(join(tmpdir(), 'talon-jest-')), 'result.json');
  // --forceExit: a handle leaked by a library (a gRPC retry timer, a watch) must not hold the run open.
  const ok = await run(title, 'npx', ['jest', '--forceExit', '--json', `--outputFile=${out}`, ...args]);
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

/** From here on this process and every child see the test stack's environment, never the user's stack. */
function adoptTestEnv(): ReturnType<typeof testStackEnv> {
  const test = testStackEnv(process.env);
  for (const name of Object.keys(process.env)) if (!(name in test.env)) delete process.env[name];
  Object.assign(process.env, test.env);
  return test;
}

async function main(plan: Plan): Promise<number> {
  const test = adoptTestEnv();
  const { config } = test;
  if (plan.command === 'env') {
    process.stdout.write(`${exportLines(test)}\n`);
    return 0;
  }
  if (plan.command === 'down') {
    await removeTestStack(config, log);
    return 0;
  }
  const started = Date.now();
  if (test.dropped.length > 0)
    log(`left out of the test environment (your own Talon's settings): ${test.dropped.join(', ')}`);
  log(
    `test stack: ${config.stateDir}, Temporal ${config.host}:${config.ports.temporal}, ` +
      `apiserver ${config.ports.kubeApiserver}, Prometheus ${config.ports.prometheus} (your stack is not touched)`,
  );
  log('setting up tools (cached after the first run)');
  await setupTools({ cacheDir: config.cacheDir, tools: TOOLS, log });
  if (plan.command === 'up') {
    let up = false;
    try {
      await claimTestStack(config, log, { reuse: true });
      up = true;
    } finally {
      await releaseTestStack(config, log, { keep: up });
    }
    return 0;
  }

  const everything = plan.tiers.length === 0;
  const tiers = everything ? TIERS : TIERS.filter((t) => plan.tiers.includes(t));
  const tally: Tally = { passed: 0, failed: 0, skipped: 0 };
  const failures: string[] = [];
  const step = (name: string, ok: boolean): void => {
    if (!ok) failures.push(name);
  };

  if (everything) {
    step('typecheck', await run('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']));
    step('lint', await run('lint', 'npx', ['eslint', '.']));
    step('format', await run('format', 'npx', ['prettier', '--check', '.']));
  }
  if (tiers.includes('unit'))
    step('unit', await jest('unit tests', [...plan.jestArgs, '--selectProjects', 'unit'], tally));

  const later = tiers.filter((t) => t !== 'unit');
  if (later.length > 0 && !interrupted) {
    const needsStack = later.some((t) => SERVER_TIERS.includes(t));
    // A full run always starts on a purged stack; a tier run may reuse one a --keep run left up.
    try {
      const ready =
        !needsStack ||
        (await claimTestStack(config, log, { reuse: !everything }).then(
          () => true,
          (err: unknown) => {
            log(`the test stack did not come up: ${err instanceof Error ? err.message : String(err)}`);
            return false;
          },
        ));
      for (const part of serverSteps(later, plan.jestArgs)) {
        if (interrupted) break;
        step(
          part.name,
          ready && (await jest(part.name, [...part.args, '--runInBand', '--selectProjects', ...part.tiers], tally)),
        );
      }
    } finally {
      if (needsStack) await releaseTestStack(config, log, { keep: plan.keep && !interrupted });
    }
  }

  log(`finished in ${((Date.now() - started) / 1000).toFixed(0)}s; failed steps: ${failures.join(', ') || 'none'}`);
  process.stdout.write(
    `talon: ${tally.passed} passed, ${tally.failed} failed${tally.skipped ? `, ${tally.skipped} skipped` : ''}\n`,
  );
  return failures.length === 0 && tally.failed === 0 && !interrupted ? 0 : 1;
}

Promise.resolve()
  .then(() => main(parseArgs(process.argv.slice(2))))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`[test] ${err instanceof Error ? err.message : String(err)}\n`);
      process.stdout.write('talon: 0 passed, 1 failed\n');
      process.exitCode = 1;
    },
  );
