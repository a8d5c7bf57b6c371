/** How the benchmarks print: one line at a time to stdout, tables of measure | value | goal. */

export const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A row of a results table: what was measured, its value, and (optionally) the goal and whether it was met. */
export type TableRow = readonly [measure: string, value: string, goal?: string];

/** A plain aligned table: measure | value | goal. */
export function table(title: string, rows: readonly TableRow[]): void {
  const head = ['measure', 'value', 'goal'] as const;
  const w0 = Math.max(head[0].length, ...rows.map((r) => r[0].length));
  const w1 = Math.max(head[1].length, ...rows.map((r) => r[1].length));
  const line = (a: string, b: string, c: string): string => `  | ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c}`;
  out(`\n  ${title}`);
  out(line(head[0], head[1], head[2]));
  out(`  |${'-'.repeat(w0 + 2)}|${'-'.repeat(w1 + 2)}|------`);
  for (const [a, b, c] of rows) out(line(a, b, c ?? ''));
}

/** Runs a benchmark's main; a failure prints its stack and sets exit code 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
