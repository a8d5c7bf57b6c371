/**
 * The shipped Grafana dashboard (deploy/grafana/talon-dashboard.json) is what tools/grafana/dashboard.ts renders,
 * and every query in it names only metrics Talon exports: read from TalonMetrics' own registry (the webhook and
 * worker /metrics), so renaming a metric without the dashboard fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TalonMetrics } from '../../src/observability/metrics';
import { DASHBOARD_PATH, renderDashboard } from '../../tools/grafana/dashboard';

interface Target {
  expr: string;
  datasource: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  gridPos: { x: number; y: number; w: number; h: number };
}

const shipped = JSON.parse(readFileSync(join(__dirname, '..', '..', DASHBOARD_PATH), 'utf8')) as {
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
};

/** Every series name Talon exports, with the _bucket/_sum/_count series of its histograms. */
async function exportedSeries(): Promise<Set<string>> {
  const metrics = new TalonMetrics({ defaultMetrics: true });
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

/**
 * Metric names in a PromQL expression: the identifiers left once label matchers, `by (…)` lists, ranges and
 * strings are removed, that are not functions (followed by `(`) or keywords.
 */
function metricNames(expr: string): string[] {
  const keywords = new Set([
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'bool',
    'offset',
    'and',
    'or',
    'unless',
  ]);
  const bare = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((n) => !keywords.has(n));
}

describe('Grafana dashboard', () => {
  const panels = shipped.panels.filter((p) => p.type !== 'row');
  const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

  it('is the rendered description (npx tsx tools/grafana/dashboard.ts)', () => {
    expect(shipped).toEqual(JSON.parse(JSON.stringify(renderDashboard())));
  });

  it('every query names at least one metric, and only metrics Talon exports', async () => {
    const exported = await exportedSeries();
    expect(queries.length).toBeGreaterThan(10);
    for (const q of queries) {
      const names = metricNames(q.expr);
      expect({ panel: q.panel, names: names.length > 0 }).toEqual({ panel: q.panel, names: true });
      for (const name of names)
        expect({ panel: q.panel, name, exported: exported.has(name) }).toMatchObject({ exported: true });
    }
  });

  it('the name check itself catches a metric Talon does not export', async () => {
    const exported = await exportedSeries();
    expect(metricNames('sum by (source) (rate(talon_nope_total{a="b"}[5m]))')).toEqual(['talon_nope_total']);
    expect(exported.has('talon_nope_total')).toBe(false);
    expect(
      metricNames(`histogram_quantile(0.95, sum by (le) (rate(talon_step_duration_seconds_bucket[$__rate_interval])))`),
    ).toEqual(['talon_step_duration_seconds_bucket']);
  });

  it('covers what operators look at', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const metric of [
      'talon_alerts_received_total',
      'talon_workflows_finished_total',
      'talon_actions_applied_total',
      'talon_policy_decisions_total',
      'talon_webhook_request_duration_seconds_bucket',
      'talon_storm_brake_engaged',
      'talon_write_budget_used',
      'talon_operator_decisions_total',
      'talon_policy_info',
    ])
      expect(all).toContain(metric);
  });

  it('reads Prometheus through a data source variable, with unique panel ids and no overlapping panels', () => {
    expect(shipped.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource' }));
    for (const q of queries) expect(q.datasource.uid).toBe('${datasource}');
    const ids = shipped.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of shipped.panels)
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`;
          expect(cells.has(cell)).toBe(false);
          cells.add(cell);
        }
  });
});
