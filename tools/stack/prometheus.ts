/** Prometheus scraping KWOK's simulated kubelet metrics and Talon's /metrics, evaluating Talon's alert rules. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { LOCAL_RULE_OPTIONS, talonAlertRules } from './alert-rules';
import { probeHttp, type StackComponent } from './component';
import type { StackConfig } from '../../src/config/local-stack';
import { isDaemonAlive, readDaemon, startDaemon, stopDaemon, waitForHttp } from './processes';
import { binDir } from './setup';

export const SCRAPE_INTERVAL = '5s';

/** Where the incident lab (tools/lab) announces its drivers (file_sd) and puts its per-run alert rules. */
export function labTargetsDir(config: StackConfig): string {
  return join(config.stateDir, 'prometheus', 'lab-targets');
}

export function labRulesDir(config: StackConfig): string {
  return join(config.stateDir, 'prometheus', 'lab-rules');
}

export function prometheusConfig(config: StackConfig, rulesPath: string): Record<string, unknown> {
  const h = config.host;
  return {
    global: { scrape_interval: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL, scrape_timeout: '4s' },
    // The lab's rule files come and go with its runs (each followed by a reload); none is fine.
    rule_files: [rulesPath, join(labRulesDir(config), '*.yml')],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`${h}:${config.ports.alertmanager}`] }] }] },
    scrape_configs: [
      {
        // KWOK lists one target per simulated node and Metric resource.
        job_name: 'kwok',
        http_sd_configs: [{ url: `http://${h}:${config.ports.kwok}/discovery/prometheus`, refresh_interval: '10s' }],
        tls_config: { insecure_skip_verify: true },
        // Series keep the labels the metric itself carries (namespace, pod, node), not the scrape target's.
        honor_labels: true,
      },
      { job_name: 'talon', static_configs: [{ targets: [`${h}:${config.ports.webhook}`] }] },
      {
        // Lab drivers (cAdvisor/Kepler series of the lab's containers) write a target file while they run.
        job_name: 'talon-lab',
        file_sd_configs: [{ files: [join(labTargetsDir(config), '*.json')], refresh_interval: '5s' }],
        honor_labels: true,
      },
      { job_name: 'prometheus', static_configs: [{ targets: [`${h}:${config.ports.prometheus}`] }] },
    ],
  };
}

export const prometheusComponent: StackComponent = {
  name: 'prometheus',
  ports: (c) => [c.ports.prometheus],
  async start(config, log) {
    const dir = join(config.stateDir, 'prometheus');
    await mkdir(join(dir, 'data'), { recursive: true });
    const rulesPath = join(dir, 'talon-alerts.yml');
    const configPath = join(dir, 'prometheus.yml');
    await writeFile(rulesPath, stringify(talonAlertRules(LOCAL_RULE_OPTIONS)));
    await writeFile(configPath, stringify(prometheusConfig(config, rulesPath)));
    const record = await startDaemon(config.stateDir, {
      name: 'prometheus',
      command: join(binDir(config.cacheDir), 'prometheus'),
      args: [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=${config.host}:${config.ports.prometheus}`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=2d',
        '--log.level=warn',
      ],
    });
    const url = `http://${config.host}:${config.ports.prometheus}`;
    await waitForHttp(`${url}/-/ready`, { what: 'Prometheus', timeoutMs: 60_000, logPath: record.logPath });
    log(`  prometheus ready: ${url}`);
  },
  stop: (config) => stopDaemon(config.stateDir, 'prometheus'),
  async isRunning(config) {
    const record = await readDaemon(config.stateDir, 'prometheus');
    return record !== undefined && (await isDaemonAlive(record));
  },
  async health(config) {
    const url = `http://${config.host}:${config.ports.prometheus}`;
    const problem = await probeHttp(`${url}/-/ready`);
    return { name: 'prometheus', healthy: problem === undefined, url, detail: problem ?? 'ready' };
  },
};
