/**
 * Talon's Grafana dashboard (deploy/grafana/talon-dashboard.json), written from this one description so the
 * panels stay readable in review: alerts in, hand-off latency, remediations by outcome and policy, decisions by
 * engine (model vs rules), and the operator policy's autonomy, storm brake and write budgets. Every query names
 * metrics Talon exports (src/observability/metrics.ts); test/unit/grafana-dashboard.test.ts checks that and that
 * the shipped file is what this renders. `npx tsx tools/grafana/dashboard.ts` rewrites the file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../src/config/repo-root';

export const DASHBOARD_PATH = 'deploy/grafana/talon-dashboard.json';

interface Query {
  readonly expr: string;
  readonly legend: string;
}

interface Panel {
  readonly title: string;
  readonly description: string;
  readonly kind: 'timeseries' | 'stat';
  readonly unit?: string;
  readonly queries: readonly Query[];
  /** Stacked bars for counts per interval; lines otherwise. */
  readonly stacked?: boolean;
}

interface Row {
  readonly title: string;
  readonly panels: readonly Panel[];
}

const RATE = '$__rate_interval';

const p95 = (metric: string, by: string, where = ''): string =>
  `histogram_quantile(0.95, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket${where}[${RATE}])))`;
const p50 = (metric: string, where = ''): string =>
  `histogram_quantile(0.5, sum by (le) (rate(${metric}_bucket${where}[${RATE}])))`;

export const ROWS: readonly Row[] = [
  {
    title: 'Alerts in',
    panels: [
      {
        title: 'Alerts received',
        description: 'Alerts the webhook received per second, by sender and status.',
        kind: 'timeseries',
        unit: 'reqps',
        queries: [
          {
            expr: `sum by (source, status) (rate(talon_alerts_received_total[${RATE}]))`,
            legend: '{{source}} {{status}}',
          },
        ],
      },
      {
        title: 'Refused',
        description: 'Alerts or requests the webhook refused, by reason (invalid_alert, overloaded, unauthorized, …).',
        kind: 'timeseries',
        unit: 'reqps',
        stacked: true,
        queries: [{ expr: `sum by (reason) (rate(talon_alerts_rejected_total[${RATE}]))`, legend: '{{reason}}' }],
      },
      {
        title: 'Hand-offs to Temporal',
        description: 'Alerts handed to Temporal by result: ok (direct), queued (alert intake), unavailable (503).',
        kind: 'timeseries',
        unit: 'reqps',
        stacked: true,
        queries: [{ expr: `sum by (result) (rate(talon_handoffs_total[${RATE}]))`, legend: '{{result}}' }],
      },
      {
        title: 'In flight and intake backlog',
        description: 'Hand-offs in flight against the admission bound, and alerts waiting for their intake write.',
        kind: 'timeseries',
        queries: [
          { expr: 'sum(talon_webhook_inflight_alerts)', legend: 'in flight' },
          { expr: 'max(talon_webhook_max_inflight_alerts)', legend: 'admission bound' },
          { expr: 'sum(talon_webhook_intake_pending_alerts)', legend: 'intake pending' },
        ],
      },
    ],
  },
  {
    title: 'Hand-off latency',
    panels: [
      {
        title: 'Webhook answer time',
        description: 'Time to answer Alertmanager/Grafana (202 only once the alerts are durably in Temporal).',
        kind: 'timeseries',
        unit: 's',
        queries: [
          { expr: p50('talon_webhook_request_duration_seconds', '{route=~"/api/alerts.*"}'), legend: 'p50' },
          { expr: p95('talon_webhook_request_duration_seconds', '', '{route=~"/api/alerts.*"}'), legend: 'p95' },
        ],
      },
      {
        title: 'Intake write time and batch size',
        description: 'How long one intake batch took to be written to Temporal, and alerts per batch.',
        kind: 'timeseries',
        unit: 's',
        queries: [
          { expr: p95('talon_webhook_intake_write_seconds', ''), legend: 'write p95' },
          {
            expr: `sum(rate(talon_webhook_intake_batch_alerts_sum[${RATE}])) / sum(rate(talon_webhook_intake_batch_alerts_count[${RATE}]))`,
            legend: 'alerts per batch',
          },
        ],
      },
      {
        title: 'Intake dispatch',
        description: 'Queued alerts the intake handed on to their remediations, by result.',
        kind: 'timeseries',
        unit: 'reqps',
        stacked: true,
        queries: [
          { expr: `sum by (result) (rate(talon_intake_alerts_dispatched_total[${RATE}]))`, legend: '{{result}}' },
        ],
      },
    ],
  },
  {
    title: 'Remediations',
    panels: [
      {
        title: 'Finished by outcome',
        description: 'Remediation workflows finished, by type and outcome (resolved, needs_human, no_action, …).',
        kind: 'timeseries',
        stacked: true,
        queries: [
          {
            expr: `sum by (type, outcome) (increase(talon_workflows_finished_total[${RATE}]))`,
            legend: '{{type}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Changes by policy',
        description: 'Kubernetes changes by policy and outcome (applied, noop, dry_run, refused, failed, blocked).',
        kind: 'timeseries',
        stacked: true,
        queries: [
          {
            expr: `sum by (policy, outcome) (increase(talon_actions_applied_total[${RATE}]))`,
            legend: '{{policy}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Started, repeats absorbed, escalations',
        description: 'Workflows started, repeat notifications absorbed by a running remediation, and escalations.',
        kind: 'timeseries',
        queries: [
          { expr: `sum by (type) (rate(talon_workflows_started_total[${RATE}]))`, legend: 'started {{type}}' },
          { expr: `sum(rate(talon_alerts_deduplicated_total[${RATE}]))`, legend: 'repeats absorbed' },
          { expr: `sum by (from, to) (rate(talon_escalations_total[${RATE}]))`, legend: '{{from}} → {{to}}' },
        ],
      },
      {
        title: 'Guard refusals',
        description: 'Changes refused by a guardrail, by guard (protected_namespace, write_budget, result_bounds, …).',
        kind: 'timeseries',
        stacked: true,
        queries: [{ expr: `sum by (guard) (increase(talon_guard_refusals_total[${RATE}]))`, legend: '{{guard}}' }],
      },
      {
        title: 'Step duration p95',
        description: 'Duration of remediation steps (activities), by step.',
        kind: 'timeseries',
        unit: 's',
        queries: [{ expr: p95('talon_step_duration_seconds', 'step'), legend: '{{step}}' }],
      },
    ],
  },
  {
    title: 'Decisions',
    panels: [
      {
        title: 'Model vs rules',
        description: 'Policy rankings by the engine that answered: the learned model, or the rule policy as fallback.',
        kind: 'timeseries',
        stacked: true,
        queries: [{ expr: `sum by (source) (increase(talon_policy_decisions_total[${RATE}]))`, legend: '{{source}}' }],
      },
      {
        title: 'Share decided by the model',
        description: 'Fraction of rankings the model answered over the dashboard range.',
        kind: 'stat',
        unit: 'percentunit',
        queries: [
          {
            expr: 'sum(increase(talon_policy_decisions_total{source="model"}[$__range])) / sum(increase(talon_policy_decisions_total[$__range]))',
            legend: 'model',
          },
        ],
      },
    ],
  },
  {
    title: 'Operator policy',
    panels: [
      {
        title: 'Storm brake',
        description: 'Scopes the storm brake holds (1) or released (0): cluster, nodes, namespace/<name>.',
        kind: 'timeseries',
        queries: [
          { expr: 'max by (scope) (talon_storm_brake_engaged)', legend: '{{scope}}' },
          { expr: 'max(talon_remediations_running)', legend: 'remediations running' },
        ],
      },
      {
        title: 'Decisions under the policy',
        description: 'Observe, recommend, approvals asked and answered, brake holds, changes applied, outcomes.',
        kind: 'timeseries',
        stacked: true,
        queries: [
          { expr: `sum by (decision) (increase(talon_operator_decisions_total[${RATE}]))`, legend: '{{decision}}' },
        ],
      },
      {
        title: 'Write budgets',
        description: 'Writes counted in the current window of each budget against what the window allows.',
        kind: 'timeseries',
        queries: [
          { expr: 'max by (scope) (talon_write_budget_used)', legend: 'used {{scope}}' },
          { expr: 'max by (scope) (talon_write_budget_max)', legend: 'allowed {{scope}}' },
        ],
      },
      {
        title: 'Policy version and reloads',
        description: 'The policy file version in force per process, and reloads (refused: the previous version stays).',
        kind: 'timeseries',
        queries: [
          { expr: 'count by (version) (talon_policy_info == 1)', legend: '{{version}}' },
          { expr: `sum by (result) (increase(talon_policy_reloads_total[${RATE}]))`, legend: 'reload {{result}}' },
        ],
      },
    ],
  },
];

const WIDTH = 24;

/** The dashboard as Grafana imports it (schemaVersion 39; the Prometheus data source is a variable). */
export function renderDashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { x: 0, y, w: WIDTH, h: 1 },
      panels: [],
    });
    y += 1;
    const w = row.panels.length >= 3 ? 8 : 12;
    row.panels.forEach((panel, i) => {
      const x = (i * w) % WIDTH;
      if (i > 0 && x === 0) y += 8;
      panels.push({
        id: id++,
        type: panel.kind,
        title: panel.title,
        description: panel.description,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { x, y, w, h: 8 },
        fieldConfig: {
          defaults: {
            ...(panel.unit ? { unit: panel.unit } : {}),
            ...(panel.kind === 'timeseries'
              ? {
                  custom: panel.stacked
                    ? { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 80 }
                    : { drawStyle: 'line', fillOpacity: 10 },
                }
              : {}),
          },
          overrides: [],
        },
        options:
          panel.kind === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] } } : { legend: { displayMode: 'list' } },
        targets: panel.queries.map((q, i) => ({
          refId: String.fromCharCode(65 + i),
          datasource: { type: 'prometheus', uid: '${datasource}' },
          expr: q.expr,
          legendFormat: q.legend,
        })),
      });
    });
    y += 8;
  }
  return {
    title: 'Talon',
    uid: 'talon-overview',
    description: 'Talon auto-remediation: alerts in, hand-offs, remediations, decisions, operator policy.',
    tags: ['talon', 'kubernetes', 'remediation'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {} }],
    },
    annotations: { list: [] },
    panels,
  };
}

if (require.main === module) {
  void (async () => {
    // Written in Prettier's format, so `prettier --check .` passes on the generated file.
    const { format } = await import('prettier');
    const text = await format(JSON.stringify(renderDashboard()), { parser: 'json', printWidth: 120 });
    await writeFile(join(repoRoot(), DASHBOARD_PATH), text);
    process.stdout.write(`wrote ${DASHBOARD_PATH}\n`);
  })();
}
