/**
 * Outlier removal: flag values that break from their neighbourhood, then drop them. Both detectors look
 * at a centred window rather than the whole series, because a trending, seasonal series (CO2 rises
 * 100 ppm over the record) makes every global statistic useless for spotting a 5 ppm spike.
 */

export interface WindowOptions {
  /** Neighbours on each side of the point; the window is truncated at the ends of the series. */
  readonly halfWindow: number;
  /** How many standard deviations (or scaled MADs) away counts as an outlier. */
  readonly threshold: number;
}

// Short windows and a Hampel threshold of 2 instead of the textbook 3: on a monthly seasonal series the
// level moves by several units within a few months, so a wider window folds the cycle into the spread and
// hides spikes of the same size (on the bundled CO2 series a 13-point z-score finds a quarter of them).
export const ZSCORE_DEFAULTS: WindowOptions = { halfWindow: 3, threshold: 3 };
export const HAMPEL_DEFAULTS: WindowOptions = { halfWindow: 3, threshold: 2 };

/** Scales a median absolute deviation to a standard deviation for normally distributed data. */
export const MAD_TO_SIGMA = 1.4826;

/**
 * Rolling z-score, leave-one-out: the point is compared with the mean and standard deviation of its
 * neighbours only, since including it would let a large spike inflate the deviation that judges it.
 */
export function zScoreOutliers(values: readonly number[], options: WindowOptions = ZSCORE_DEFAULTS): boolean[] {
  const { halfWindow, threshold } = options;
  const flags = new Array<boolean>(values.length);
  for (let i = 0; i < values.length; i++) {
    const lo = Math.max(0, i - halfWindow);
    const hi = Math.min(values.length - 1, i + halfWindow);
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    for (let j = lo; j <= hi; j++) {
      if (j === i) continue;
      const v = values[j] as number;
      n++;
      sum += v;
      sumSq += v * v;
    }
    const x = values[i] as number;
    if (n < 2) {
      flags[i] = false;
      continue;
    }
    const mean = sum / n;
    const std = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
    const distance = Math.abs(x - mean);
    flags[i] = std === 0 ? distance > 0 : distance / std > threshold;
  }
  return flags;
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Hampel filter: the point is an outlier when it is further than `threshold` scaled MADs from the median
 * of its window. Median and MAD ignore the spike itself, which makes the filter robust where z-score is not.
 */
export function hampelOutliers(values: readonly number[], options: WindowOptions = HAMPEL_DEFAULTS): boolean[] {
  const { halfWindow, threshold } = options;
  const flags = new Array<boolean>(values.length);
  const window: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const lo = Math.max(0, i - halfWindow);
    const hi = Math.min(values.length - 1, i + halfWindow);
    window.length = 0;
    for (let j = lo; j <= hi; j++) window.push(values[j] as number);
    window.sort((a, b) => a - b);
    const m = median(window);
    for (let k = 0; k < window.length; k++) window[k] = Math.abs((window[k] as number) - m);
    window.sort((a, b) => a - b);
    const sigma = MAD_TO_SIGMA * median(window);
    const distance = Math.abs((values[i] as number) - m);
    flags[i] = sigma === 0 ? distance > 0 : distance > threshold * sigma;
  }
  return flags;
}

/** Removal proper: flagged values become missing, ready for the interpolation task. */
export function removeFlagged(values: readonly number[], flags: readonly boolean[]): (number | null)[] {
  return values.map((v, i) => (flags[i] ? null : v));
}
