/** The Temporal dev server (with its Web UI), persisted to a SQLite file so workflows survive a restart. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SEARCH_ATTRIBUTE_TYPES as SEARCH_ATTRIBUTES } from '../../src/contracts/search-attributes';
import { probeHttp, type StackComponent } from './component';
import type { StackConfig } from '../../src/config/local-stack';
import { isDaemonAlive, isPortOpen, readDaemon, startDaemon, stopDaemon, waitForHttp, waitForPort } from './processes';
import { binDir } from './setup';

export function temporalArgs(config: StackConfig): string[] {
  const dbFile = join(config.stateDir, 'temporal', 'temporal.db');
  return [
    'server',
    'start-dev',
    '--ip',
    config.host,
    '--port',
    String(config.ports.temporal),
    '--ui-port',
    String(config.ports.temporalUi),
    '--db-filename',
    dbFile,
    // WAL lets readers run beside the single writer (the default rollback journal serialises them), and
    // synchronous=NORMAL syncs at checkpoints: still safe against a crash of the server process.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    '--namespace',
    'default',
    '--log-level',
    'warn',
    // Without this flag the dev server disables its search-attribute cache and reads the cluster metadata from
    // SQLite on every search-attribute lookup: 14 reads of it (and 6 of the namespace) per remediation, measured
    // from the server's persistence_requests. Talon's attributes are registered below at start, so the cache
    // (the production server's default) never holds a stale set.
    '--dynamic-config-value',
    'system.forceSearchAttributesCacheRefreshOnRead=false',
    // Eager activity dispatch: the server hands an activity the worker asked to run eagerly back in the reply to
    // the workflow task that scheduled it, instead of a matching round trip (AddActivityTask, a poll,
    // RecordActivityTaskStarted): two persistence writes fewer per remediation. Off by default in the server.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
}

/**
 * Go's collector at GOGC=200 instead of 100: garbage collection was about a sixth of the dev server's CPU under
 * load; at 15 remediations/s it then used ≈ 14 % less CPU per remediation for ≈ 115 MiB more RSS (≈ 400 MiB).
 * A GOGC (or GOMEMLIMIT) set by the caller wins.
 */
export function temporalEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return env.GOGC !== undefined || env.GOMEMLIMIT !== undefined ? {} : { GOGC: '200' };
}

export const temporalComponent: StackComponent = {
  name: 'temporal',
  ports: (c) => [c.ports.temporal, c.ports.temporalUi],
  async start(config, log) {
    await mkdir(join(config.stateDir, 'temporal'), { recursive: true });
    const record = await startDaemon(config.stateDir, {
      name: 'temporal',
      command: join(binDir(config.cacheDir), 'temporal'),
      args: temporalArgs(config),
      env: temporalEnv(process.env),
    });
    await waitForPort(config.ports.temporal, 'Temporal gRPC', 60_000, record.logPath);
    await waitForHttp(`http://${config.host}:${config.ports.temporalUi}/`, {
      what: 'Temporal UI',
      timeoutMs: 60_000,
      logPath: record.logPath,
    });
    log(
      `  temporal ready: grpc ${config.host}:${config.ports.temporal}, UI http://${config.host}:${config.ports.temporalUi}`,
    );
  },
  stop: (config) => stopDaemon(config.stateDir, 'temporal'),
  async isRunning(config) {
    const record = await readDaemon(config.stateDir, 'temporal');
    return record !== undefined && (await isDaemonAlive(record));
  },
  async health(config) {
    const url = `http://${config.host}:${config.ports.temporalUi}`;
    const grpc = await isPortOpen(config.ports.temporal);
    const ui = await probeHttp(`${url}/`);
    return {
      name: 'temporal',
      healthy: grpc && ui === undefined,
      url: `${config.host}:${config.ports.temporal} (UI ${url})`,
      detail: !grpc ? 'gRPC port closed' : (ui ?? 'serving'),
    };
  },
};
