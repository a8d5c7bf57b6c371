/**
 * Synthetic usage series for the breach predictor's benchmark (bench/predictive.ts): families that cross the
 * alert threshold (ramps of several slopes, a noisy ramp, an accelerating leak, a daily cycle, a compressed
 * season with growing peaks, a spike) and families that do not (constant, flapping under the line, a daily
 * cycle and a compressed season under it, a ramp that levels off under it, wandering noise), plus flapping over
 * the line, where any forecast is redundant. Shares of the limit; seeded, so a run is reproducible.
 */
import type { Rng } from '../../training/rng';

export interface SeriesFamily {
  readonly name: string;
  /** Whether the series crosses the threshold (lead time is measured) or not (an alarm is a false one). */
  readonly kind: 'breach' | 'clear' | 'flapping';
  /** The whole timeline, one value per step, as a share of the limit. */
  make(rng: Rng, stepSeconds: number): number[];
}

export interface FamilyOptions {
  readonly threshold: number;
  /** Samples of flat history before anything happens (so the first window is full). */
  readonly warmupSteps: number;
}

const minutes = (m: number, stepSeconds: number): number => Math.round((m * 60) / stepSeconds);

/**
 * `warmup` samples of history, then `shape(i)` for i = 0…length−1; noise added everywhere. The history is flat at
 * `base` (a steady state before a ramp or a spike), or, with `base` undefined, the shape itself continued back in
 * time (a cycle has no flat past: a flat stretch followed by its first rise would read as the start of a ramp).
 */
function timeline(
  rng: Rng,
  warmup: number,
  length: number,
  base: number | undefined,
  sigma: number,
  shape: (i: number) => number,
): number[] {
  return Array.from(
    { length: warmup + length },
    (_, t) => (t < warmup && base !== undefined ? base : shape(t - warmup)) + rng.normal(0, sigma),
  );
}

export function seriesFamilies(o: FamilyOptions): SeriesFamily[] {
  const w = o.warmupSteps;
  const thr = o.threshold;
  const ramp = (perMinute: number, sigma: number, name: string): SeriesFamily => ({
    name,
    kind: 'breach',
    make: (rng, step) => {
      const base = rng.uniform(0.2, 0.4);
      const perStep = (perMinute * step) / 60;
      const steps = Math.ceil((thr + 0.1 - base) / perStep);
      return timeline(rng, w, steps, base, sigma, (i) => base + perStep * i);
    },
  });
  return [
    ramp(0.005, 0.015, 'ramp 0.5 %/min'),
    ramp(0.01, 0.015, 'ramp 1 %/min'),
    ramp(0.02, 0.015, 'ramp 2 %/min'),
    ramp(0.04, 0.015, 'ramp 4 %/min'),
    ramp(0.01, 0.04, 'ramp 1 %/min, noise 4 %'),
    {
      name: 'leak (accelerating)',
      kind: 'breach',
      make: (rng, step) => {
        const base = rng.uniform(0.25, 0.35);
        // Quadratic growth reaching the threshold after 30–50 minutes.
        const reach = minutes(rng.uniform(30, 50), step);
        const c = (thr - base) / reach ** 2;
        return timeline(rng, w, Math.ceil(reach * 1.15), base, 0.01, (i) => base + c * i * i);
      },
    },
    {
      name: 'diurnal, peak over',
      kind: 'breach',
      make: (rng, step) => {
        const day = minutes(24 * 60, step);
        const peak = rng.uniform(0.85, 0.95);
        const mid = 0.5;
        const cycle = (i: number) => mid + (peak - mid) * Math.sin((2 * Math.PI * i) / day - Math.PI / 2);
        // The three hours of the morning rise before it crosses (a day of flat history adds nothing).
        const end = Array.from({ length: day }, (_, i) => cycle(i)).findIndex((v) => v >= thr + 0.03);
        const from = Math.max(0, end - minutes(180, step));
        const at = (i: number) => cycle(from + i);
        return timeline(rng, w, end - from, undefined, 0.015, at);
      },
    },
    {
      name: 'season 10 min, peaks growing',
      kind: 'breach',
      make: (rng, step) => {
        const period = minutes(10, step);
        const amplitude = rng.uniform(0.12, 0.18);
        const growth = rng.uniform(0.05, 0.08) / period;
        const base = 0.25;
        const at = (i: number) => base + growth * i + amplitude * Math.sin((2 * Math.PI * i) / period);
        const steps = Array.from({ length: 20 * period }, (_, i) => at(i)).findIndex((v) => v >= thr + 0.03);
        return timeline(rng, w, steps, undefined, 0.01, at);
      },
    },
    {
      name: 'spike',
      kind: 'breach',
      make: (rng, step) => {
        const base = rng.uniform(0.3, 0.5);
        const jump = rng.uniform(0.9, 1.0);
        return timeline(rng, w, minutes(10, step), base, 0.015, (i) => (i < minutes(5, step) ? base : jump));
      },
    },
    {
      name: 'constant',
      kind: 'clear',
      make: (rng, step) => {
        const level = rng.uniform(0.3, 0.75);
        return timeline(rng, w, minutes(120, step), level, 0.01, () => level);
      },
    },
    {
      name: 'flapping under the line',
      kind: 'clear',
      make: (rng, step) => {
        const half = minutes(rng.uniform(1, 3), step);
        const [low, high] = [rng.uniform(0.35, 0.5), rng.uniform(0.68, 0.76)];
        return timeline(rng, w, minutes(120, step), undefined, 0.01, (i) => (Math.floor(i / half) % 2 ? high : low));
      },
    },
    {
      name: 'diurnal, peak under',
      kind: 'clear',
      make: (rng, step) => {
        const day = minutes(24 * 60, step);
        const peak = rng.uniform(0.68, 0.74);
        const cycle = (i: number) => 0.4 + (peak - 0.4) * Math.sin((2 * Math.PI * i) / day - Math.PI / 2);
        // The four hours up to the peak: the trap is extrapolating the flank.
        const from = Math.floor(day / 2) - minutes(240, step);
        const at = (i: number) => cycle(from + i);
        return timeline(rng, w, minutes(240, step), undefined, 0.015, at);
      },
    },
    {
      name: 'season 10 min, peaks under',
      kind: 'clear',
      make: (rng, step) => {
        const period = minutes(10, step);
        const peak = rng.uniform(0.68, 0.75);
        const amplitude = rng.uniform(0.15, 0.25);
        const at = (i: number) => peak - amplitude + amplitude * Math.sin((2 * Math.PI * i) / period);
        return timeline(rng, w, minutes(120, step), undefined, 0.01, at);
      },
    },
    {
      name: 'ramp levelling off under',
      kind: 'clear',
      make: (rng, step) => {
        const base = rng.uniform(0.25, 0.35);
        const top = rng.uniform(0.66, 0.74);
        // Steep at first (about 4 %/min), then saturating: a linear extrapolation of the start would cross.
        const tau = minutes((top - base) / 0.04, step);
        return timeline(rng, w, minutes(120, step), base, 0.015, (i) => top - (top - base) * Math.exp(-i / tau));
      },
    },
    {
      name: 'wandering noise (trap)',
      kind: 'clear',
      make: (rng, step) => {
        // AR(1) around 0.5 with long swings, kept under 0.76: it looks like a trend now and then, and is not one.
        const phi = 0.97;
        const sigma = 0.05 * Math.sqrt(1 - phi * phi);
        let x = 0;
        return Array.from({ length: w + minutes(120, step) }, () => {
          x = phi * x + rng.normal(0, sigma);
          const v = 0.5 + x;
          if (v > 0.76) x = 0.76 - 0.5 - (v - 0.76);
          return 0.5 + x + rng.normal(0, 0.01);
        });
      },
    },
    {
      name: 'flapping over the line',
      kind: 'flapping',
      make: (rng, step) => {
        const half = minutes(rng.uniform(1, 3), step);
        const [low, high] = [rng.uniform(0.4, 0.55), rng.uniform(0.85, 0.95)];
        return timeline(rng, w, minutes(120, step), undefined, 0.01, (i) => (Math.floor(i / half) % 2 ? high : low));
      },
    },
  ];
}
