/**
 * Time-series interpolation (the task of D3.3 Table 2): fill missing values of a series. `null` marks a
 * missing value. Both methods fill every position, so quality can be measured at every gap.
 */
import { TaskInputError } from '../../domain/task-errors';

function checkInput(times: readonly number[] | undefined, values: readonly (number | null)[]): void {
  if (times !== undefined && times.length !== values.length) {
    throw new TaskInputError(`times (${times.length}) and values (${values.length}) differ in length`);
  }
  if (!values.some((v) => v !== null && Number.isFinite(v))) {
    throw new TaskInputError('the series has no known value to interpolate from');
  }
}

function known(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Linear interpolation on the time axis (pandas `interpolate(method='time')`): a gap is bridged on the
 * straight line between its neighbours, weighted by elapsed time so uneven sampling is honoured. Leading
 * and trailing gaps have only one neighbour and take its value.
 */
export function linearInterpolate(times: readonly number[], values: readonly (number | null)[]): number[] {
  checkInput(times, values);
  const out = new Array<number>(values.length);
  let prev = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!known(v)) continue;
    out[i] = v;
    if (prev < 0) {
      for (let j = 0; j < i; j++) out[j] = v;
    } else if (i - prev > 1) {
      const t0 = times[prev] as number;
      const v0 = out[prev] as number;
      const span = (times[i] as number) - t0;
      for (let j = prev + 1; j < i; j++) {
        out[j] = span === 0 ? v0 : v0 + ((v - v0) * ((times[j] as number) - t0)) / span;
      }
    }
    prev = i;
  }
  const last = out[prev] as number;
  for (let j = prev + 1; j < values.length; j++) out[j] = last;
  return out;
}

/**
 * Pad interpolation (pandas `method='pad'`, forward fill): a gap repeats the last known value. A leading
 * gap has no past value and is back-filled from the first known one instead of staying empty.
 */
export function padInterpolate(values: readonly (number | null)[]): number[] {
  checkInput(undefined, values);
  const first = values.find(known) as number;
  const out = new Array<number>(values.length);
  let last = first;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (known(v)) last = v;
    out[i] = last;
  }
  return out;
}
