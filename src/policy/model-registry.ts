/**
 * A folder of versioned policy models and two pointers: the champion (what workers serve) and the challenger
 * (what they run in shadow). Workers follow the pointers and reload without a restart; `talon model promote`
 * moves the champion after the promotion gate, `talon model rollback` moves it back one step.
 *
 *   <registry>/registry.json                 pointers, the champion stack and an event history
 *   <registry>/versions/<version>/policy.onnx, policy.json, MODEL_CARD.md, provenance.json (optional)
 *
 * A version's name is its metadata's modelVersion, so a decision's logged model version names its files. Writes
 * are atomic (temporary file + rename) and serialised by a lock file, so a worker polling the file never reads
 * half of one and two operators cannot interleave a promote and a rollback.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelRegistryError } from './errors';
import { metadataPathFor, modelMetadataSchema, type ModelMetadata } from './model-metadata';

export const REGISTRY_FORMAT = 'talon-model-registry/1';
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

const eventSchema = z.object({
  at: z.string(),
  action: z.enum(['register', 'promote', 'rollback', 'shadow', 'unshadow']),
  version: z.string(),
  from: z.string().optional(),
  reason: z.string().optional(),
  by: z.string().optional(),
});

const registrySchema = z.object({
  format: z.literal(REGISTRY_FORMAT),
  /** Champions in the order they were promoted; the last one is served. */
  champions: z.array(z.string().regex(VERSION)),
  challenger: z.string().regex(VERSION).optional(),
  history: z.array(eventSchema),
});

export type RegistryState = z.infer<typeof registrySchema>;
export type RegistryEvent = z.infer<typeof eventSchema>;

export function isVersionName(value: string): boolean {
  return VERSION.test(value);
}

export function registryFile(dir: string): string {
  return join(dir, 'registry.json');
}

export function versionDir(dir: string, version: string): string {
  if (!VERSION.test(version)) throw new ModelRegistryError(`"${version}" is not a model version name`);
  return join(dir, 'versions', version);
}

/** The ONNX file of a version (its metadata sits next to it). */
export function versionModelPath(dir: string, version: string): string {
  return join(versionDir(dir, version), 'policy.onnx');
}

export function champion(state: RegistryState): string | undefined {
  return state.champions.at(-1);
}

const EMPTY: RegistryState = { format: REGISTRY_FORMAT, champions: [], history: [] };

/** The registry's state; an empty one when the folder has none yet. A damaged file is an error, never "empty". */
export async function readRegistry(dir: string): Promise<RegistryState> {
  let text: string;
  try {
    text = await readFile(registryFile(dir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
    throw new ModelRegistryError(`cannot read ${registryFile(dir)}: ${(error as Error).message}`, error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelRegistryError(`${registryFile(dir)} is not valid JSON`, error);
  }
  const parsed = registrySchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ModelRegistryError(`${registryFile(dir)} is invalid: ${problems}`);
  }
  return parsed.data;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Runs `fn` holding the registry's lock file; a lock older than a minute is a crashed holder's and is taken over. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true });
  const lock = join(dir, 'registry.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 60_000) await rm(lock, { force: true });
      else if (attempt > 100) throw new ModelRegistryError(`registry ${dir} is locked by another operation (${lock})`);
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

async function update(
  dir: string,
  change: (state: RegistryState) => { state: RegistryState; event: Omit<RegistryEvent, 'at'> },
): Promise<RegistryState> {
  return withLock(dir, async () => {
    const before = await readRegistry(dir);
    const { state, event } = change(before);
    const next: RegistryState = { ...state, history: [...state.history, { at: new Date().toISOString(), ...event }] };
    await writeAtomic(registryFile(dir), `${JSON.stringify(next, null, 2)}\n`);
    return next;
  });
}

async function readMetadata(path: string): Promise<ModelMetadata> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ModelRegistryError(`cannot read model metadata ${path}: ${(error as Error).message}`, error);
  }
  const parsed = modelMetadataSchema.safeParse(json);
  if (!parsed.success) throw new ModelRegistryError(`${path} is not valid model metadata`);
  return parsed.data;
}

/** A registered version: its metadata and files. */
export interface RegisteredVersion {
  readonly version: string;
  readonly modelPath: string;
  readonly metadata: ModelMetadata;
}

export async function readVersion(dir: string, version: string): Promise<RegisteredVersion> {
  const modelPath = versionModelPath(dir, version);
  const metadata = await readMetadata(metadataPathFor(modelPath)).catch((error: unknown) => {
    throw new ModelRegistryError(`version ${version} is not in the registry ${dir}`, error);
  });
  return { version, modelPath, metadata };
}

export interface RegisterOptions {
  /** Markdown written as the version's MODEL_CARD.md. */
  readonly card?: string;
  /** Where the model came from (parent, data, gate results), written as provenance.json. */
  readonly provenance?: unknown;
  readonly by?: string;
}

/**
 * Copies a model (ONNX + metadata) into the registry under its modelVersion. Registering the same bytes again
 * is a no-op; other bytes under a taken name are refused. The first version registered becomes the champion.
 */
export async function registerModel(
  dir: string,
  modelPath: string,
  options: RegisterOptions = {},
): Promise<{ version: string; champion: boolean; alreadyRegistered: boolean }> {
  const metadata = await readMetadata(metadataPathFor(modelPath));
  const version = metadata.modelVersion;
  if (!VERSION.test(version)) throw new ModelRegistryError(`model version "${version}" cannot name a registry entry`);
  const bytes = await readFile(modelPath);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== metadata.onnx.sha256) {
    throw new ModelRegistryError(`${modelPath} does not match the checksum in its metadata; not registering it`);
  }
  const target = versionDir(dir, version);
  const existing = await readMetadata(join(target, 'policy.json')).catch(() => undefined);
  if (existing) {
    if (existing.onnx.sha256 !== sha) {
      throw new ModelRegistryError(`version ${version} is already registered with other weights (sha256 differs)`);
    }
    const state = await readRegistry(dir);
    return { version, champion: champion(state) === version, alreadyRegistered: true };
  }
  await mkdir(target, { recursive: true });
  await copyFile(modelPath, join(target, 'policy.onnx'));
  await copyFile(metadataPathFor(modelPath), join(target, 'policy.json'));
  if (options.card !== undefined) await writeFile(join(target, 'MODEL_CARD.md'), options.card);
  if (options.provenance !== undefined)
    await writeFile(join(target, 'provenance.json'), `${JSON.stringify(options.provenance, null, 2)}\n`);
  let becameChampion = false;
  await update(dir, (state) => {
    becameChampion = state.champions.length === 0;
    return {
      state: becameChampion ? { ...state, champions: [version] } : state,
      event: {
        action: 'register',
        version,
        ...(becameChampion ? { reason: 'first version: champion' } : {}),
        ...(options.by ? { by: options.by } : {}),
      },
    };
  });
  return { version, champion: becameChampion, alreadyRegistered: false };
}

/** Makes a registered version the champion (the promotion gate runs before this, in `talon model promote`). */
export async function promoteVersion(
  dir: string,
  version: string,
  reason: string,
  by?: string,
): Promise<RegistryState> {
  await readVersion(dir, version);
  return update(dir, (state) => {
    const current = champion(state);
    if (current === version) throw new ModelRegistryError(`${version} is already the champion`);
    return {
      state: {
        ...state,
        champions: [...state.champions, version],
        ...(state.challenger === version ? { challenger: undefined } : {}),
      },
      event: { action: 'promote', version, ...(current ? { from: current } : {}), reason, ...(by ? { by } : {}) },
    };
  });
}

/** The champion goes back to the version promoted before it. */
export async function rollbackChampion(dir: string, reason: string, by?: string): Promise<RegistryState> {
  return update(dir, (state) => {
    const current = champion(state);
    const previous = state.champions.at(-2);
    if (!current || !previous) {
      throw new ModelRegistryError(
        current ? `${current} is the only champion so far: nothing to roll back to` : 'the registry has no champion',
      );
    }
    return {
      state: { ...state, champions: state.champions.slice(0, -1) },
      event: { action: 'rollback', version: previous, from: current, reason, ...(by ? { by } : {}) },
    };
  });
}

/** Sets (or clears, with undefined) the version workers run in shadow. */
export async function setChallenger(dir: string, version: string | undefined, by?: string): Promise<RegistryState> {
  if (version !== undefined) await readVersion(dir, version);
  return update(dir, (state) => {
    if (version !== undefined && champion(state) === version) {
      throw new ModelRegistryError(`${version} is the champion; a challenger must be another version`);
    }
    const { challenger: previous, ...rest } = state;
    return version === undefined
      ? { state: rest, event: { action: 'unshadow', version: previous ?? '', ...(by ? { by } : {}) } }
      : {
          state: { ...rest, challenger: version },
          event: { action: 'shadow', version, ...(previous ? { from: previous } : {}), ...(by ? { by } : {}) },
        };
  });
}
