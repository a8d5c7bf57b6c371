/**
 * The lab's wiring into the stack's Prometheus and Alertmanager for one run:
 * - alert rules per copy: Talon's own rules (tools/stack/alert-rules.ts) with the scenario's `for:` and
 *   thresholds, scoped to the copy's namespaces and nodes, labelled with the copy and engine;
 * - Alertmanager routes by engine: Talon's copies to the run's own Talon webhook, the seed orchestrator's to
 *   its webhook, `none` to a receiver that sends nothing (alerts still fire, nothing acts);
 * - the Prometheus configuration re-rendered (a stack started before the lab existed gains the lab's scrape
 *   job and rule directory) and both servers reloaded.
 * Undone by {@link unwireRun}.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { webhookTokenPath, type StackConfig } from '../../../src/config/local-stack';
import { LAB_NAME_PREFIX, LOCAL_RULE_OPTIONS, talonAlertRules, type AlertRule } from '../../stack/alert-rules';
import { alertmanagerConfig } from '../../stack/alertmanager';
import { labRulesDir, prometheusConfig } from '../../stack/prometheus';
import type { CopyPlan } from '../plan';

/** Labels every lab alert carries (and Alertmanager routes on). */
export const ALERT_LABELS = { run: 'talon_lab_run', copy: 'talon_lab_copy', engine: 'talon_lab_engine' } as const;

const RULE_NAMES: Readonly<Record<'cpu' | 'memory' | 'node', string>> = {
  cpu: 'TalonPodCpuNearLimit',
  memory: 'TalonPodMemoryNearLimit',
  node: 'TalonNodeOverloaded',
};

const regexOf = (values: readonly string[]): string =>
  values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');

/** One rule group per copy: the scenario's choice of Talon's rules, scoped to the copy. */
export function copyRuleGroup(run: string, copy: CopyPlan): { name: string; rules: AlertRule[] } {
  const a = copy.scenario.alerts;
  const groups = talonAlertRules({
    // The rules Talon ships beside the scenario's three (Rule 1, network, I/O, crash loops) keep their local
    // thresholds; the scenario's own settings and scoping override the rest, and it picks the rules below.
    ...LOCAL_RULE_OPTIONS,
    forDuration: `${a.forSeconds}s`,
    rateWindow: `${a.rateWindowSeconds}s`,
    cpuLimitShare: a.cpuLimitShare,
    memoryLimitShare: a.memoryLimitShare,
    nodeCpuShare: a.nodeCpuShare,
    podMatchers: [`namespace=~"${regexOf([copy.namespaces.main, copy.namespaces.protected])}"`],
    nodeMatchers: [`node=~"${regexOf(Object.values(copy.nodes))}"`],
    extraLabels: { [ALERT_LABELS.run]: run, [ALERT_LABELS.copy]: copy.id, [ALERT_LABELS.engine]: copy.engine },
    groupName: `lab-${copy.id}`,
  });
  const wanted = new Set(a.rules.map((r) => RULE_NAMES[r]));
  const group = groups.groups[0]!;
  return { name: group.name, rules: group.rules.filter((r) => wanted.has(r.alert)) };
}

export function rulesFile(run: string, copies: readonly CopyPlan[]): Record<string, unknown> {
  return { groups: copies.map((c) => copyRuleGroup(run, c)) };
}

export interface LabReceivers {
  /** The run's Talon webhook (`/api/alerts` is appended). */
  readonly talonUrl?: string;
  /** The seed orchestrator's webhook. */
  readonly seedUrl?: string;
}

/** The stack's Alertmanager configuration plus the run's routes, first, so lab alerts never reach the default receiver. */
export function labAlertmanagerConfig(
  config: StackConfig,
  run: string,
  receivers: LabReceivers,
): Record<string, unknown> {
  const base = alertmanagerConfig(config, webhookTokenPath(config)) as {
    route: Record<string, unknown>;
    receivers: Record<string, unknown>[];
  };
  const timing = {
    group_by: ['alertname', 'namespace', 'pod', 'node'],
    group_wait: '1s',
    group_interval: '5s',
    repeat_interval: '30s',
  };
  const token = { authorization: { type: 'Bearer', credentials_file: webhookTokenPath(config) } };
  const webhook = (name: string, url: string) => ({
    name,
    webhook_configs: [{ url, send_resolved: true, max_alerts: 0, http_config: token }],
  });
  const routes: Record<string, unknown>[] = [];
  const receiversOut: Record<string, unknown>[] = [{ name: `lab-${run}-drop` }];
  const route = (engines: string, receiver: string) => ({
    receiver,
    matchers: [`${ALERT_LABELS.run}="${run}"`, `${ALERT_LABELS.engine}=~"${engines}"`],
    ...timing,
  });
  if (receivers.talonUrl) {
    routes.push(route('talon-model|talon-rules|talon-predictive', `lab-${run}-talon`));
    receiversOut.push(webhook(`lab-${run}-talon`, `${receivers.talonUrl}/api/alerts`));
  }
  if (receivers.seedUrl) {
    routes.push(route('seed-orchestrator', `lab-${run}-seed`));
    receiversOut.push(webhook(`lab-${run}-seed`, `${receivers.seedUrl}/api/alerts`));
  }
  // Everything else of the lab (engine none, a run that ended without cleaning up, or the stack's own rules as
  // a stack started before the lab existed still has them) goes nowhere: only a copy's engine acts on it.
  routes.push({ receiver: `lab-${run}-drop`, matchers: [`${ALERT_LABELS.run}=~".+"`] });
  routes.push({ receiver: `lab-${run}-drop`, matchers: [`namespace=~"${LAB_NAME_PREFIX}.+"`] });
  routes.push({ receiver: `lab-${run}-drop`, matchers: [`node=~"${LAB_NAME_PREFIX}.+"`] });
  return {
    ...base,
    route: { ...base.route, routes },
    receivers: [...base.receivers, ...receiversOut],
  };
}

async function reload(url: string, what: string): Promise<void> {
  const res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(15_000) });
  if (!res.ok) throw new Error(`${what} refused the reload: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
}

function urls(config: StackConfig): { prometheus: string; alertmanager: string } {
  return {
    prometheus: `http://${config.host}:${config.ports.prometheus}`,
    alertmanager: `http://${config.host}:${config.ports.alertmanager}`,
  };
}

const rulesPath = (config: StackConfig, run: string) => join(labRulesDir(config), `${run}.yml`);

/**
 * The stack's own Prometheus files as the current code renders them — its rules leave lab namespaces alone, its
 * configuration scrapes the lab's drivers and reads the lab's rule directory — and a reload.
 */
export async function refreshPrometheus(config: StackConfig): Promise<void> {
  const promDir = join(config.stateDir, 'prometheus');
  await mkdir(labRulesDir(config), { recursive: true });
  await writeFile(join(promDir, 'talon-alerts.yml'), stringify(talonAlertRules(LOCAL_RULE_OPTIONS)));
  await writeFile(
    join(promDir, 'prometheus.yml'),
    stringify(prometheusConfig(config, join(promDir, 'talon-alerts.yml'))),
  );
  await reload(urls(config).prometheus, 'Prometheus');
}

/** Writes the run's rules and routes and reloads Prometheus and Alertmanager. */
export async function wireRun(
  config: StackConfig,
  run: string,
  copies: readonly CopyPlan[],
  receivers: LabReceivers,
): Promise<void> {
  await mkdir(labRulesDir(config), { recursive: true });
  await writeFile(rulesPath(config, run), stringify(rulesFile(run, copies)));
  await writeFile(
    join(config.stateDir, 'alertmanager', 'alertmanager.yml'),
    stringify(labAlertmanagerConfig(config, run, receivers)),
  );
  await refreshPrometheus(config);
  await reload(urls(config).alertmanager, 'Alertmanager');
}

/** Removes the run's rules and routes (the stack's own configuration is written back) and reloads. */
export async function unwireRun(config: StackConfig, run: string): Promise<void> {
  await rm(rulesPath(config, run), { force: true });
  await writeFile(
    join(config.stateDir, 'alertmanager', 'alertmanager.yml'),
    stringify(alertmanagerConfig(config, webhookTokenPath(config))),
  );
  const u = urls(config);
  await Promise.allSettled([reload(u.prometheus, 'Prometheus'), reload(u.alertmanager, 'Alertmanager')]);
}
