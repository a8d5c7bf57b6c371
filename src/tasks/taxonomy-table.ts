/**
 * Human renderings of the taxonomy (in the layout of D3.3 Table 2) and of a selection's explanation, as
 * aligned text for terminals and as Markdown for docs.
 */
import { PRIORITY_PARAMETERS, metricDefinitions, type MetricDefinition, type Taxonomy } from '../domain/taxonomy';
import type { SelectionResult } from '../domain/selection';

export type TableFormat = 'text' | 'markdown';

/** Four significant digits; exponent form below a thousandth so microseconds stay readable. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'N/A';
  if (value === 0) return '0';
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1e-3 && abs < 1e6) return String(Number(value.toPrecision(4)));
  return value.toExponential(3).replace(/\.?0+e/, 'e');
}

function heading(m: MetricDefinition): string {
  return m.unit && m.unit !== 'data unit' ? `${m.label} (${m.unit})` : m.label;
}

export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  format: TableFormat,
): string {
  if (format === 'markdown') {
    const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The taxonomy as Table 2: one row per algorithm, the task name shown on its first row only. */
export function renderTaxonomy(taxonomy: Taxonomy, format: TableFormat, task?: string): string {
  const metrics = metricDefinitions(taxonomy);
  const headers = ['Task', 'Name', 'Dataset', ...metrics.map(heading), 'Origin'];
  const rows: string[][] = [];
  for (const t of taxonomy.tasks) {
    if (task !== undefined && t.id !== task) continue;
    const algorithms = taxonomy.algorithms.filter((a) => a.task === t.id);
    algorithms.forEach((a, i) => {
      rows.push([
        i === 0 ? `${t.name} (${t.id})` : '',
        `${a.name} (${a.id})`,
        a.dataset,
        ...metrics.map((m) => formatNumber(a.metrics[m.id])),
        a.origin,
      ]);
    });
    if (algorithms.length === 0) rows.push([`${t.name} (${t.id})`, '(no algorithm)', '', ...metrics.map(() => ''), '']);
  }
  return renderTable(headers, rows, format);
}

/** A selection's ranking: coefficient, per-parameter scores and per-metric normalised scores of every candidate. */
export function renderSelection(result: SelectionResult, format: TableFormat): string {
  const first = result.ranking[0];
  const metricIds = first ? first.metrics.map((m) => m.metric) : [];
  const parameters = PRIORITY_PARAMETERS.filter((p) => result.effective[p] > 0);
  const headers = [
    'Rank',
    'Algorithm',
    'Coefficient',
    ...parameters.map((p) => `${p} (w=${result.effective[p].toFixed(2)})`),
    ...metricIds.map((m) => `${m} raw→norm`),
  ];
  const rows = result.ranking.map((c) => [
    String(c.rank),
    c.algorithm,
    c.coefficient.toFixed(3),
    ...parameters.map((p) => {
      const score = c.parameters.find((s) => s.parameter === p)?.score;
      return score === null || score === undefined ? 'N/A' : score.toFixed(3);
    }),
    ...c.metrics.map((m) => `${formatNumber(m.raw)}→${m.normalised.toFixed(3)}`),
  ]);
  const notes = result.notes.map((n) => (format === 'markdown' ? `- ${n}` : `note: ${n}`));
  return [result.summary, '', renderTable(headers, rows, format), ...(notes.length > 0 ? ['', ...notes] : [])].join(
    '\n',
  );
}
