/**
 * The price–demand balance as an SVG picture (like D3.6's Figure 6): for each resource, over the range of
 * prices the leader may set, the followers' demand (units served), the expected revenue and the provider's
 * utility (revenue − electricity), with the market price and the Stackelberg optimum marked. Hand-written
 * SVG, no browser or library: the CLI writes it with `talon offer --svg <file>`.
 */
import { optimalPrice, priceBounds, providerUtility, served, type ResourceGame } from '../domain/pricing/stackelberg';

export interface ChartPanel {
  readonly title: string;
  /** Unit of the resource (vCPU-hours, GB-hours) and of its price. */
  readonly unit: string;
  readonly game: ResourceGame;
}

const W = 560;
const H = 360;
const M = { left: 70, right: 70, top: 48, bottom: 58 };
const COLOURS = { demand: '#1f77b4', revenue: '#2ca02c', utility: '#d62728', market: '#7f7f7f' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 4 significant digits, trailing zeros dropped, no exponent for the small prices of RAM. */
function num(v: number): string {
  if (v === 0) return '0';
  const digits = Math.max(0, 3 - Math.floor(Math.log10(Math.abs(v))));
  return String(Number(v.toFixed(Math.min(digits, 7))));
}

function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max * 1.0001; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function panel(p: ChartPanel, x0: number, samples = 200): string {
  const { min, max } = priceBounds(p.game);
  const opt = optimalPrice(p.game);
  const prices = Array.from({ length: samples + 1 }, (_, i) => min + ((max - min) * i) / samples);
  const demand = prices.map((price) => served(p.game, price));
  const revenue = prices.map((price, i) => price * demand[i]!);
  const utility = prices.map((price) => providerUtility(p.game, price));
  const maxDemand = Math.max(...demand, 1e-12);
  const maxMoney = Math.max(...revenue, ...utility, 1e-12);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (price: number) => x0 + M.left + ((price - min) / (max - min)) * plotW;
  const yDemand = (v: number) => M.top + plotH - (v / maxDemand) * plotH;
  const yMoney = (v: number) => M.top + plotH - (Math.max(0, v) / maxMoney) * plotH;
  const path = (ys: number[], y: (v: number) => number) =>
    ys.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(prices[i]!).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const parts: string[] = [];
  parts.push(
    `<text x="${x0 + W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text>`,
  );
  // Axes and grid.
  parts.push(
    `<rect x="${x0 + M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333" stroke-width="1"/>`,
  );
  for (const t of ticks(max)) {
    if (t < min) continue;
    const tx = x(t).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${M.top + plotH}" x2="${tx}" y2="${M.top + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${tx}" y="${M.top + plotH + 18}" text-anchor="middle" font-size="11">${num(t)}</text>`);
  }
  for (const t of ticks(maxDemand, 4)) {
    const ty = yDemand(t).toFixed(1);
    parts.push(`<line x1="${x0 + M.left}" y1="${ty}" x2="${x0 + M.left + plotW}" y2="${ty}" stroke="#eee"/>`);
    parts.push(
      `<text x="${x0 + M.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="${COLOURS.demand}">${num(t)}</text>`,
    );
  }
  for (const t of ticks(maxMoney, 4)) {
    const ty = yMoney(t).toFixed(1);
    parts.push(
      `<text x="${x0 + M.left + plotW + 6}" y="${ty}" dominant-baseline="middle" font-size="11">${num(t)}</text>`,
    );
  }
  parts.push(
    `<text x="${x0 + M.left + plotW / 2}" y="${H - 14}" text-anchor="middle" font-size="12">price (€ per ${esc(p.unit)})</text>`,
  );
  parts.push(
    `<text transform="translate(${x0 + 16},${M.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="${COLOURS.demand}">demand served (${esc(p.unit)})</text>`,
  );
  parts.push(
    `<text transform="translate(${x0 + W - 12},${M.top + plotH / 2}) rotate(90)" text-anchor="middle" font-size="12">€ (revenue, utility)</text>`,
  );
  // Market price.
  const mx = x(p.game.marketPrice).toFixed(1);
  parts.push(
    `<line x1="${mx}" y1="${M.top}" x2="${mx}" y2="${M.top + plotH}" stroke="${COLOURS.market}" stroke-dasharray="4 3"/>`,
  );
  parts.push(
    `<text x="${mx}" y="${M.top - 6}" text-anchor="middle" font-size="11" fill="${COLOURS.market}">market ${num(p.game.marketPrice)}</text>`,
  );
  // Curves.
  parts.push(`<path d="${path(demand, yDemand)}" fill="none" stroke="${COLOURS.demand}" stroke-width="2"/>`);
  parts.push(`<path d="${path(revenue, yMoney)}" fill="none" stroke="${COLOURS.revenue}" stroke-width="2"/>`);
  parts.push(`<path d="${path(utility, yMoney)}" fill="none" stroke="${COLOURS.utility}" stroke-width="2.5"/>`);
  // The optimum.
  const ox = x(opt.price);
  const oy = yMoney(opt.utility);
  parts.push(
    `<line x1="${ox.toFixed(1)}" y1="${M.top}" x2="${ox.toFixed(1)}" y2="${M.top + plotH}" stroke="${COLOURS.utility}" stroke-dasharray="2 3"/>`,
  );
  parts.push(
    `<circle cx="${ox.toFixed(1)}" cy="${oy.toFixed(1)}" r="5" fill="${COLOURS.utility}" stroke="#fff" stroke-width="1.5"/>`,
  );
  // The label sits low in the plot, beside the optimum's line, where the falling demand leaves room.
  const labelRight = ox < x0 + M.left + plotW * 0.6;
  const lx = (ox + (labelRight ? 6 : -6)).toFixed(1);
  const anchor = labelRight ? 'start' : 'end';
  parts.push(
    `<text x="${lx}" y="${M.top + plotH - 26}" text-anchor="${anchor}" font-size="12" fill="${COLOURS.utility}">optimum ${num(opt.price)} €</text>`,
    `<text x="${lx}" y="${M.top + plotH - 10}" text-anchor="${anchor}" font-size="12" fill="${COLOURS.utility}">acceptance ${(opt.acceptance * 100).toFixed(0)} %, utility ${num(opt.utility)} €</text>`,
  );
  return parts.join('\n');
}

export interface ChartOptions {
  readonly title?: string;
  readonly subtitle?: string;
}

/** One SVG document with a panel per resource, side by side, and a shared legend. */
export function priceDemandSvg(panels: readonly ChartPanel[], options: ChartOptions = {}): string {
  const width = W * panels.length;
  const top = options.title ? 50 : 0;
  const height = H + top + 30;
  const legend = [
    ['demand served', COLOURS.demand],
    ['expected revenue', COLOURS.revenue],
    ['provider utility (revenue − electricity)', COLOURS.utility],
    ['market price', COLOURS.market],
  ] as const;
  const legendItems = legend
    .map(([label, colour], i) => {
      const lx = 20 + i * (width / legend.length);
      return `<line x1="${lx}" y1="${height - 14}" x2="${lx + 24}" y2="${height - 14}" stroke="${colour}" stroke-width="3"/><text x="${lx + 30}" y="${height - 10}" font-size="12">${esc(label)}</text>`;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    options.title
      ? `<text x="${width / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">${esc(options.title)}</text>`
      : '',
    options.subtitle
      ? `<text x="${width / 2}" y="42" text-anchor="middle" font-size="12" fill="#555">${esc(options.subtitle)}</text>`
      : '',
    `<g transform="translate(0,${top})">`,
    ...panels.map((p, i) => panel(p, i * W)),
    `</g>`,
    legendItems,
    `</svg>`,
    '',
  ].join('\n');
}
