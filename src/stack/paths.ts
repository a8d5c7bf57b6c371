/** Where the local stack keeps what it builds (shared across checkouts) and what it runs (per checkout). */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Cache of built tools, outside the repository so a fresh clone reuses it. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.TALON_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'talon'));
}

/** Runtime state of a running stack: pid files, logs, data directories, rendered configs. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.TALON_STATE_DIR ?? join(defaultCacheDir(env), 'stack'));
}
