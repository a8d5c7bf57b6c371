/**
 * The bundled public dataset the shipped algorithms are measured on (data/mauna-loa-co2.csv, see
 * data/README.md for source and licence), and a small CSV reader for series of that shape.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetInfo } from '../../src/domain/taxonomy';
import { TaskInputError } from '../../src/domain/task-errors';
import { repoRoot } from '../../src/config/repo-root';

export interface Series {
  /** The time column as written, e.g. "1958-03-01". */
  readonly labels: readonly string[];
  /** Days since the Unix epoch, the axis interpolation weighs gaps on. */
  readonly times: readonly number[];
  /** The value column as written, for casting. */
  readonly cells: readonly string[];
  readonly values: readonly number[];
}

export const BUNDLED_DATASET: DatasetInfo & {
  readonly file: string;
  readonly timeColumn: string;
  readonly valueColumn: string;
} = {
  id: 'mauna-loa-co2',
  name: 'Mauna Loa CO2, monthly, 1958–2020 (ppm)',
  source: 'Scripps CO2 Program (Keeling et al.), via the npm package vega-datasets@3.2.1',
  licence: 'CC BY 4.0',
  file: 'data/mauna-loa-co2.csv',
  timeColumn: 'Date',
  valueColumn: 'CO2',
};

const MS_PER_DAY = 86_400_000;

/** Reads a header-first CSV without quoting (the shape of the bundled file) into a series. */
export function parseSeriesCsv(text: string, timeColumn: string, valueColumn: string): Series {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  const ti = header.indexOf(timeColumn);
  const vi = header.indexOf(valueColumn);
  if (ti < 0 || vi < 0) {
    throw new TaskInputError(`CSV header "${header.join(',')}" lacks "${timeColumn}" or "${valueColumn}"`);
  }
  const labels: string[] = [];
  const times: number[] = [];
  const cells: string[] = [];
  const values: number[] = [];
  for (const [n, line] of lines.entries()) {
    const fields = line.split(',');
    const label = (fields[ti] ?? '').trim();
    const cell = (fields[vi] ?? '').trim();
    const time = Date.parse(label);
    const value = Number(cell);
    if (Number.isNaN(time) || cell === '' || !Number.isFinite(value)) {
      throw new TaskInputError(`CSV line ${n + 2}: "${line}" has no valid time and value`);
    }
    labels.push(label);
    times.push(time / MS_PER_DAY);
    cells.push(cell);
    values.push(value);
  }
  return { labels, times, cells, values };
}

export function loadBundledDataset(root: string = repoRoot()): Series {
  const text = readFileSync(join(root, BUNDLED_DATASET.file), 'utf8');
  return parseSeriesCsv(text, BUNDLED_DATASET.timeColumn, BUNDLED_DATASET.valueColumn);
}
