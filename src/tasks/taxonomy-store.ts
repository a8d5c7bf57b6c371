/**
 * Reads and writes taxonomy files: the bundled, measured `data/taxonomy.json` and users' registration
 * files of the same shape. Validation and merging are the domain's (src/domain/taxonomy.ts); this module
 * only does the I/O around them.
 */
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TaxonomyValidationError } from '../domain/task-errors';
import type { Taxonomy } from '../domain/taxonomy';
import { parseTaxonomy, registerUserTaxonomy } from '../domain/taxonomy-parse';
import { repoRoot } from '../config/repo-root';

export const TAXONOMY_FILE = 'data/taxonomy.json';

export function defaultTaxonomyPath(root: string = repoRoot()): string {
  return join(root, TAXONOMY_FILE);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TaxonomyValidationError(path, [`cannot read the file: ${(error as Error).message}`], error);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TaxonomyValidationError(path, [`not valid JSON: ${(error as Error).message}`], error);
  }
}

export interface LoadTaxonomyOptions {
  /** The base taxonomy; defaults to the bundled data/taxonomy.json. */
  readonly file?: string;
  /** Users' registration files, merged in order on top of the base. */
  readonly userFiles?: readonly string[];
}

/** The bundled taxonomy plus any user registrations, validated as a whole. */
export async function loadTaxonomy(options: LoadTaxonomyOptions = {}): Promise<Taxonomy> {
  const file = resolve(options.file ?? defaultTaxonomyPath());
  let taxonomy = parseTaxonomy(await readJson(file), file, 'builtin');
  for (const userFile of options.userFiles ?? []) {
    const path = resolve(userFile);
    taxonomy = registerUserTaxonomy(taxonomy, await readJson(path), path);
  }
  return taxonomy;
}

/**
 * Formats JSON the way the repository's Prettier would, so a re-measured file passes `prettier --check`;
 * plain JSON when Prettier (a development dependency) is not installed.
 */
export async function formatTaxonomyJson(taxonomy: Taxonomy, path: string): Promise<string> {
  const text = `${JSON.stringify(taxonomy, null, 2)}\n`;
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(path)) ?? {};
    return await prettier.format(text, { ...config, filepath: path });
  } catch {
    return text;
  }
}

/** Writes atomically (temp file + rename), so a reader never sees half a taxonomy. */
export async function writeTaxonomy(taxonomy: Taxonomy, path: string = defaultTaxonomyPath()): Promise<void> {
  const target = resolve(path);
  const temp = `${target}.${process.pid}.tmp`;
  await writeFile(temp, await formatTaxonomyJson(taxonomy, target), 'utf8');
  await rename(temp, target);
}
