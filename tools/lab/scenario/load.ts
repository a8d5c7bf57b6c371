/**
 * Reading scenario files: YAML → schema (./schema.ts) → {@link Scenario} (./normalise.ts). A bad file is a
 * {@link ScenarioError} listing every problem as `file:line field: why`, so nothing is started on a file the lab
 * would misread.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { Scenario } from './model';
import { normaliseScenario, type Issue } from './normalise';
import { scenarioSchema } from './schema';

/** A scenario file that cannot be run; `issues` carry the field paths. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly issues: readonly (Issue & { readonly line?: number })[],
  ) {
    super(
      `invalid scenario ${source}:\n` +
        issues
          .map(
            (i) =>
              `  - ${i.line === undefined ? '' : `line ${i.line}: `}${i.path === '' ? '(file)' : i.path}: ${i.message}`,
          )
          .join('\n'),
    );
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The 1-based line of the deepest YAML node on `path` (the field itself or the nearest parent that exists). */
function lineOf(doc: Document, counter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function pathKeys(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/** Parses and validates scenario text; `source` names it in errors, `baseDir` resolves CSV traces. */
export function parseScenario(text: string, source: string, baseDir: string): Scenario {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      source,
      doc.errors.map((e) => ({
        path: '',
        message: `YAML: ${e.message.split('\n')[0]}`,
        ...(e.linePos?.[0] ? { line: e.linePos[0].line } : {}),
      })),
    );
  }
  const parsed = scenarioSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new ScenarioError(
      source,
      parsed.error.issues.map((i) => {
        const line = lineOf(doc, counter, i.path);
        return { path: formatPath(i.path), message: i.message, ...(line === undefined ? {} : { line }) };
      }),
    );
  }
  const readText = (relative: string): string =>
    readFileSync(isAbsolute(relative) ? relative : resolve(baseDir, relative), 'utf8');
  const result = normaliseScenario(parsed.data, source, readText);
  if ('issues' in result) {
    throw new ScenarioError(
      source,
      result.issues.map((i) => {
        const line = lineOf(doc, counter, pathKeys(i.path));
        return { ...i, ...(line === undefined ? {} : { line }) };
      }),
    );
  }
  return result.scenario;
}

/** Reads one scenario file (any path, not only the committed ones). */
export function loadScenario(path: string): Scenario {
  const full = resolve(path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    throw new ScenarioError(path, [
      { path: '', message: `cannot read: ${err instanceof Error ? err.message : String(err)}` },
    ]);
  }
  return parseScenario(text, path, dirname(full));
}

/** Loads every file, reporting the problems of all of them together (nothing runs if one is bad). */
export function loadScenarios(paths: readonly string[]): Scenario[] {
  const errors: ScenarioError[] = [];
  const scenarios: Scenario[] = [];
  for (const p of paths) {
    try {
      scenarios.push(loadScenario(p));
    } catch (err) {
      if (err instanceof ScenarioError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) {
    throw new ScenarioError(
      `${errors.length} files`,
      errors.flatMap((e) => e.issues.map((i) => ({ ...i, path: `${e.source}: ${i.path}` }))),
    );
  }
  const names = new Map<string, string>();
  for (const s of scenarios) {
    const other = names.get(s.name);
    if (other)
      throw new ScenarioError(s.source, [{ path: 'name', message: `"${s.name}" is also the name of ${other}` }]);
    names.set(s.name, s.source);
  }
  return scenarios;
}
