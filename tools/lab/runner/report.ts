/**
 * The run's report: `report.md` (a summary table, then one table and picture per scenario, with the changes each
 * engine made and why a harmful one counts as harmful) and `report.json` with every number. Pure rendering;
 * the runner writes the files.
 */
import type { Scenario } from '../scenario/model';
import { baseScenario, byScenario, renderRepetitions } from './repetitions';
import type { CopyScore } from './score';

/** The SLO in words, for the report. */
export function sloText(s: Pick<Scenario, 'slo'>): string {
  const on = s.slo.workloads.join(', ');
  if (s.slo.kind === 'latency_p95') return `p95 latency ≤ ${Math.round(s.slo.threshold * 1000)} ms for ${on}`;
  if (s.slo.kind === 'availability') return `served share ≥ ${s.slo.threshold} for ${on}`;
  return `throttled periods ≤ ${s.slo.threshold} for ${on}`;
}

export interface ScenarioReport {
  /** The section's name: the scenario's, with `-r<n>` for repetition n of a repeated run. */
  readonly name: string;
  /** The scenario's own name (absent in reports written before repetitions were grouped). */
  readonly scenario?: string;
  readonly source: string;
  readonly description: string;
  readonly expect?: string;
  readonly sloText: string;
  readonly wallSeconds: number;
  /** One per engine and repetition. */
  readonly copies: readonly (CopyScore & { readonly repeat: number })[];
  readonly picture?: string;
}

export interface RunReport {
  readonly run: string;
  readonly command: string;
  readonly startedAt: string;
  readonly wallSeconds: number;
  readonly engines: readonly string[];
  readonly repeat: number;
  readonly scenarios: readonly ScenarioReport[];
  readonly notes: readonly string[];
  readonly chaos?: {
    readonly perBatch: number;
    readonly seed: number;
    readonly events: readonly { readonly kind: string; readonly ok: boolean; readonly recoveredSeconds: number }[];
    readonly summary: Readonly<Record<string, number>>;
  };
}

const fmt = (v: number | null | undefined, unit = ''): string => {
  if (v === null || v === undefined) return '–';
  // Small quantities (J per request) keep three significant digits; the rest one decimal.
  const text = v !== 0 && Math.abs(v) < 1 ? String(Number(v.toPrecision(3))) : String(Math.round(v * 10) / 10);
  return `${text}${unit}`;
};

function mean(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** One summary row per scenario over its repetitions: every copy, the longest wall time, a link to the first. */
function summaryRows(
  r: RunReport,
): { name: string; link: string; wallSeconds: number; copies: ScenarioReport['copies'] }[] {
  return [...byScenario(r)].map(([name, copies]) => {
    const sections = r.scenarios.filter((s) => baseScenario(s, r.repeat) === name);
    return {
      name,
      link: sections[0]?.name ?? name,
      wallSeconds: Math.max(0, ...sections.map((s) => s.wallSeconds)),
      copies,
    };
  });
}

/** Per engine, the copies of one scenario (every repetition of it in a summary row). */
function byEngine(
  s: Pick<ScenarioReport, 'copies'>,
  engines: readonly string[],
): Map<string, (CopyScore & { repeat: number })[]> {
  return new Map(engines.map((e) => [e, s.copies.filter((c) => c.engine === e)]));
}

const ROWS: readonly [string, (c: CopyScore) => number | null, string?][] = [
  ['SLO violated (s)', (c) => c.sloViolationSeconds],
  ['time to mitigate from first alert (s)', (c) => c.timeToMitigateSeconds],
  ['alerts fired', (c) => c.alertsFired],
  ['remediations started', (c) => c.remediationsStarted],
  ['alerts lost', (c) => c.alertsLost],
  ['changes made (seen in the cluster)', (c) => c.actions],
  ['harmful changes', (c) => c.harmfulActions],
  ['OOM kills', (c) => c.oomKills],
  ['pods disrupted', (c) => c.podsDisrupted],
  ['escalation depth', (c) => c.escalationDepth],
  ['re-fires within the cool-down', (c) => c.refiresWithinCooldown],
  ['needs_human hand-offs', (c) => c.needsHuman],
  ['changes applied twice (same operation id)', (c) => c.appliedTwice],
  ['energy, containers (J)', (c) => c.energyJoules],
  ['energy, nodes (J)', (c) => c.nodeEnergyJoules],
  ['served (units·s)', (c) => c.servedUnits],
  ['J per served unit', (c) => c.joulesPerServedUnit],
];

export function renderMarkdown(r: RunReport): string {
  const out: string[] = [];
  out.push(`# Incident lab report — run ${r.run}`, '');
  out.push(`\`${r.command}\``, '');
  out.push(
    `Started ${r.startedAt}; ${byScenario(r).size} scenario(s) × ${r.engines.length} engine(s) × ${r.repeat} repetition(s), ` +
      `engines side by side on identical copies; wall time ${fmt(r.wallSeconds / 60)} min.`,
    '',
  );
  out.push('## Summary', '');
  out.push(
    r.repeat > 1
      ? 'SLO-violation seconds (lower is better): mean over repetitions [lowest–highest], mean harmful changes in brackets.'
      : 'SLO-violation seconds (lower is better), harmful changes in brackets.',
    '',
  );
  out.push(
    `| scenario | ${r.engines.join(' | ')} | wall (s) |`,
    `| --- | ${r.engines.map(() => '---:').join(' | ')} | ---: |`,
  );
  // Repetitions of one scenario share a row: the mean over them and their range (a single run's row is its own).
  for (const s of summaryRows(r)) {
    const per = byEngine(s, r.engines);
    const cells = r.engines.map((e) => {
      const cs = per.get(e) ?? [];
      if (cs.length === 0) return '–';
      const slo = cs.map((c) => c.sloViolationSeconds).filter((v): v is number => v !== null);
      // Over repetitions, the range too: one placement or scrape phase can move a scenario by minutes.
      const range = slo.length > 1 ? ` [${fmt(Math.min(...slo))}–${fmt(Math.max(...slo))}]` : '';
      return `${fmt(mean(slo))}${range} (${fmt(mean(cs.map((c) => c.harmfulActions)))})`;
    });
    out.push(`| [${s.name}](#${s.link}) | ${cells.join(' | ')} | ${Math.round(s.wallSeconds)} |`);
  }
  const totals = r.engines.map((e) => {
    const all = r.scenarios.flatMap((s) => s.copies.filter((c) => c.engine === e));
    const sum = (f: (c: CopyScore) => number | null) =>
      all.reduce((a, c) => a + (f(c) ?? 0), 0) / Math.max(1, r.repeat);
    return {
      e,
      slo: sum((c) => c.sloViolationSeconds),
      harm: sum((c) => c.harmfulActions),
      lost: sum((c) => c.alertsLost),
      j: sum((c) => c.energyJoules),
    };
  });
  out.push(
    `| **total** | ${totals.map((t) => `**${fmt(t.slo)}** (${fmt(t.harm)})`).join(' | ')} | ${Math.round(r.wallSeconds)} |`,
    '',
  );
  out.push(`| engine | alerts lost | energy, containers (J) |`, '| --- | ---: | ---: |');
  for (const t of totals) out.push(`| ${t.e} | ${t.e === 'none' ? '–' : fmt(t.lost)} | ${fmt(t.j)} |`);
  out.push('');
  if (r.notes.length > 0) out.push(...r.notes.map((n) => `- ${n}`), '');
  out.push(...renderRepetitions(r));
  if (r.chaos) {
    const talon = r.scenarios.flatMap((s) => s.copies.filter((c) => c.engine.startsWith('talon-')));
    const lost = talon.reduce((a, c) => a + (c.alertsLost ?? 0), 0);
    const twice = talon.reduce((a, c) => a + c.appliedTwice, 0);
    const slowest = Math.max(0, ...r.chaos.events.map((e) => e.recoveredSeconds));
    const s = r.chaos.summary;
    out.push('## Chaos', '');
    out.push(
      `Seed ${r.chaos.seed}, ${r.chaos.perBatch} disruptions per batch: ${s.total ?? 0} in all — ${s['kill-worker'] ?? 0} worker SIGKILLs, ` +
        `${s['kill-webhook'] ?? 0} webhook SIGKILLs, ${s['restart-temporal'] ?? 0} Temporal restarts; ${s.survived ?? 0} came back ` +
        `(slowest ${fmt(slowest)} s). Talon's copies: **${lost} alert(s) lost, ${twice} change(s) applied twice**.`,
      '',
    );
  }

  for (const s of r.scenarios) {
    out.push(`## ${s.name}`, '');
    out.push(`${s.description}`, '');
    if (s.expect) out.push(`Expected: ${s.expect}`, '');
    out.push(`SLO: ${s.sloText}. File: \`${s.source}\`. Wall time ${Math.round(s.wallSeconds)} s.`, '');
    if (s.picture) out.push(`![${s.name}](${s.picture})`, '');
    const per = byEngine(s, r.engines);
    out.push(`| | ${r.engines.join(' | ')} |`, `| --- | ${r.engines.map(() => '---:').join(' | ')} |`);
    for (const [label, f] of ROWS) {
      const cells = r.engines.map((e) => {
        const cs = per.get(e) ?? [];
        return cs.length === 0 ? '–' : fmt(mean(cs.map(f)));
      });
      out.push(`| ${label} | ${cells.join(' | ')} |`);
    }
    out.push('');
    for (const e of r.engines) {
      for (const c of per.get(e) ?? []) {
        const rep = r.repeat > 1 ? ` (repetition ${c.repeat + 1})` : '';
        if (c.actionLog.length === 0 && c.lostAlerts.length === 0) continue;
        out.push(
          `<details><summary>${e}${rep}: ${c.actionLog.length} change(s)${c.lostAlerts.length ? `, ${c.lostAlerts.length} lost alert(s)` : ''}</summary>`,
          '',
        );
        for (const a of c.actionLog) {
          out.push(
            `- ${Math.round(a.t)} s: ${a.kind} ${a.workload ?? a.node ?? ''} — ${a.detail}${a.harmful ? ` — **harmful**: ${a.why}` : ''}`,
          );
        }
        for (const l of c.lostAlerts) out.push(`- lost: ${l.alertname} ${l.target}`);
        out.push('', '</details>', '');
      }
    }
  }
  return `${out.join('\n')}\n`;
}
