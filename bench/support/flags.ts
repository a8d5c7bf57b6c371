/**
 * Command-line flags for the benchmarks: `--name value` pairs and bare `--switch`es, checked against a range
 * so a typo fails the run at once instead of measuring something else for minutes.
 */

export type Flags = ReadonlyMap<string, string>;

/** `--name value` → name: value; a `--switch` not followed by a value → switch: 'true'. Other words are skipped. */
export function parseFlags(argv: readonly string[]): Flags {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags.set(arg.slice(2), next);
      i++;
    } else flags.set(arg.slice(2), 'true');
  }
  return flags;
}

/** The flag's number, `fallback` when absent; throws when it is not a number in [min, max]. */
export function numberFlag(flags: Flags, name: string, fallback: number, min: number, max: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be in [${min}, ${max}]`);
  return value;
}

/** True when the flag is given bare (`--switch`) or as `--switch true`. */
export function switchFlag(flags: Flags, name: string): boolean {
  return flags.get(name) === 'true';
}
