/** `talon stack up | down | status`: the embedded local stack as one unit. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { alertmanagerComponent } from './alertmanager';
import type { ComponentHealth, StackComponent } from './component';
import { webhookTokenPath, type StackConfig } from '../../src/config/local-stack';
import { StackError } from './errors';
import { influxdbComponent } from './influxdb';
import { deleteCluster, kubeComponent } from './kube';
import { isPortFree } from './processes';
import { prometheusComponent } from './prometheus';
import { binDir } from './setup';
import { temporalComponent } from './temporal';
import { STACK_TOOLS } from './tools';

export const COMPONENTS: readonly StackComponent[] = [
  temporalComponent,
  influxdbComponent,
  kubeComponent,
  prometheusComponent,
  alertmanagerComponent,
];

function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

export function missingBinaries(config: StackConfig): string[] {
  return STACK_TOOLS.flatMap((t) => t.binaries).filter((b) => !existsSync(join(binDir(config.cacheDir), b)));
}

/** The bearer token Alertmanager sends and the webhook expects; made once per stack. */
export async function ensureWebhookToken(config: StackConfig): Promise<string> {
  const path = webhookTokenPath(config);
  if (existsSync(path)) return (await readFile(path, 'utf8')).trim();
  await mkdir(dirname(path), { recursive: true });
  const token = randomBytes(24).toString('hex');
  await writeFile(path, token, { mode: 0o600 });
  return token;
}

export interface UpResult {
  readonly started: string[];
  readonly alreadyRunning: string[];
  readonly seconds: number;
}

export async function stackUp(config: StackConfig, log: (line: string) => void): Promise<UpResult> {
  const since = Date.now();
  const missing = missingBinaries(config);
  if (missing.length > 0) {
    throw new StackError(`missing tools: ${missing.join(', ')} — run \`talon setup\` (or npm run setup) first`);
  }
  await mkdir(config.stateDir, { recursive: true });
  await ensureWebhookToken(config);
  const toStart: StackComponent[] = [];
  const alreadyRunning: string[] = [];
  for (const component of COMPONENTS) {
    if (await component.isRunning(config)) {
      alreadyRunning.push(component.name);
      continue;
    }
    for (const port of component.ports(config)) {
      if (!(await isPortFree(port, config.host))) {
        throw new StackError(
          `port ${port} (needed by ${component.name}) is already in use by another program; ` +
            `stop it or choose another port (see the TALON_*_PORT variables in the README)`,
        );
      }
    }
    toStart.push(component);
  }
  if (alreadyRunning.length > 0) log(`already running: ${alreadyRunning.join(', ')}`);
  log(`starting ${toStart.map((c) => c.name).join(', ') || 'nothing'} …`);
  const results = await Promise.allSettled(
    toStart.map(async (component) => {
      const started = Date.now();
      await component.start(config, log);
      log(`✓ ${component.name} up in ${elapsed(started)}`);
    }),
  );
  const failures = results
    .map((r, i) => (r.status === 'rejected' ? `${toStart[i]!.name}: ${(r.reason as Error).message}` : undefined))
    .filter((f): f is string => f !== undefined);
  if (failures.length > 0) throw new StackError(`the stack did not come up:\n- ${failures.join('\n- ')}`);
  log(`stack up in ${elapsed(since)}`);
  return { started: toStart.map((c) => c.name), alreadyRunning, seconds: (Date.now() - since) / 1000 };
}

export async function stackDown(
  config: StackConfig,
  log: (line: string) => void,
  options: { purge?: boolean } = {},
): Promise<void> {
  const since = Date.now();
  for (const component of [...COMPONENTS].reverse()) {
    const wasRunning = await component.stop(config);
    log(`${wasRunning ? '■ stopped' : '· not running:'} ${component.name}`);
  }
  if (options.purge) {
    // kwokctl may fail to stop components that are already gone; the state is removed below either way.
    await deleteCluster(config).catch((err: unknown) =>
      log(`kwokctl delete cluster: ${err instanceof Error ? err.message : String(err)}`),
    );
    await rm(config.stateDir, { recursive: true, force: true });
    log(`purged ${config.stateDir}`);
  }
  log(`stack down in ${elapsed(since)}`);
}

export async function stackStatus(config: StackConfig): Promise<ComponentHealth[]> {
  return Promise.all(COMPONENTS.map((c) => c.health(config)));
}

export function formatStatus(rows: readonly ComponentHealth[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  return rows.map((r) => `${r.healthy ? '✓' : '✗'} ${r.name.padEnd(width)}  ${r.url}  ${r.detail}`).join('\n');
}
