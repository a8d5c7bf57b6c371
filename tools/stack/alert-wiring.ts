/**
 * Renders the in-cluster alerting wiring from Talon's one source of alert rules (alert-rules.ts), so
 * the shipped manifests can never drift from what the local stack runs: the Prometheus Operator's
 * PrometheusRule and AlertmanagerConfig, and plain rule/route files for clusters without the operator.
 * `npm run deploy:render` rewrites the files; test/unit/alert-wiring.test.ts fails when they differ.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PRODUCTION_RULE_OPTIONS, talonAlertRules, type AlertRuleOptions } from './alert-rules';
import { repoRoot } from '../../src/config/repo-root';

/** Where the webhook listens inside the cluster (deploy/kustomize/base/webhook.yaml). */
export const IN_CLUSTER_WEBHOOK_URL = 'http://talon-webhook.talon-system.svc:8080/api/alerts';
/** The Secret both the webhook and Alertmanager read the bearer token from. */
export const WEBHOOK_SECRET = { name: 'talon-webhook', key: 'token' } as const;

const ROUTE_TIMING = { groupWait: '30s', groupInterval: '1m', repeatInterval: '10m' } as const;
const GROUP_BY = ['alertname', 'namespace', 'pod', 'node'];

export function prometheusRuleManifest(options: AlertRuleOptions = PRODUCTION_RULE_OPTIONS): Record<string, unknown> {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'talon-alert-rules',
      // Match your Prometheus' ruleSelector (kube-prometheus-stack selects release=<its release name>).
      labels: { 'app.kubernetes.io/part-of': 'talon', role: 'alert-rules' },
    },
    spec: talonAlertRules(options),
  };
}

export function alertmanagerConfigManifest(): Record<string, unknown> {
  const alertnames = talonAlertRules(PRODUCTION_RULE_OPTIONS).groups.flatMap((g) => g.rules.map((r) => r.alert));
  return {
    apiVersion: 'monitoring.coreos.com/v1alpha1',
    kind: 'AlertmanagerConfig',
    metadata: { name: 'talon', labels: { 'app.kubernetes.io/part-of': 'talon' } },
    spec: {
      route: {
        receiver: 'talon-webhook',
        matchers: [{ name: 'alertname', matchType: '=~', value: alertnames.join('|') }],
        groupBy: GROUP_BY,
        ...ROUTE_TIMING,
      },
      receivers: [
        {
          name: 'talon-webhook',
          webhookConfigs: [
            {
              url: IN_CLUSTER_WEBHOOK_URL,
              sendResolved: true,
              maxAlerts: 0,
              httpConfig: { authorization: { type: 'Bearer', credentials: { ...WEBHOOK_SECRET } } },
            },
          ],
        },
      ],
    },
  };
}

/** A plain Prometheus rule file (rule_files: in prometheus.yml). */
export function plainRuleFile(options: AlertRuleOptions = PRODUCTION_RULE_OPTIONS): Record<string, unknown> {
  return talonAlertRules(options);
}

/** The route and receiver to merge into an existing alertmanager.yml. */
export function plainAlertmanagerConfig(
  tokenFile = '/etc/alertmanager/secrets/talon-webhook/token',
): Record<string, unknown> {
  const alertnames = talonAlertRules(PRODUCTION_RULE_OPTIONS).groups.flatMap((g) => g.rules.map((r) => r.alert));
  return {
    route: {
      receiver: 'default',
      routes: [
        {
          receiver: 'talon',
          matchers: [`alertname=~"${alertnames.join('|')}"`],
          group_by: GROUP_BY,
          group_wait: ROUTE_TIMING.groupWait,
          group_interval: ROUTE_TIMING.groupInterval,
          repeat_interval: ROUTE_TIMING.repeatInterval,
        },
      ],
    },
    receivers: [
      { name: 'default' },
      {
        name: 'talon',
        webhook_configs: [
          {
            url: IN_CLUSTER_WEBHOOK_URL,
            send_resolved: true,
            max_alerts: 0,
            http_config: { authorization: { type: 'Bearer', credentials_file: tokenFile } },
          },
        ],
      },
    ],
  };
}

const HEADER = '# Generated from tools/stack/alert-rules.ts by `npm run deploy:render`; do not edit by hand.\n';

/** What `max_alerts` does to Talon, said next to every webhook receiver Talon ships. */
const MAX_ALERTS_NOTE =
  '# max_alerts 0 (the default) sends a whole group in one notification. Talon accepts bodies up to\n' +
  '# TALON_WEBHOOK_BODY_LIMIT (32mb: tens of thousands of alerts) and queues groups larger than its admission bound\n' +
  '# in its alert intake. A max_alerts above 0 makes Alertmanager drop the rest of the group from that notification\n' +
  '# (reported as truncatedAlerts): Talon never sees those alerts, so keep 0 unless the body limit is too small.\n';

/** Every generated file, relative to the repository root, with its content. */
export function renderedAlertingFiles(): Record<string, string> {
  return {
    'deploy/kustomize/components/prometheus-operator/prometheusrule.yaml': HEADER + stringify(prometheusRuleManifest()),
    'deploy/kustomize/components/prometheus-operator/alertmanagerconfig.yaml':
      HEADER +
      '# Needs the Alertmanager resource to select it (alertmanagerConfigSelector) with\n' +
      '# alertmanagerConfigMatcherStrategy.type None: Talon alerts carry the namespace of the workload, not talon-system.\n' +
      MAX_ALERTS_NOTE +
      stringify(alertmanagerConfigManifest()),
    'deploy/alerting/talon-rules.yml': HEADER + stringify(plainRuleFile()),
    'deploy/alerting/alertmanager.yml':
      HEADER +
      '# Merge the talon route and receiver into your alertmanager.yml; mount the token from Secret talon-webhook.\n' +
      MAX_ALERTS_NOTE +
      stringify(plainAlertmanagerConfig()),
  };
}

if (require.main === module) {
  void (async () => {
    for (const [path, content] of Object.entries(renderedAlertingFiles())) {
      await writeFile(join(repoRoot(), path), content);
      process.stdout.write(`wrote ${path}\n`);
    }
  })();
}
