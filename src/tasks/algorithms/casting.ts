/**
 * Data casting (D3.3 1.7.1): turn raw text cells, as they arrive from CSV exports and sensors, into
 * numbers, with `null` for cells that hold no value. The two methods trade coverage for speed.
 */

/** Spellings of "no value" seen in exports; compared case-insensitively after trimming. */
export const MISSING_TOKENS: ReadonlySet<string> = new Set(['', 'na', 'n/a', 'nan', 'null', 'none', '-', '?']);

/**
 * Strict cast: the JavaScript number grammar and nothing else (`Number`, which trims whitespace and
 * reads exponents). Anything else, a decimal comma or a unit included, becomes null rather than a guess.
 */
export function castStrict(cells: readonly string[]): (number | null)[] {
  return cells.map((cell) => {
    if (cell.trim() === '') return null;
    const value = Number(cell);
    return Number.isFinite(value) ? value : null;
  });
}

// A number, optionally with a decimal comma instead of a point, and an optional trailing unit word.
const TOLERANT = /^([+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?)\s*(?:[A-Za-zµ°%/]+)?$/;

/**
 * Tolerant cast: also accepts a decimal comma ("315,70"), a trailing unit ("315.70 ppm") and the usual
 * missing-value tokens. The grammar allows one separator only, so "1,234.5" (a thousands comma) is not
 * misread as 1.234 but becomes null.
 */
export function castTolerant(cells: readonly string[]): (number | null)[] {
  return cells.map((cell) => {
    const trimmed = cell.trim();
    if (MISSING_TOKENS.has(trimmed.toLowerCase())) return null;
    const match = TOLERANT.exec(trimmed);
    if (!match?.[1]) return null;
    const value = Number(match[1].replace(',', '.'));
    return Number.isFinite(value) ? value : null;
  });
}
