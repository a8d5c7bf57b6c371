/**
 * Fuzz figures for the webhook (issue 17): generated and mutated payloads against `/api/alerts`,
 * `/api/alerts/grafana` and `/api/tasks`, in-process, with the properties of test/support/webhook-fuzz.ts
 * checked after every answer. Prints payloads tried and answers by status per route, and any failure with its
 * seed and index. Run: `npx tsx bench/webhook-fuzz.ts [--cases 10000] [--seed 1]`; exit code 1 on a failure.
 */
import { loadTaxonomy } from '../src/tasks/taxonomy-store';
import { formatFuzzReport, fuzzRoute, FUZZ_ROUTES } from '../test/support/webhook-fuzz';
import { numberFlag, parseFlags } from './support/flags';

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const cases = numberFlag(flags, 'cases', 10_000, 1, 10_000_000);
  const seed = numberFlag(flags, 'seed', Date.now() % 2 ** 31, 0, 2 ** 32 - 1);
  const taxonomy = await loadTaxonomy();
  const reports = [];
  const started = performance.now();
  for (const route of FUZZ_ROUTES) reports.push(await fuzzRoute(route, seed, cases, taxonomy));
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${formatFuzzReport(reports)}\n`);
  const total = reports.reduce((n, r) => n + r.tried, 0);
  const failures = reports.reduce((n, r) => n + r.failures.length, 0);
  process.stdout.write(
    `total: ${total} payloads in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s), ${failures} property failures\n`,
  );
  if (failures > 0) process.exitCode = 1;
}

void main();
