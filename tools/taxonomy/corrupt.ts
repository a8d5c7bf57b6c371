/**
 * Seeded corruption of a clean series: the clean values are the ground truth, the corrupted copy is the
 * algorithms' input. A fixed seed makes the taxonomy reproducible; the kinds of damage are the ones the
 * tasks exist for (gaps, spikes, badly formatted cells).
 */

/** mulberry32: a tiny, well-mixed 32-bit generator; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInt(rng: () => number, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

export interface GapOptions {
  /** Share of the points to remove. */
  readonly share: number;
  /** Longest run of consecutive missing points. */
  readonly maxRun: number;
}

/**
 * Removes runs of 1..maxRun points until `share` of the series is missing. The first and last points stay,
 * so every gap has neighbours on both sides and the measurement compares interpolation, not extrapolation.
 */
export function punchGaps(
  values: readonly number[],
  rng: () => number,
  options: GapOptions = { share: 0.1, maxRun: 6 },
): { values: (number | null)[]; missing: number[] } {
  const n = values.length;
  const target = Math.round(n * options.share);
  const out: (number | null)[] = [...values];
  let removed = 0;
  for (let guard = 0; removed < target && guard < n * 10; guard++) {
    const run = Math.min(randomInt(rng, 1, options.maxRun), target - removed);
    const start = randomInt(rng, 1, n - 1 - run);
    // Keep a known point between runs, or two runs would merge into one longer than maxRun.
    let free = out[start - 1] !== null && out[start + run] !== null;
    for (let i = start; i < start + run && free; i++) free = out[i] !== null;
    if (!free) continue;
    for (let i = start; i < start + run; i++) out[i] = null;
    removed += run;
  }
  const missing = out.flatMap((v, i) => (v === null ? [i] : []));
  return { values: out, missing };
}

export interface SpikeOptions {
  readonly share: number;
  /** Spike size range, in robust standard deviations of the month-to-month change. */
  readonly minSigma: number;
  readonly maxSigma: number;
}

/** Robust spread of the series' first differences: 1.4826 × MAD, so the spike size follows the data's own noise. */
export function differenceScale(values: readonly number[]): number {
  const diffs: number[] = [];
  for (let i = 1; i < values.length; i++) diffs.push((values[i] as number) - (values[i - 1] as number));
  const sorted = [...diffs].sort((a, b) => a - b);
  const med = sorted[sorted.length >> 1] ?? 0;
  const dev = diffs.map((d) => Math.abs(d - med)).sort((a, b) => a - b);
  return 1.4826 * (dev[dev.length >> 1] ?? 0);
}

/**
 * Adds isolated spikes of random sign and size to `share` of the points; no two spikes are adjacent, so
 * each one is an outlier on its own and the ground truth is unambiguous.
 */
export function injectSpikes(
  values: readonly number[],
  rng: () => number,
  options: SpikeOptions = { share: 0.03, minSigma: 3, maxSigma: 8 },
): { values: number[]; outliers: boolean[] } {
  const n = values.length;
  const scale = differenceScale(values);
  const out = [...values];
  const outliers = new Array<boolean>(n).fill(false);
  const target = Math.round(n * options.share);
  let placed = 0;
  for (let guard = 0; placed < target && guard < n * 10; guard++) {
    const i = randomInt(rng, 0, n - 1);
    if (outliers[i] || outliers[i - 1] || outliers[i + 1]) continue;
    const size = (options.minSigma + rng() * (options.maxSigma - options.minSigma)) * scale;
    out[i] = (values[i] as number) + (rng() < 0.5 ? -size : size);
    outliers[i] = true;
    placed++;
  }
  return { values: out, outliers };
}

export const CELL_DAMAGE = ['decimal-comma', 'padding', 'exponent', 'unit', 'missing'] as const;
export type CellDamage = (typeof CELL_DAMAGE)[number];

/** Renders one clean cell the way a given kind of sloppy export would. */
export function damageCell(cell: string, kind: CellDamage, rng: () => number): string {
  switch (kind) {
    case 'decimal-comma':
      return cell.replace('.', ',');
    case 'padding':
      return `  ${cell}\t`;
    case 'exponent':
      return Number(cell).toExponential();
    case 'unit':
      return `${cell} ppm`;
    case 'missing':
      return ['', 'NA', 'n/a', 'null', '-'][randomInt(rng, 0, 4)] as string;
  }
}

/**
 * Damages `share` of the cells with a random kind each. Truth is the clean number, or null where the
 * damage erased the value.
 */
export function garbleCells(
  cells: readonly string[],
  rng: () => number,
  share = 0.25,
): { cells: string[]; truth: (number | null)[]; damage: (CellDamage | null)[] } {
  const out: string[] = [];
  const truth: (number | null)[] = [];
  const damage: (CellDamage | null)[] = [];
  for (const cell of cells) {
    if (rng() >= share) {
      out.push(cell);
      truth.push(Number(cell));
      damage.push(null);
      continue;
    }
    const kind = CELL_DAMAGE[randomInt(rng, 0, CELL_DAMAGE.length - 1)] as CellDamage;
    out.push(damageCell(cell, kind, rng));
    truth.push(kind === 'missing' ? null : Number(cell));
    damage.push(kind);
  }
  return { cells: out, truth, damage };
}
