/** Classification and regression metrics for the model card (the columns of D3.3 Table 1). */
import { MODEL_POLICIES } from '../src/domain/policy';

export interface ClassificationReport {
  readonly samples: number;
  readonly accuracy: number;
  /** Unweighted mean over the policies that occur in the labels or the predictions. */
  readonly macroPrecision: number;
  readonly macroRecall: number;
  readonly macroF1: number;
  /** Weighted by label support (what scikit-learn's "weighted" average reports). */
  readonly weightedPrecision: number;
  /** Support-weighted recall equals accuracy; kept so the columns read like scikit-learn's report. */
  readonly weightedRecall: number;
  readonly weightedF1: number;
  /** Per policy (MODEL_POLICIES order): precision, recall and how many labels it had. */
  readonly perClass: readonly { readonly precision: number; readonly recall: number; readonly support: number }[];
  /** Mean |predicted − labelled| magnitude of the labelled policy, in the guide's units. */
  readonly magnitudeMae: number;
  /** confusion[label][prediction] in MODEL_POLICIES order. */
  readonly confusion: number[][];
}

export function classificationReport(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  labelMagnitudes: ArrayLike<number>,
  predictedMagnitudeOfLabel: ArrayLike<number>,
): ClassificationReport {
  const P = MODEL_POLICIES.length;
  const n = labels.length;
  const confusion = Array.from({ length: P }, () => new Array<number>(P).fill(0));
  let correct = 0;
  let mae = 0;
  for (let i = 0; i < n; i++) {
    const l = labels[i] ?? 0;
    const p = predictions[i] ?? 0;
    const row = confusion[l];
    if (row) row[p] = (row[p] ?? 0) + 1;
    if (l === p) correct++;
    mae += Math.abs((predictedMagnitudeOfLabel[i] ?? 0) - (labelMagnitudes[i] ?? 0));
  }
  let macroP = 0;
  let macroR = 0;
  let macroF = 0;
  let classes = 0;
  let weightedP = 0;
  let weightedR = 0;
  let weightedF = 0;
  const perClass: { precision: number; recall: number; support: number }[] = [];
  for (let c = 0; c < P; c++) {
    const tp = confusion[c]?.[c] ?? 0;
    const support = (confusion[c] ?? []).reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + (row[c] ?? 0), 0);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    perClass.push({ precision, recall, support });
    if (support === 0 && predicted === 0) continue;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    macroP += precision;
    macroR += recall;
    macroF += f1;
    classes++;
    weightedP += precision * support;
    weightedR += recall * support;
    weightedF += f1 * support;
  }
  return {
    samples: n,
    accuracy: n === 0 ? 0 : correct / n,
    macroPrecision: classes === 0 ? 0 : macroP / classes,
    macroRecall: classes === 0 ? 0 : macroR / classes,
    macroF1: classes === 0 ? 0 : macroF / classes,
    weightedPrecision: n === 0 ? 0 : weightedP / n,
    weightedRecall: n === 0 ? 0 : weightedR / n,
    weightedF1: n === 0 ? 0 : weightedF / n,
    perClass,
    magnitudeMae: n === 0 ? 0 : mae / n,
    confusion,
  };
}

export function argmaxRows(values: ArrayLike<number>, width: number): Int32Array {
  const rows = Math.floor(values.length / width);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) if ((values[r * width + c] ?? 0) > (values[r * width + best] ?? 0)) best = c;
    out[r] = best;
  }
  return out;
}

/** Percentile of a sample (linear interpolation), for latency figures. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[Math.ceil(pos)] ?? a;
  return a + (b - a) * (pos - lo);
}
