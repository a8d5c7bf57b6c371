/**
 * The stack instance the test tiers run on: the same embedded stack as `npm start`, with its own state
 * directory and its own ports, so a user's stack (and the demo on it) is never touched by a test and a test
 * never meets workloads it did not create. Only the tool cache is shared. `test/run-all.ts` starts and stops
 * it and hands its environment to every child; helpers then find it through the ordinary stack variables.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultCacheDir, loadStackConfig, type StackConfig } from '../../src/config/local-stack';
import { COMPONENTS, stackDown, stackUp } from '../../tools/stack/stack';

/**
 * The test instance's ports: the default ports' last digits in the 20000s, so they read as "the test copy of
 * Temporal's 7233", and all below Linux's ephemeral range (32768+) where outgoing connections take ports.
 */
const TEST_PORTS = {
  TALON_TEMPORAL_PORT: 27233,
  TALON_TEMPORAL_UI_PORT: 28233,
  TALON_KUBE_APISERVER_PORT: 26443,
  TALON_KWOK_PORT: 20247,
  TALON_ETCD_PORT: 22379,
  TALON_PROMETHEUS_PORT: 29090,
  TALON_ALERTMANAGER_PORT: 29093,
  TALON_INFLUXDB_PORT: 28086,
  TALON_WEBHOOK_PORT: 28080,
} as const;

/** Shifts every test port (and picks another state directory), for a second `npm test` beside the first. */
export const PORT_OFFSET_VARIABLE = 'TALON_TEST_PORT_OFFSET';
const MAX_OFFSET = 3_000;

/**
 * Variables a user's shell may hold that a test run keeps: where tools are cached, and the test knobs. Every
 * other TALON_* variable (an address, a kubeconfig, a dry-run switch) is about the user's own Talon and would
 * point tests elsewhere or change what they prove, so it is dropped.
 */
const KEPT = /^TALON_(CACHE_DIR|TEST_.+|RECORD_HISTORIES)$/;
/** Makes the worker believe it runs inside a cluster: never set for tests on the local stack. */
const IN_CLUSTER = 'KUBERNETES_SERVICE_HOST';

export interface TestStackEnv {
  /** The environment for the test run and every child it starts. */
  readonly env: NodeJS.ProcessEnv;
  /** User variables left out of `env`. */
  readonly dropped: string[];
  readonly config: StackConfig;
}

function portOffset(env: NodeJS.ProcessEnv): number {
  const raw = env[PORT_OFFSET_VARIABLE];
  if (raw === undefined || raw === '') return 0;
  const offset = Number(raw);
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET)
    throw new Error(`${PORT_OFFSET_VARIABLE} must be an integer from 0 to ${MAX_OFFSET}, got "${raw}"`);
  return offset;
}

/** The test instance's environment, derived from the user's (whose stack settings it never inherits). */
export function testStackEnv(base: NodeJS.ProcessEnv = process.env): TestStackEnv {
  const offset = portOffset(base);
  const env: NodeJS.ProcessEnv = {};
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(base)) {
    if ((name.startsWith('TALON_') && !KEPT.test(name)) || name === IN_CLUSTER) dropped.push(name);
    else env[name] = value;
  }
  const cacheDir = defaultCacheDir(base);
  env.TALON_CACHE_DIR = cacheDir;
  env.TALON_STATE_DIR = join(cacheDir, offset === 0 ? 'test-stack' : `test-stack-${offset}`);
  env.TALON_CLUSTER_NAME = 'talon-test';
  for (const [name, port] of Object.entries(TEST_PORTS)) env[name] = String(port + offset);
  // Those the test stack sets itself are replaced, not dropped.
  return { env, dropped: dropped.filter((n) => !(n in env)).sort(), config: loadStackConfig(env) };
}

/** Shell lines that point `npx jest` (or anything else) at the test instance. */
export function exportLines({ env, dropped }: TestStackEnv): string {
  const names = ['TALON_CACHE_DIR', 'TALON_STATE_DIR', 'TALON_CLUSTER_NAME', ...Object.keys(TEST_PORTS)];
  const quote = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;
  return [...dropped.map((n) => `unset ${n}`), ...names.map((n) => `export ${n}=${quote(env[n] ?? '')}`)].join('\n');
}

/** Who holds the test instance: a live run, or a run that ended and left it up on purpose (`--keep`). */
interface Owner {
  readonly pid: number;
  readonly cwd: string;
  readonly startedAt: string;
  /** Set when the run ended; `kept` says whether it left the instance running for the next run. */
  readonly released?: { readonly at: string; readonly kept: boolean };
}

function ownerPath(config: StackConfig): string {
  return join(config.stateDir, 'owner.json');
}

async function readOwner(config: StackConfig): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(ownerPath(config), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type Claim = 'fresh' | 'reused';

/**
 * Takes the test instance for this run and brings it up. A run still alive elsewhere keeps it (this run fails
 * with what to do); an instance a finished run left up with `--keep` is reused when `reuse` allows; anything
 * else in the state directory (a run that was killed, a stopped instance) is stopped and removed first, so
 * every other run starts on a purged stack.
 */
export async function claimTestStack(
  config: StackConfig,
  log: (line: string) => void,
  options: { reuse: boolean },
): Promise<Claim> {
  const owner = await readOwner(config);
  if (owner && !owner.released && owner.pid !== process.pid && alive(owner.pid)) {
    throw new Error(
      `another test run (pid ${owner.pid}, in ${owner.cwd}, since ${owner.startedAt}) is using the test stack ` +
        `in ${config.stateDir}; wait for it, or run beside it with ${PORT_OFFSET_VARIABLE}=100`,
    );
  }
  let claim: Claim = 'fresh';
  if (options.reuse && owner?.released?.kept) {
    const running = await Promise.all(COMPONENTS.map((c) => c.isRunning(config)));
    if (running.every(Boolean)) claim = 'reused';
  }
  if (claim === 'fresh' && existsSync(config.stateDir)) {
    log(
      `removing the previous test stack in ${config.stateDir}${owner && !owner.released ? ' (its run was killed)' : ''}`,
    );
    await stackDown(config, log, { purge: true });
  }
  await mkdir(config.stateDir, { recursive: true });
  const mine: Owner = { pid: process.pid, cwd: process.cwd(), startedAt: new Date().toISOString() };
  await writeFile(ownerPath(config), JSON.stringify(mine, null, 2));
  if (claim === 'reused') log(`reusing the test stack left up in ${config.stateDir}`);
  await stackUp(config, log);
  return claim;
}

/** Ends this run's hold: stops the instance (its logs stay until the next run) unless it is kept for the next. */
export async function releaseTestStack(
  config: StackConfig,
  log: (line: string) => void,
  options: { keep: boolean },
): Promise<void> {
  const owner = await readOwner(config);
  // Never stop an instance this run did not claim (e.g. the claim failed because another run holds it).
  if (!owner || owner.pid !== process.pid || owner.released) return;
  if (!options.keep) await stackDown(config, log);
  const released: Owner = { ...owner, released: { at: new Date().toISOString(), kept: options.keep } };
  await writeFile(ownerPath(config), JSON.stringify(released, null, 2));
  log(
    options.keep
      ? `the test stack stays up (${config.stateDir}); \`npx tsx test/run-all.ts down\` stops it`
      : `test stack stopped; its logs are in ${join(config.stateDir, 'logs')} until the next run`,
  );
}

/** `run-all.ts down`: stops and removes the test instance, unless a live run holds it. */
export async function removeTestStack(config: StackConfig, log: (line: string) => void): Promise<void> {
  const owner = await readOwner(config);
  if (owner && !owner.released && alive(owner.pid))
    throw new Error(`a test run (pid ${owner.pid}, in ${owner.cwd}) is using the test stack; stop that run first`);
  if (!existsSync(config.stateDir)) {
    log(`no test stack in ${config.stateDir}`);
    return;
  }
  await stackDown(config, log, { purge: true });
}
