/**
 * Quality metrics of D3.3 1.6 computed against a ground truth: MAE for regression-like tasks, accuracy,
 * precision and F1 for detection and casting. Undefined ratios (no positive prediction at all) are 0,
 * since a detector that never fires is worth nothing, not "not applicable".
 */

/** Mean absolute error over the given positions only: the ones the algorithm had to reconstruct. */
export function meanAbsoluteError(
  predicted: readonly number[],
  truth: readonly number[],
  positions: readonly number[],
): number {
  if (positions.length === 0) return 0;
  let sum = 0;
  for (const i of positions) sum += Math.abs((predicted[i] as number) - (truth[i] as number));
  return sum / positions.length;
}

export interface ClassificationScores {
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
}

function ratios(tp: number, fp: number, fn: number, tn: number): ClassificationScores {
  const total = tp + fp + fn + tn;
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { accuracy: total === 0 ? 0 : (tp + tn) / total, precision, recall, f1, tp, fp, fn, tn };
}

/** Binary classification (true = positive, e.g. "is an outlier"). */
export function classificationScores(predicted: readonly boolean[], truth: readonly boolean[]): ClassificationScores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < truth.length; i++) {
    const p = predicted[i] === true;
    const t = truth[i] === true;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
    else tn++;
  }
  return ratios(tp, fp, fn, tn);
}

/** Values equal up to the float noise of decimal parsing. */
function same(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
}

/**
 * Casting as retrieval of values: positive = "the cell holds this number". A correct number is a TP; a
 * number where the truth is missing is a FP; null where the truth is a number is a FN; a wrong number is
 * both (it invents one value and loses another); null for a missing cell is a TN. Accuracy counts cells
 * whose output equals the truth.
 */
export function castingScores(
  predicted: readonly (number | null)[],
  truth: readonly (number | null)[],
): ClassificationScores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const p = predicted[i] ?? null;
    const t = truth[i] ?? null;
    if (p === null && t === null) {
      tn++;
      correct++;
    } else if (p === null) fn++;
    else if (t === null) fp++;
    else if (same(p, t)) {
      tp++;
      correct++;
    } else {
      fp++;
      fn++;
    }
  }
  const scores = ratios(tp, fp, fn, tn);
  return { ...scores, accuracy: truth.length === 0 ? 0 : correct / truth.length };
}
