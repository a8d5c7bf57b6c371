/**
 * The user's priorities ("quality 70 / energy 30", D3.3 1.4.5) turned into weights that sum to 1, shared
 * by algorithm selection and placement so both read the same request the same way. Pure.
 */
import { InvalidPrioritiesError } from './task-errors';
import { isPriorityParameter, PRIORITY_PARAMETERS, type PriorityParameter } from './taxonomy';

/** What a user sends: parameter name → importance, on any scale (70/30 and 0.7/0.3 mean the same). */
export type Priorities = Readonly<Partial<Record<string, number>>>;

/** Each parameter's share of the total importance; the shares sum to 1. */
export type PriorityWeights = Readonly<Record<PriorityParameter, number>>;

/**
 * Validates raw priorities and scales them to shares. Every problem is reported at once, so a face can
 * show the user one complete message: unknown names, non-numbers, negatives, and a total of zero.
 */
export function normalisePriorities(raw: Readonly<Record<string, unknown>>): PriorityWeights {
  const problems: string[] = [];
  const values: Record<PriorityParameter, number> = { quality: 0, speed: 0, energy: 0, cost: 0 };
  for (const [name, value] of Object.entries(raw)) {
    if (!isPriorityParameter(name)) {
      problems.push(`unknown parameter "${name}" (expected ${PRIORITY_PARAMETERS.join(', ')})`);
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      problems.push(`${name} must be a finite number, got ${JSON.stringify(value) ?? String(value)}`);
      continue;
    }
    if (value < 0) {
      problems.push(`${name} must not be negative, got ${value}`);
      continue;
    }
    values[name] = value;
  }
  const total = PRIORITY_PARAMETERS.reduce((sum, p) => sum + values[p], 0);
  if (problems.length === 0 && total === 0) {
    problems.push(`at least one of ${PRIORITY_PARAMETERS.join(', ')} must be above zero`);
  }
  if (problems.length > 0) throw new InvalidPrioritiesError(problems);
  return {
    quality: values.quality / total,
    speed: values.speed / total,
    energy: values.energy / total,
    cost: values.cost / total,
  };
}

/**
 * Reads the compact form used on command lines and in query strings: `quality=70,energy=30` (commas or
 * spaces between pairs, `=` or `:` inside them). Names are not checked here; {@link normalisePriorities} does.
 */
export function parsePriorities(text: string): Record<string, number> {
  const result: Record<string, number> = {};
  const problems: string[] = [];
  for (const pair of text.split(/[\s,]+/).filter((p) => p.length > 0)) {
    const match = /^([A-Za-z_][\w-]*)[=:](.+)$/.exec(pair);
    if (!match?.[1] || match[2] === undefined) {
      problems.push(`"${pair}" is not name=value`);
      continue;
    }
    const value = Number(match[2]);
    if (match[2].trim() === '' || Number.isNaN(value)) {
      problems.push(`"${pair}": ${match[2]} is not a number`);
      continue;
    }
    if (match[1] in result) problems.push(`"${match[1]}" is given more than once`);
    result[match[1]] = value;
  }
  if (problems.length === 0 && Object.keys(result).length === 0) problems.push('no priorities given');
  if (problems.length > 0) throw new InvalidPrioritiesError(problems);
  return result;
}

/** "quality 70%, energy 30%": the non-zero shares, largest first. */
export function describeWeights(weights: PriorityWeights): string {
  return PRIORITY_PARAMETERS.filter((p) => weights[p] > 0)
    .sort((a, b) => weights[b] - weights[a])
    .map((p) => `${p} ${formatPercent(weights[p])}`)
    .join(', ');
}

export function formatPercent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}
