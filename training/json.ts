/**
 * JSON laid out the way Prettier lays it out (objects expanded, short arrays on one line, arrays of arrays one
 * row per line), so the files `talon model train` writes pass `prettier --check` as written and a retrain
 * that reproduces the model leaves them byte-identical.
 */
const WIDTH = 120;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function hasForcedBreak(x: unknown): boolean {
  if (isObject(x)) return Object.values(x).some((v) => v !== undefined);
  return Array.isArray(x) && (breaksRows(x) || x.some(hasForcedBreak));
}

/** Prettier breaks an array whose elements are all arrays (or all objects) with more than one entry. */
function breaksRows(items: readonly unknown[]): boolean {
  if (items.length < 2) return false;
  return (
    items.every((x) => Array.isArray(x) && x.length > 1) || items.every((x) => isObject(x) && Object.keys(x).length > 1)
  );
}

function flat(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flat).join(', ')}]`;
  return JSON.stringify(value) ?? 'null';
}

function format(value: unknown, indent: string, used: number, trailing: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (!hasForcedBreak(value)) {
      const line = flat(value);
      if (used + line.length + trailing <= WIDTH) return line;
    }
    const inner = indent + '  ';
    if (value.every((x) => typeof x === 'number')) {
      // Number arrays are "filled": as many per line as fit.
      const lines: string[] = [];
      let current = '';
      value.forEach((x, i) => {
        const piece = JSON.stringify(x) + (i < value.length - 1 ? ',' : '');
        if (current === '') current = inner + piece;
        else if (current.length + 1 + piece.length <= WIDTH) current += ' ' + piece;
        else {
          lines.push(current);
          current = inner + piece;
        }
      });
      lines.push(current);
      return `[\n${lines.join('\n')}\n${indent}]`;
    }
    const lines = value.map((x, i) => inner + format(x, inner, inner.length, i < value.length - 1 ? 1 : 0));
    return `[\n${lines.join(',\n')}\n${indent}]`;
  }
  if (isObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const inner = indent + '  ';
    const lines = entries.map(([k, v], i) => {
      const head = `${inner}${JSON.stringify(k)}: `;
      return head + format(v, inner, head.length, i < entries.length - 1 ? 1 : 0);
    });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function stableJson(value: unknown): string {
  return format(value, '', 0, 0) + '\n';
}
