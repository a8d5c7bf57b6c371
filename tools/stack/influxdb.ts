/** InfluxDB 1.x with Flux enabled, so Talon's v2 client writes and queries it like an InfluxDB 2 bucket. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probeHttp, type StackComponent } from './component';
import { INFLUX_DATABASE, type StackConfig } from '../../src/config/local-stack';
import { StackError } from './errors';
import { isDaemonAlive, readDaemon, startDaemon, stopDaemon, waitForHttp } from './processes';
import { binDir } from './setup';

export function influxConfig(config: StackConfig): string {
  const dir = join(config.stateDir, 'influxdb');
  const q = (s: string): string => JSON.stringify(s);
  return [
    'reporting-disabled = true',
    // The RPC port used for backups; kept on loopback next to the HTTP port.
    `bind-address = ${q(`${config.host}:${config.ports.influxdb + 2}`)}`,
    '[meta]',
    `  dir = ${q(join(dir, 'meta'))}`,
    '[data]',
    `  dir = ${q(join(dir, 'data'))}`,
    `  wal-dir = ${q(join(dir, 'wal'))}`,
    '  query-log-enabled = false',
    '[http]',
    `  bind-address = ${q(`${config.host}:${config.ports.influxdb}`)}`,
    '  flux-enabled = true',
    '  auth-enabled = false',
    '  log-enabled = false',
    '[logging]',
    '  level = "warn"',
    '[monitor]',
    '  store-enabled = false',
    '',
  ].join('\n');
}

async function createDatabase(config: StackConfig): Promise<void> {
  const url = `http://${config.host}:${config.ports.influxdb}/query`;
  const response = await fetch(url, {
    method: 'POST',
    body: new URLSearchParams({ q: `CREATE DATABASE ${INFLUX_DATABASE}` }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok)
    throw new StackError(`InfluxDB refused CREATE DATABASE: HTTP ${response.status} ${await response.text()}`);
}

export const influxdbComponent: StackComponent = {
  name: 'influxdb',
  ports: (c) => [c.ports.influxdb, c.ports.influxdb + 2],
  async start(config, log) {
    const dir = join(config.stateDir, 'influxdb');
    await mkdir(dir, { recursive: true });
    const configPath = join(dir, 'influxdb.conf');
    await writeFile(configPath, influxConfig(config));
    const record = await startDaemon(config.stateDir, {
      name: 'influxdb',
      command: join(binDir(config.cacheDir), 'influxd'),
      args: ['run', '-config', configPath],
      env: { INFLUXDB_REPORTING_DISABLED: 'true' },
    });
    await waitForHttp(`http://${config.host}:${config.ports.influxdb}/ping`, {
      what: 'InfluxDB',
      timeoutMs: 60_000,
      logPath: record.logPath,
    });
    await createDatabase(config);
    log(`  influxdb ready: http://${config.host}:${config.ports.influxdb} (database ${INFLUX_DATABASE})`);
  },
  stop: (config) => stopDaemon(config.stateDir, 'influxdb'),
  async isRunning(config) {
    const record = await readDaemon(config.stateDir, 'influxdb');
    return record !== undefined && (await isDaemonAlive(record));
  },
  async health(config) {
    const url = `http://${config.host}:${config.ports.influxdb}`;
    const problem = await probeHttp(`${url}/ping`);
    return { name: 'influxdb', healthy: problem === undefined, url, detail: problem ?? 'ping ok' };
  },
};
