/**
 * A production-shaped Temporal for tests and benchmarks: Debian's PostgreSQL 15 in a temp dir on a free
 * port, the schema applied by temporal-sql-tool from the schema files the server module ships, the full
 * temporal-server 1.29.1 (built by the `temporal-server` tool recipe) with a generated config, and the
 * namespace and search attributes registered by the very script of deploy/temporal/talon-namespace-job.yaml.
 * Everything lives in one temp dir and is removed by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { loadStackConfig } from '../../src/config/local-stack';
import { runCommand } from '../../tools/stack/exec';
import { isPortFree } from '../../tools/stack/processes';
import { repoRoot } from '../../src/config/repo-root';
import { binDir, toolDir } from '../../tools/stack/setup';
import { findTool, POSTGRES_BIN_DIR } from '../../tools/stack/tools';

const PG_BIN = POSTGRES_BIN_DIR;
/** Ports the server needs from its base: frontend gRPC/HTTP/membership, history, matching, worker, metrics. */
const PORT_COUNT = 10;

export interface PostgresTemporal {
  readonly address: string;
  readonly namespace: string;
  readonly pgPort: number;
  readonly dir: string;
  /** Process ids of the server and of PostgreSQL's postmaster (its backends are its children). */
  readonly pids: { readonly server: number; readonly postgres: number };
  stop(): Promise<void>;
}

export interface PostgresTemporalOptions {
  /** First port tried for PostgreSQL (default 15432) and for the server's block (default 17233). */
  readonly pgPort?: number;
  readonly basePort?: number;
  readonly namespace?: string;
  readonly log?: (line: string) => void;
}

/** The register.sh of the namespace Job, exactly as shipped. */
export async function registrationScript(): Promise<string> {
  const text = await readFile(join(repoRoot(), 'deploy', 'temporal', 'talon-namespace-job.yaml'), 'utf8');
  const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind: string; data?: Record<string, string> });
  const script = docs.find((d) => d.kind === 'ConfigMap')?.data?.['register.sh'];
  if (!script) throw new Error('deploy/temporal/talon-namespace-job.yaml has no register.sh');
  return script;
}

/** Runs the Job's register.sh with the local temporal CLI; returns what it printed (the Talon attributes). */
export async function registerNamespace(address: string, namespace: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'talon-register-'));
  try {
    const script = join(dir, 'register.sh');
    await writeFile(script, await registrationScript());
    const { stdout } = await runCommand('sh', [script], {
      cwd: dir,
      env: {
        TEMPORAL_BIN: join(binDir(loadStackConfig(process.env).cacheDir), 'temporal'),
        TEMPORAL_ADDRESS: address,
        TALON_TEMPORAL_NAMESPACE: namespace,
        RETENTION: '24h',
        HEALTH_SLEEP: '1',
        RETRY_SLEEP: '1',
      },
      timeoutMs: 120_000,
    });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function freeBlock(start: number, count: number): Promise<number> {
  for (let base = start; base < start + 2000; base += count) {
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await isPortFree(p);
    if (free) return base;
  }
  throw new Error(`no ${count} free consecutive ports from ${start}`);
}

/** PostgreSQL refuses to run as root: drop to the postgres account when we are root. */
function asPostgres(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args]];
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, logPath: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  const log = await readFile(logPath, 'utf8').catch(() => '');
  throw new Error(`${what} not ready after ${timeoutMs} ms; last log lines:\n${log.split('\n').slice(-20).join('\n')}`);
}

async function spawnLogged(command: string, args: string[], logPath: string, cwd: string): Promise<ChildProcess> {
  const log = await open(logPath, 'a');
  const child = spawn(command, args, { cwd, stdio: ['ignore', log.fd, log.fd] });
  child.once('exit', () => void log.close());
  return child;
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals, graceMs = 15_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function serverConfig(pgPort: number, base: number, dynamicConfigPath: string): Record<string, unknown> {
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${pgPort}`,
      connectProtocol: 'tcp',
      user: 'temporal',
      password: 'temporal',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpc: number, membership: number, http?: number) => ({
    rpc: { grpcPort: grpc, membershipPort: membership, bindOnLocalHost: true, ...(http ? { httpPort: http } : {}) },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: 4,
      datastores: { default: sql('temporal', 20), visibility: sql('temporal_visibility', 10) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${base + 9}` } },
    },
    services: {
      frontend: rpc(base, base + 1, base + 2),
      history: rpc(base + 3, base + 4),
      matching: rpc(base + 5, base + 6),
      worker: rpc(base + 7, base + 8),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${base}` },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigPath, pollInterval: '10s' },
  };
}

export async function startPostgresTemporal(options: PostgresTemporalOptions = {}): Promise<PostgresTemporal> {
  const log = options.log ?? (() => undefined);
  const namespace = options.namespace ?? 'talon';
  const cacheDir = loadStackConfig(process.env).cacheDir;
  const serverTool = toolDir(cacheDir, findTool('temporal-server'));
  const bin = binDir(cacheDir);
  const missing = ['temporal-server', 'postgresql']
    .flatMap((name) => findTool(name).binaries)
    .filter((b) => !existsSync(join(bin, b)));
  if (missing.length > 0) {
    // `npm start` and `talon setup` skip the test-only tools.
    throw new Error(`missing ${missing.join(', ')}: test-only tools, built by \`npm test\` or \`talon setup --all\``);
  }
  const dir = await mkdtemp(join(tmpdir(), 'talon-pg-temporal-'));
  const pgData = join(dir, 'pg');
  const children: { pg?: ChildProcess; server?: ChildProcess } = {};
  const stop = async (): Promise<void> => {
    await stopChild(children.server, 'SIGTERM');
    // SIGINT = PostgreSQL's fast shutdown.
    await stopChild(children.pg, 'SIGINT');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(pgData, { recursive: true, mode: 0o700 });
    if (process.getuid?.() === 0) {
      const { stdout } = await runCommand('id', ['-u', 'postgres'], {});
      const { stdout: gid } = await runCommand('id', ['-g', 'postgres'], {});
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
      await chown(pgData, Number(stdout.trim()), Number(gid.trim()));
    }
    const [initCmd, initArgs] = asPostgres(join(PG_BIN, 'initdb'), [
      '-D',
      pgData,
      '-U',
      'temporal',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-instructions',
    ]);
    await runCommand(initCmd, initArgs, { cwd: dir, timeoutMs: 60_000 });
    const pgPort = await freeBlock(options.pgPort ?? 15432, 1);
    const pgLog = join(dir, 'postgres.log');
    const [pgCmd, pgArgs] = asPostgres(join(PG_BIN, 'postgres'), [
      '-D',
      pgData,
      '-p',
      String(pgPort),
      '-k',
      pgData,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
    ]);
    children.pg = await spawnLogged(pgCmd, pgArgs, pgLog, dir);
    await waitFor(
      'PostgreSQL',
      async () =>
        (
          await runCommand(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(pgPort)], {
            allowFailure: true,
          })
        ).exitCode === 0,
      30_000,
      pgLog,
    );
    log(`  postgres 15 on 127.0.0.1:${pgPort} (${pgData})`);

    const sqlTool = join(serverTool, 'bin', 'temporal-sql-tool');
    const schema = join(serverTool, 'schema', 'postgresql', 'v12');
    for (const [db, folder] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ] as const) {
      const common = [
        '--plugin',
        'postgres12',
        '--ep',
        '127.0.0.1',
        '-p',
        String(pgPort),
        '-u',
        'temporal',
        '--db',
        db,
      ];
      await runCommand(sqlTool, [...common, 'create-database'], { cwd: dir });
      await runCommand(sqlTool, [...common, 'setup-schema', '-v', '0.0'], { cwd: dir });
      await runCommand(sqlTool, [...common, 'update-schema', '-d', join(schema, folder, 'versioned')], { cwd: dir });
    }
    log('  schema applied (temporal, temporal_visibility)');

    const base = await freeBlock(options.basePort ?? 17233, PORT_COUNT);
    await mkdir(join(dir, 'config'), { recursive: true });
    const dynamicConfig = join(dir, 'dynamicconfig.yaml');
    await writeFile(dynamicConfig, stringify({ 'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true }] }));
    await writeFile(join(dir, 'config', 'talon.yaml'), stringify(serverConfig(pgPort, base, dynamicConfig)));
    const serverLog = join(dir, 'temporal-server.log');
    children.server = await spawnLogged(
      join(serverTool, 'bin', 'temporal-server'),
      ['--root', dir, '--config', 'config', '--env', 'talon', '--allow-no-auth', 'start'],
      serverLog,
      dir,
    );
    const address = `127.0.0.1:${base}`;
    const temporal = join(bin, 'temporal');
    await waitFor(
      'temporal-server',
      async () =>
        (await runCommand(temporal, ['operator', 'cluster', 'health', '--address', address], { allowFailure: true }))
          .exitCode === 0,
      90_000,
      serverLog,
    );
    log(`  temporal-server 1.29.1 on ${address}`);

    await registerNamespace(address, namespace);
    log(`  namespace ${namespace} and Talon's search attributes registered (deploy/temporal/talon-namespace-job.yaml)`);
    return {
      address,
      namespace,
      pgPort,
      dir,
      pids: { server: children.server.pid!, postgres: children.pg.pid! },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
