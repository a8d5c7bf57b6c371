/**
 * A bounded Nelder–Mead minimiser: enough to fit three smoothing parameters, deterministic (no random
 * restarts), dependency-free. Points outside the box are clamped onto it before evaluation, so the
 * objective only ever sees feasible parameters.
 */

export interface MinimiseOptions {
  readonly lower: readonly number[];
  readonly upper: readonly number[];
  /** Relative size of the first simplex along each axis, as a share of the box (default 0.1). */
  readonly step?: number;
  readonly maxIterations?: number;
  /** Stop when the simplex's values differ by less than this (default 1e-12, relative). */
  readonly tolerance?: number;
}

export interface Minimum {
  readonly x: number[];
  readonly value: number;
  readonly iterations: number;
}

const clampTo = (x: readonly number[], lower: readonly number[], upper: readonly number[]): number[] =>
  x.map((v, i) => Math.min(upper[i]!, Math.max(lower[i]!, v)));

export function nelderMead(
  f: (x: readonly number[]) => number,
  start: readonly number[],
  opts: MinimiseOptions,
): Minimum {
  const n = start.length;
  const maxIterations = opts.maxIterations ?? 500 * n;
  const tolerance = opts.tolerance ?? 1e-12;
  const step = opts.step ?? 0.1;
  const evaluate = (x: readonly number[]): { x: number[]; value: number } => {
    const p = clampTo(x, opts.lower, opts.upper);
    const value = f(p);
    return { x: p, value: Number.isFinite(value) ? value : Number.POSITIVE_INFINITY };
  };
  let simplex = [evaluate(start)];
  for (let i = 0; i < n; i++) {
    const x = [...start];
    const width = (opts.upper[i]! - opts.lower[i]!) * step;
    // Step away from the nearer bound so the vertex stays distinct after clamping.
    x[i] = x[i]! + width <= opts.upper[i]! ? x[i]! + width : x[i]! - width;
    simplex.push(evaluate(x));
  }
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    simplex.sort((a, b) => a.value - b.value);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    if (Math.abs(worst.value - best.value) <= tolerance * (Math.abs(best.value) + 1e-300)) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j]! += simplex[i]!.x[j]! / n;
    const along = (t: number) => centroid.map((c, j) => c + t * (worst.x[j]! - c));
    const reflected = evaluate(along(-1));
    if (reflected.value < best.value) {
      const expanded = evaluate(along(-2));
      simplex[n] = expanded.value < reflected.value ? expanded : reflected;
    } else if (reflected.value < simplex[n - 1]!.value) {
      simplex[n] = reflected;
    } else {
      const contracted = evaluate(along(reflected.value < worst.value ? -0.5 : 0.5));
      if (contracted.value < Math.min(worst.value, reflected.value)) {
        simplex[n] = contracted;
      } else {
        simplex = simplex.map((v, i) =>
          i === 0 ? v : evaluate(v.x.map((x, j) => best.x[j]! + 0.5 * (x - best.x[j]!))),
        );
      }
    }
  }
  simplex.sort((a, b) => a.value - b.value);
  return { x: simplex[0]!.x, value: simplex[0]!.value, iterations };
}
