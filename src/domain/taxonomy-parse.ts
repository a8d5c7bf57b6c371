/**
 * Validation of taxonomy documents (the bundled table and users' registrations) and merging them: the zod
 * schema plus the cross-references it cannot express. Kept apart from `taxonomy.ts` so workflows, which only
 * read a parsed taxonomy, do not load zod into every workflow's module cache.
 */
import { z } from 'zod';
import { TaxonomyValidationError } from './task-errors';
import { metricDefinitions, PRIORITY_PARAMETERS, type AlgorithmOrigin, type Taxonomy } from './taxonomy';

const idSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/, 'lowercase letters, digits and inner dashes, at most 40 characters');
const metricIdSchema = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'lowercase snake_case');
const text = z.string().min(1);

const metricSchema = z.strictObject({
  id: metricIdSchema,
  label: text,
  unit: z.string(),
  better: z.enum(['lower', 'higher']),
  parameter: z.enum(PRIORITY_PARAMETERS),
  min: z.number().optional(),
  max: z.number().optional(),
  description: z.string().default(''),
});

const datasetSchema = z.strictObject({
  id: text,
  name: text,
  source: text,
  licence: text,
  rows: z.number().int().nonnegative().optional(),
});

const taskSchema = z.strictObject({ id: idSchema, name: text, description: z.string().default('') });

const algorithmSchema = z.strictObject({
  id: idSchema,
  task: idSchema,
  name: text,
  description: z.string().default(''),
  origin: z.enum(['builtin', 'user']).optional(),
  dataset: text,
  metrics: z.record(metricIdSchema, z.number().nullable()),
  image: text,
  command: z.array(text).min(1),
  measuredAt: z.iso.datetime().optional(),
});

const taxonomySchema = z.strictObject({
  schemaVersion: z.literal(1),
  generatedAt: z.iso.datetime().optional(),
  energyModel: z.string().optional(),
  datasets: z.array(datasetSchema).default([]),
  metrics: z.array(metricSchema).default([]),
  tasks: z.array(taskSchema).default([]),
  algorithms: z.array(algorithmSchema).default([]),
});

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.');
}

/**
 * Validates a taxonomy document. `origin` stamps every algorithm: a user's file cannot pass its entries
 * off as built-in ones. Throws {@link TaxonomyValidationError} listing every problem found.
 */
export function parseTaxonomy(input: unknown, source: string, origin: AlgorithmOrigin = 'builtin'): Taxonomy {
  const taxonomy = parseShape(input, source, origin);
  const issues = checkConsistency(taxonomy);
  if (issues.length > 0) throw new TaxonomyValidationError(source, issues);
  return taxonomy;
}

/**
 * Adds a user's registration document (same shape as the taxonomy file) to `base`. Its entries may
 * refer to the base's tasks and metrics, so consistency is checked on the merged whole; see
 * {@link mergeTaxonomies}.
 */
export function registerUserTaxonomy(base: Taxonomy, input: unknown, source: string): Taxonomy {
  return mergeTaxonomies(base, parseShape(input, source, 'user'), source);
}

function parseShape(input: unknown, source: string, origin: AlgorithmOrigin): Taxonomy {
  const parsed = taxonomySchema.safeParse(input);
  if (!parsed.success) {
    throw new TaxonomyValidationError(
      source,
      parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
      parsed.error,
    );
  }
  return { ...parsed.data, algorithms: parsed.data.algorithms.map((a) => ({ ...a, origin })) };
}

function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const v of values) (seen.has(v) ? dup : seen).add(v);
  return [...dup];
}

/** Cross-references the schema cannot express: unique ids, known tasks and metrics, values within bounds. */
function checkConsistency(taxonomy: Taxonomy): string[] {
  const issues: string[] = [];
  const metrics = metricDefinitions(taxonomy);
  for (const id of duplicates(metrics.map((m) => m.id))) issues.push(`metric "${id}" is defined more than once`);
  for (const m of taxonomy.metrics) {
    if (m.min !== undefined && m.max !== undefined && m.min > m.max) {
      issues.push(`metric "${m.id}": min ${m.min} is above max ${m.max}`);
    }
  }
  for (const id of duplicates(taxonomy.tasks.map((t) => t.id))) issues.push(`task "${id}" is defined more than once`);
  for (const id of duplicates(taxonomy.datasets.map((d) => d.id))) {
    issues.push(`dataset "${id}" is defined more than once`);
  }
  for (const key of duplicates(taxonomy.algorithms.map((a) => `${a.task}/${a.id}`))) {
    issues.push(`algorithm "${key}" is registered more than once`);
  }
  const tasks = new Set(taxonomy.tasks.map((t) => t.id));
  const byId = new Map(metrics.map((m) => [m.id, m]));
  for (const a of taxonomy.algorithms) {
    if (!tasks.has(a.task)) issues.push(`algorithm "${a.task}/${a.id}": task "${a.task}" is not defined`);
    for (const [key, value] of Object.entries(a.metrics)) {
      const def = byId.get(key);
      if (!def) {
        issues.push(`algorithm "${a.task}/${a.id}": metric "${key}" is not defined`);
        continue;
      }
      if (value === null) continue;
      if ((def.min !== undefined && value < def.min) || (def.max !== undefined && value > def.max)) {
        issues.push(
          `algorithm "${a.task}/${a.id}": ${key} = ${value} is outside [${def.min ?? '-∞'}, ${def.max ?? '∞'}]`,
        );
      }
    }
  }
  return issues;
}

/**
 * Adds a user's registrations to a taxonomy. The result is re-checked as a whole, so a user algorithm may
 * join a built-in task and use a metric defined in either part, while clashing ids are rejected rather
 * than silently overriding the measured built-ins.
 */
export function mergeTaxonomies(base: Taxonomy, extra: Taxonomy, source: string): Taxonomy {
  const merged: Taxonomy = {
    schemaVersion: 1,
    ...(base.generatedAt === undefined ? {} : { generatedAt: base.generatedAt }),
    ...(base.energyModel === undefined ? {} : { energyModel: base.energyModel }),
    datasets: [...base.datasets, ...extra.datasets],
    metrics: [...base.metrics, ...extra.metrics],
    tasks: [...base.tasks, ...extra.tasks],
    algorithms: [...base.algorithms, ...extra.algorithms],
  };
  const issues = checkConsistency(merged);
  if (issues.length > 0) throw new TaxonomyValidationError(source, issues);
  return merged;
}
