/**
 * Selection time for N algorithms × the 8 Table 2 metrics (issue 7's measure: 1,000 × 8), with the full
 * explanation built, plus placement over a node list. Run: `npx tsx bench/selection.ts [--reps 500]`.
 * Candidates are synthetic (seeded), 5% of values N/A, so normalisation's missing-value path is exercised.
 */
import { placeTask, type NodeCandidate } from '../src/domain/placement';
import { rankAlgorithms } from '../src/domain/selection';
import { BUILTIN_METRICS, type AlgorithmEntry } from '../src/domain/taxonomy';
import { seededRandom } from '../tools/taxonomy/corrupt';
import { numberFlag, parseFlags } from './support/flags';
import { mean, percentile } from './support/stats';

function candidates(n: number, rng: () => number): AlgorithmEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `algo-${i}`,
    task: 'bench',
    name: `Algorithm ${i}`,
    description: '',
    origin: 'user' as const,
    dataset: 'synthetic',
    metrics: Object.fromEntries(
      BUILTIN_METRICS.map((m) => [m.id, rng() < 0.05 ? null : m.max === 1 ? rng() : rng() * 100]),
    ),
    image: 'bench',
    command: ['bench'],
  }));
}

function nodes(n: number, rng: () => number): NodeCandidate[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `node-${i}`,
    tier: i % 4 === 0 ? ('cloud' as const) : ('edge' as const),
    allocatable: { cpuCores: 4 + Math.floor(rng() * 12), memoryBytes: (8 + Math.floor(rng() * 56)) * 2 ** 30 },
    usage: { cpuCores: rng() * 3, memoryBytes: rng() * 6 * 2 ** 30 },
    ...(rng() < 0.8 ? { energyPerCoreWatts: 2 + rng() * 10 } : {}),
    nearData: rng() < 0.1,
  }));
}

function time(label: string, reps: number, fn: () => unknown): void {
  for (let i = 0; i < Math.min(50, reps); i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const fmt = (ms: number): string => ms.toFixed(3).padStart(9);
  console.log(
    `${label.padEnd(34)} p50 ${fmt(percentile(samples, 50))} ms  p99 ${fmt(percentile(samples, 99))} ms  ` +
      `mean ${fmt(mean(samples))} ms  max ${fmt(samples[samples.length - 1] ?? NaN)} ms  (${reps} reps)`,
  );
}

const reps = numberFlag(parseFlags(process.argv.slice(2)), 'reps', 500, 1, 10_000_000);
const rng = seededRandom(42);
const priorities = { quality: 70, energy: 30 };
console.log(
  `node ${process.version}, ${BUILTIN_METRICS.length} metrics per algorithm, priorities quality 70 / energy 30`,
);
for (const n of [10, 100, 1000, 10000]) {
  const set = candidates(n, rng);
  time(`select ${n} algorithms × 8 metrics`, n >= 10000 ? Math.max(20, reps / 10) : reps, () =>
    rankAlgorithms('bench', set, BUILTIN_METRICS, priorities),
  );
}
const demand = { cpuCores: 0.5, memoryBytes: 64 * 2 ** 20, cpuSeconds: 1 };
for (const n of [10, 1000]) {
  const list = nodes(n, rng);
  time(`place on ${n} nodes`, reps, () => placeTask(list, demand, { speed: 50, energy: 50 }));
}
