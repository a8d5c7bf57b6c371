/**
 * Builds or installs every tool of the catalogue into a cache outside the repository. Idempotent: a
 * tool whose manifest matches its recipe and whose binaries still hash and run as recorded is left
 * alone. Resumable: the manifest is written last, so an interrupted build simply runs again (Go's and
 * cargo's own caches make the second attempt fast). A damaged binary fails its hash and is rebuilt.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, symlink, writeFile, lstat, readlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runCommand, commandExists } from './exec';
import { ToolSetupError } from './errors';
import type { RecipeContext, ToolSpec } from './tools';

export interface ToolManifest {
  readonly name: string;
  readonly version: string;
  readonly recipeHash: string;
  readonly binaries: Readonly<Record<string, string>>;
  readonly builtAt: string;
  readonly buildSeconds: number;
}

export type ToolState =
  | { readonly kind: 'ready'; readonly manifest: ToolManifest }
  | { readonly kind: 'missing' }
  | { readonly kind: 'stale'; readonly reason: string }
  | { readonly kind: 'corrupt'; readonly reason: string };

export interface SetupOptions {
  readonly cacheDir: string;
  readonly tools: readonly ToolSpec[];
  readonly log: (line: string) => void;
  /** Rebuild even when the cache is valid. */
  readonly force?: boolean;
  /** Seconds between "still building" lines. */
  readonly heartbeatSeconds?: number;
}

export interface SetupResult {
  readonly tool: string;
  readonly version: string;
  readonly action: 'cached' | 'built';
  readonly seconds: number;
}

export function toolDir(cacheDir: string, tool: Pick<ToolSpec, 'name' | 'version'>): string {
  return join(cacheDir, 'tools', `${tool.name}-${tool.version}`);
}

/** Where the stack finds every binary: one flat folder of links into the tool folders. */
export function binDir(cacheDir: string): string {
  return join(cacheDir, 'bin');
}

/** A hash of everything that decides what a recipe produces, so editing a recipe triggers a rebuild. */
export function recipeHash(tool: ToolSpec): string {
  const shape = {
    version: tool.version,
    files: tool.files.map((f) => ({ path: f.path, content: typeof f.content === 'string' ? f.content : 'dynamic' })),
    commands: tool.commands,
    binaries: tool.binaries,
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function parseManifest(text: string): ToolManifest {
  const value = JSON.parse(text) as Partial<ToolManifest>;
  if (
    typeof value.name !== 'string' ||
    typeof value.version !== 'string' ||
    typeof value.recipeHash !== 'string' ||
    typeof value.binaries !== 'object' ||
    value.binaries === null
  ) {
    throw new Error('manifest lacks name, version, recipeHash or binaries');
  }
  return value as ToolManifest;
}

/** What state a tool's cache is in, checked by hash and by running its version checks. */
export async function inspectTool(cacheDir: string, tool: ToolSpec): Promise<ToolState> {
  const dir = toolDir(cacheDir, tool);
  let manifest: ToolManifest;
  try {
    manifest = parseManifest(await readFile(join(dir, 'manifest.json'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: `unreadable manifest: ${(err as Error).message}` };
  }
  if (manifest.recipeHash !== recipeHash(tool)) return { kind: 'stale', reason: 'recipe changed' };
  for (const binary of tool.binaries) {
    const expected = manifest.binaries[binary];
    if (!expected) return { kind: 'stale', reason: `manifest has no hash for ${binary}` };
    let actual: string;
    try {
      actual = await sha256File(join(dir, 'bin', binary));
    } catch {
      return { kind: 'corrupt', reason: `${binary} is missing` };
    }
    if (actual !== expected) return { kind: 'corrupt', reason: `${binary} does not match its recorded sha256` };
  }
  const failure = await runChecks(dir, tool);
  if (failure) return { kind: 'corrupt', reason: failure };
  return { kind: 'ready', manifest };
}

async function runChecks(dir: string, tool: ToolSpec): Promise<string | undefined> {
  for (const check of tool.checks) {
    const path = join(dir, 'bin', check.binary);
    const result = await runCommand(path, check.args, { cwd: dir, timeoutMs: 30_000, allowFailure: true });
    const output = result.stdout + result.stderr;
    if (!check.expect.test(output)) {
      return `${check.binary} ${check.args.join(' ')} printed ${JSON.stringify(output.trim().slice(0, 200))}, expected ${check.expect}`;
    }
  }
  return undefined;
}

function expand(text: string, dir: string): string {
  return text.split('{{dir}}').join(dir);
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

async function buildTool(cacheDir: string, tool: ToolSpec, options: SetupOptions): Promise<void> {
  const dir = toolDir(cacheDir, tool);
  const logPath = join(dir, 'build.log');
  await mkdir(join(dir, 'bin'), { recursive: true });
  await rm(join(dir, 'manifest.json'), { force: true });
  for (const need of tool.needs) {
    if (!(await commandExists(need))) {
      throw new ToolSetupError(tool.name, `find ${need}`, tool.registry, logPath, `${need} is not on PATH`);
    }
  }
  const ctx: RecipeContext = {
    buildDir: dir,
    run: async (command, args, runOptions) =>
      (await runCommand(command, args, { cwd: runOptions?.cwd ?? dir, logPath })).stdout,
  };
  for (const file of tool.files) {
    let content: string;
    try {
      content = typeof file.content === 'string' ? file.content : await file.content(ctx);
    } catch (err) {
      throw new ToolSetupError(tool.name, `write ${file.path}`, tool.registry, logPath, (err as Error).message, err);
    }
    await writeFile(join(dir, file.path), content);
    if (file.mode !== undefined) await chmod(join(dir, file.path), file.mode);
  }
  const heartbeatMs = (options.heartbeatSeconds ?? 30) * 1000;
  for (const step of tool.commands) {
    const started = Date.now();
    options.log(`  · ${tool.name}: ${step.title}`);
    const timer = setInterval(() => {
      options.log(
        `    … ${tool.name} still working on "${step.title}" (${formatSeconds((Date.now() - started) / 1000)})`,
      );
    }, heartbeatMs);
    timer.unref();
    try {
      const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(v, dir)]));
      await runCommand(
        step.command,
        step.args.map((a) => expand(a, dir)),
        { cwd: step.cwd === 'tmp' ? tmpdir() : dir, env, logPath },
      );
    } catch (err) {
      throw new ToolSetupError(tool.name, step.title, tool.registry, logPath, (err as Error).message, err);
    } finally {
      clearInterval(timer);
    }
  }
}

async function writeManifest(cacheDir: string, tool: ToolSpec, seconds: number): Promise<void> {
  const dir = toolDir(cacheDir, tool);
  const binaries: Record<string, string> = {};
  for (const binary of tool.binaries) binaries[binary] = await sha256File(join(dir, 'bin', binary));
  const manifest: ToolManifest = {
    name: tool.name,
    version: tool.version,
    recipeHash: recipeHash(tool),
    binaries,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round(seconds),
  };
  const tmp = join(dir, 'manifest.json.tmp');
  await writeFile(tmp, JSON.stringify(manifest, null, 2));
  await rename(tmp, join(dir, 'manifest.json'));
}

async function linkBinaries(cacheDir: string, tool: ToolSpec): Promise<void> {
  const bin = binDir(cacheDir);
  await mkdir(bin, { recursive: true });
  for (const binary of tool.binaries) {
    const target = join(toolDir(cacheDir, tool), 'bin', binary);
    const link = join(bin, binary);
    try {
      const stat = await lstat(link);
      if (stat.isSymbolicLink() && (await readlink(link)) === target) continue;
      await unlink(link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await symlink(target, link);
  }
}

/** Brings every tool to the ready state, printing one line per tool and progress while building. */
export async function setupTools(options: SetupOptions): Promise<SetupResult[]> {
  const results: SetupResult[] = [];
  const total = Date.now();
  for (const tool of options.tools) {
    const started = Date.now();
    const state = options.force
      ? ({ kind: 'stale', reason: 'forced' } as const)
      : await inspectTool(options.cacheDir, tool);
    if (state.kind === 'ready') {
      await linkBinaries(options.cacheDir, tool);
      const seconds = (Date.now() - started) / 1000;
      options.log(`✓ ${tool.name} ${tool.version}: cached (checked in ${formatSeconds(seconds)})`);
      results.push({ tool: tool.name, version: tool.version, action: 'cached', seconds });
      continue;
    }
    const why = state.kind === 'missing' ? 'not built yet' : `${state.kind}: ${state.reason}`;
    options.log(`▶ ${tool.name} ${tool.version}: building (${why}) from ${tool.registry}`);
    await buildTool(options.cacheDir, tool, options);
    const failure = await runChecks(toolDir(options.cacheDir, tool), tool);
    if (failure) {
      throw new ToolSetupError(
        tool.name,
        'version check',
        tool.registry,
        join(toolDir(options.cacheDir, tool), 'build.log'),
        failure,
      );
    }
    const seconds = (Date.now() - started) / 1000;
    await writeManifest(options.cacheDir, tool, seconds);
    await linkBinaries(options.cacheDir, tool);
    options.log(`✓ ${tool.name} ${tool.version}: built in ${formatSeconds(seconds)}`);
    results.push({ tool: tool.name, version: tool.version, action: 'built', seconds });
  }
  options.log(`tools ready in ${formatSeconds((Date.now() - total) / 1000)} (${binDir(options.cacheDir)})`);
  return results;
}
