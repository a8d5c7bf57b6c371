/**
 * The picture of a repeated run: per engine, one dot per repetition's suite total of SLO-violation seconds and a
 * bar at their mean, on one axis, so the spread between repetitions is seen beside the gaps between engines.
 * SVG text, pure.
 */
import type { RunReport } from './report';
import { repetitionTotals } from './repetitions';
import { ENGINE_COLOURS, esc, niceMax } from './svg';

const W = 760;
const LEFT = 150;
const RIGHT = 40;
const ROW = 34;
const TOP = 40;

export function repetitionsSvg(r: Pick<RunReport, 'run' | 'engines' | 'scenarios' | 'repeat'>): string {
  const rows = r.engines.map((engine) => ({ engine, totals: repetitionTotals(r, engine) }));
  const max = niceMax(Math.max(0, ...rows.flatMap((row) => row.totals)));
  const plot = W - LEFT - RIGHT;
  const x = (v: number) => LEFT + (v / max) * plot;
  const height = TOP + rows.length * ROW + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${LEFT}" y="20" font-size="14">Run ${esc(r.run)}: suite total of SLO-violation seconds, ${r.repeat} repetitions (dots), mean (bar)</text>`,
  ];
  const bottom = TOP + rows.length * ROW;
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    out.push(
      `<line x1="${x(v)}" y1="${TOP - 6}" x2="${x(v)}" y2="${bottom}" stroke="#ddd"/>`,
      `<text x="${x(v)}" y="${bottom + 16}" text-anchor="middle" fill="#555">${Math.round(v)}</text>`,
    );
  }
  out.push(`<text x="${LEFT + plot / 2}" y="${bottom + 34}" text-anchor="middle" fill="#555">seconds</text>`);
  rows.forEach(({ engine, totals }, i) => {
    const y = TOP + i * ROW + ROW / 2;
    const colour = ENGINE_COLOURS[engine] ?? '#333';
    const mean = totals.reduce((s, t) => s + t, 0) / Math.max(1, totals.length);
    out.push(
      `<text x="${LEFT - 10}" y="${y + 4}" text-anchor="end">${esc(engine)}</text>`,
      `<line x1="${x(Math.min(...totals))}" y1="${y}" x2="${x(Math.max(...totals))}" y2="${y}" stroke="${colour}" stroke-opacity="0.4" stroke-width="2"/>`,
      `<line x1="${x(mean)}" y1="${y - 10}" x2="${x(mean)}" y2="${y + 10}" stroke="${colour}" stroke-width="3"><title>${esc(engine)} mean ${Math.round(mean)} s</title></line>`,
    );
    totals.forEach((t, k) =>
      out.push(
        `<circle cx="${x(t)}" cy="${y}" r="5" fill="${colour}" fill-opacity="0.75"><title>${esc(engine)} repetition ${k + 1}: ${Math.round(t)} s</title></circle>`,
      ),
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
