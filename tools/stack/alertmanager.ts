/** Alertmanager routing Talon's alerts to Talon's webhook, with short waits so local runs react quickly. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { probeHttp, type StackComponent } from './component';
import { webhookTokenPath, type StackConfig } from '../../src/config/local-stack';
import { isDaemonAlive, readDaemon, startDaemon, stopDaemon, waitForHttp } from './processes';
import { binDir } from './setup';

export function alertmanagerConfig(config: StackConfig, tokenPath: string): Record<string, unknown> {
  return {
    route: {
      receiver: 'talon',
      group_by: ['alertname', 'namespace', 'pod', 'node'],
      group_wait: '1s',
      group_interval: '5s',
      repeat_interval: '1m',
    },
    receivers: [
      {
        name: 'talon',
        webhook_configs: [
          {
            url: `http://${config.host}:${config.ports.webhook}/api/alerts`,
            send_resolved: true,
            max_alerts: 0,
            http_config: { authorization: { type: 'Bearer', credentials_file: tokenPath } },
          },
        ],
      },
    ],
  };
}

export const alertmanagerComponent: StackComponent = {
  name: 'alertmanager',
  ports: (c) => [c.ports.alertmanager],
  async start(config, log) {
    const dir = join(config.stateDir, 'alertmanager');
    await mkdir(join(dir, 'data'), { recursive: true });
    const configPath = join(dir, 'alertmanager.yml');
    await writeFile(configPath, stringify(alertmanagerConfig(config, webhookTokenPath(config))));
    const record = await startDaemon(config.stateDir, {
      name: 'alertmanager',
      command: join(binDir(config.cacheDir), 'alertmanager'),
      args: [
        `--config.file=${configPath}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=${config.host}:${config.ports.alertmanager}`,
        // A single local instance: no gossip port.
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
    });
    const url = `http://${config.host}:${config.ports.alertmanager}`;
    await waitForHttp(`${url}/-/ready`, { what: 'Alertmanager', timeoutMs: 60_000, logPath: record.logPath });
    log(`  alertmanager ready: ${url} → ${config.host}:${config.ports.webhook}/api/alerts`);
  },
  stop: (config) => stopDaemon(config.stateDir, 'alertmanager'),
  async isRunning(config) {
    const record = await readDaemon(config.stateDir, 'alertmanager');
    return record !== undefined && (await isDaemonAlive(record));
  },
  async health(config) {
    const url = `http://${config.host}:${config.ports.alertmanager}`;
    const problem = await probeHttp(`${url}/-/ready`);
    return { name: 'alertmanager', healthy: problem === undefined, url, detail: problem ?? 'ready' };
  },
};
