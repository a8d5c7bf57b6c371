/**
 * One picture per scenario, written as SVG text (no browser, no chart library): on one timeline, the demand and
 * each engine's CPU use and limit of the scenario's main workload, each engine's SLO measure against its
 * threshold, and a row of marks for every change each engine made. Pure.
 */
import type { TimelinePoint } from '../driver/driver';
import type { Scenario } from '../scenario/model';
import type { Action, AlertEpisode } from './score';

export interface EngineSeries {
  readonly engine: string;
  readonly timeline: readonly TimelinePoint[];
  readonly actions: readonly Action[];
  readonly episodes: readonly AlertEpisode[];
  /** Unix seconds of the scenario's t = 0 (to place alert episodes). */
  readonly startAt: number;
}

export const ENGINE_COLOURS: Readonly<Record<string, string>> = {
  'talon-model': '#1f77b4',
  'talon-rules': '#2ca02c',
  'talon-predictive': '#d62728',
  'seed-orchestrator': '#ff7f0e',
  none: '#7f7f7f',
  demo: '#9467bd',
};

const W = 980;
const LEFT = 115;
const RIGHT = 150;
const PLOT = W - LEFT - RIGHT;

/** Text made safe inside SVG markup. */
export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number): string => (Math.round(v * 100) / 100).toString();

/** A round axis end at or above `v`. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 6, 8, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

interface Panel {
  readonly top: number;
  readonly height: number;
  readonly max: number;
  readonly x: (t: number) => number;
}

function y(panel: Panel, v: number): number {
  return panel.top + panel.height - (Math.min(v, panel.max) / panel.max) * panel.height;
}

function path(panel: Panel, pts: readonly [number, number][], step = false): string {
  let d = '';
  pts.forEach(([t, v], i) => {
    const X = panel.x(t).toFixed(1);
    const Y = y(panel, v).toFixed(1);
    if (i === 0) d += `M${X},${Y}`;
    else if (step) d += `H${X}V${Y}`;
    else d += `L${X},${Y}`;
  });
  return d;
}

function axes(panel: Panel, label: string, unit: (v: number) => string, duration: number): string {
  const out: string[] = [];
  out.push(
    `<rect x="${LEFT}" y="${panel.top}" width="${PLOT}" height="${panel.height}" fill="#fafafa" stroke="#ccc"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (panel.max * i) / 4;
    const Y = y(panel, v).toFixed(1);
    out.push(`<line x1="${LEFT}" x2="${LEFT + PLOT}" y1="${Y}" y2="${Y}" stroke="#eee"/>`);
    out.push(
      `<text x="${LEFT - 6}" y="${Y}" font-size="10" text-anchor="end" dominant-baseline="middle">${esc(unit(v))}</text>`,
    );
  }
  const every = duration > 600 ? 120 : duration > 240 ? 60 : 30;
  for (let t = 0; t <= duration; t += every) {
    const X = panel.x(t).toFixed(1);
    out.push(`<line x1="${X}" x2="${X}" y1="${panel.top}" y2="${panel.top + panel.height}" stroke="#eee"/>`);
    out.push(`<text x="${X}" y="${panel.top + panel.height + 12}" font-size="10" text-anchor="middle">${t}s</text>`);
  }
  out.push(
    `<text x="14" y="${panel.top + panel.height / 2}" font-size="11" transform="rotate(-90 14 ${panel.top + panel.height / 2})" text-anchor="middle">${esc(label)}</text>`,
  );
  return out.join('\n');
}

export function scenarioSvg(scenario: Scenario, engines: readonly EngineSeries[]): string {
  const duration = scenario.durationSeconds;
  const x = (t: number): number => LEFT + (Math.max(0, Math.min(duration, t)) / duration) * PLOT;
  const main = scenario.slo.workloads[0]!;
  const parts: string[] = [];
  const height = 170 + 150 + 40 + engines.length * 22 + 60;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="15" font-weight="bold">${esc(scenario.name)}</text>`,
    `<text x="${LEFT}" y="36" font-size="11" fill="#444">${esc(scenario.description.slice(0, 150))}</text>`,
  );

  // Panel 1: CPU of the main workload (cores): demand, each engine's use (solid) and limit × pods (dashed).
  const cpuMax = niceMax(
    Math.max(
      ...engines.flatMap((e) =>
        e.timeline.map((p) => {
          const v = p.workloads[main];
          return v ? Math.max(v.demandCores, v.used, v.cpuLimit * Math.max(1, v.pods)) : 0;
        }),
      ),
      0.1,
    ),
  );
  const cpu: Panel = { top: 50, height: 150, max: cpuMax, x };
  parts.push(axes(cpu, `${main}: CPU (cores)`, (v) => num(v), duration));
  const ref = engines.find((e) => e.timeline.length > 0);
  if (ref) {
    const demand = ref.timeline.map((p): [number, number] => [p.t, p.workloads[main]?.demandCores ?? 0]);
    parts.push(`<path d="${path(cpu, demand)}" fill="none" stroke="#000" stroke-width="2" stroke-opacity="0.6"/>`);
  }
  for (const e of engines) {
    const c = ENGINE_COLOURS[e.engine] ?? '#333';
    const used = e.timeline.map((p): [number, number] => [p.t, p.workloads[main]?.used ?? 0]);
    const limit = e.timeline.map((p): [number, number] => {
      const v = p.workloads[main];
      return [p.t, v ? v.cpuLimit * Math.max(1, v.serving || v.pods) : 0];
    });
    parts.push(`<path d="${path(cpu, used)}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
    parts.push(
      `<path d="${path(cpu, limit, true)}" fill="none" stroke="${c}" stroke-width="1" stroke-dasharray="5,3"/>`,
    );
  }

  // Panel 2: the SLO measure per engine against its threshold.
  const latency = scenario.slo.kind === 'latency_p95';
  const sloValues = engines.flatMap((e) => e.timeline.map((p) => p.slo.value));
  const sloMax = latency
    ? niceMax(Math.min(Math.max(...sloValues, scenario.slo.threshold * 2), scenario.slo.threshold * 8))
    : 1;
  const slo: Panel = { top: 240, height: 130, max: sloMax, x };
  const unit = latency ? (v: number) => `${Math.round(v * 1000)}ms` : (v: number) => `${Math.round(v * 100)}%`;
  parts.push(axes(slo, `SLO: ${scenario.slo.kind}`, unit, duration));
  const th = y(slo, scenario.slo.threshold).toFixed(1);
  parts.push(`<line x1="${LEFT}" x2="${LEFT + PLOT}" y1="${th}" y2="${th}" stroke="#d62728" stroke-dasharray="6,3"/>`);
  parts.push(
    `<text x="${LEFT + PLOT + 4}" y="${th}" font-size="10" fill="#d62728" dominant-baseline="middle">threshold ${esc(unit(scenario.slo.threshold))}</text>`,
  );
  for (const e of engines) {
    const c = ENGINE_COLOURS[e.engine] ?? '#333';
    parts.push(
      `<path d="${path(
        slo,
        e.timeline.map((p): [number, number] => [p.t, p.slo.value]),
      )}" fill="none" stroke="${c}" stroke-width="1.5"/>`,
    );
  }

  // Faults.
  for (const [i, f] of scenario.faults.entries()) {
    const x0 = x(f.at);
    const x1 = x(Math.min(duration, f.at + f.duration));
    parts.push(
      `<rect x="${x0.toFixed(1)}" y="50" width="${Math.max(1, x1 - x0).toFixed(1)}" height="320" fill="#d62728" fill-opacity="0.05"/>`,
    );
    parts.push(
      `<text x="${(x0 + 2).toFixed(1)}" y="${60 + i * 10}" font-size="9" fill="#d62728">${esc(f.type)} ${esc(f.workload)}</text>`,
    );
  }

  // Rows: alert episodes (thin bar) and changes (marks) per engine.
  const rowsTop = 400;
  parts.push(
    `<text x="${LEFT}" y="${rowsTop - 8}" font-size="11">alerts firing (bar) and changes seen in the cluster (▲ harmful in red)</text>`,
  );
  engines.forEach((e, i) => {
    const c = ENGINE_COLOURS[e.engine] ?? '#333';
    const top = rowsTop + i * 22;
    parts.push(
      `<text x="${LEFT - 6}" y="${top + 8}" font-size="10" text-anchor="end" fill="${c}">${esc(e.engine)}</text>`,
    );
    parts.push(`<line x1="${LEFT}" x2="${LEFT + PLOT}" y1="${top + 8}" y2="${top + 8}" stroke="#eee"/>`);
    for (const ep of e.episodes) {
      const x0 = x(ep.start - e.startAt);
      const x1 = x(ep.end - e.startAt);
      parts.push(
        `<rect x="${x0.toFixed(1)}" y="${top + 12}" width="${Math.max(2, x1 - x0).toFixed(1)}" height="3" fill="${c}" fill-opacity="0.5"><title>${esc(`${ep.alertname} ${ep.target}`)}</title></rect>`,
      );
    }
    for (const a of e.actions) {
      const X = x(a.t).toFixed(1);
      parts.push(
        `<path d="M${X},${top} l5,9 h-10 z" fill="${a.harmful ? '#d62728' : c}"><title>${esc(`${Math.round(a.t)}s ${a.kind} ${a.workload ?? a.node ?? ''}: ${a.detail}${a.why ? ` — harmful: ${a.why}` : ''}`)}</title></path>`,
      );
    }
  });

  // Legend.
  const lx = LEFT + PLOT + 10;
  parts.push(`<text x="${lx}" y="60" font-size="10">— demand</text>`);
  engines.forEach((e, i) => {
    parts.push(
      `<text x="${lx}" y="${76 + i * 14}" font-size="10" fill="${ENGINE_COLOURS[e.engine] ?? '#333'}">— ${esc(e.engine)}</text>`,
    );
  });
  parts.push(`<text x="${lx}" y="${80 + engines.length * 14}" font-size="9" fill="#555">solid: CPU used</text>`);
  parts.push(`<text x="${lx}" y="${92 + engines.length * 14}" font-size="9" fill="#555">dashed: limit × pods</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
