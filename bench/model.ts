/**
 * The learned policy against the rules, and what it costs to serve.
 *
 *   npx tsx bench/model.ts [--models models] [--incidents 1000] [--seed 0] [--iterations 20000]
 *
 * 1. Decision quality on held-out simulated incidents (their own seed, never trained on): each engine's top
 *    choice is played forward in the cluster model; mean time back under SLO, energy, disruptive actions.
 * 2. In-process inference with onnxruntime-node: batch-1 and batch-256 latency (p50/p99), load time, size.
 *    The main rows time the path a worker uses (`loadPolicyModel` defaults: the synchronous native binding
 *    when usable); the "public async API" rows time the fallback for comparison.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_FEATURES, WINDOW_STEPS } from '../src/domain/features';
import { loadPolicyModel } from '../src/policy/model';
import {
  costNote,
  compareDecisionQuality,
  drawIncidents,
  formatByScenario,
  formatChoices,
  formatQualityTable,
  standardContenders,
} from '../training/benchmark';
import { makeEpisode, observe } from '../training/cluster';
import { quantile } from '../training/metrics';
import { modelFileName } from '../training/pipeline';

const T = WINDOW_STEPS;
const F = MODEL_FEATURES.length;

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return n;
}

async function timeCalls(iterations: number, call: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = process.hrtime.bigint();
    await call();
    out.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  return out;
}

const us = (xs: number[], q: number): string => `${quantile(xs, q).toFixed(1)} µs`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'models' },
      incidents: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '0' },
      iterations: { type: 'string', default: '20000' },
    },
  });
  const dir = values.models;
  const incidentCount = positive('incidents', values.incidents);
  const seed = positive('seed', values.seed);
  const iterations = Math.max(100, positive('iterations', values.iterations));

  console.log(`## Decision quality: ${incidentCount} held-out simulated incidents (seed ${seed})\n`);
  const { contenders, models, restartPrices } = await standardContenders(dir);
  try {
    const incidents = drawIncidents(seed, incidentCount);
    const scenarios: Record<string, number> = {};
    for (const s of incidents) scenarios[s.scenario] = (scenarios[s.scenario] ?? 0) + 1;
    console.log(
      `hidden causes: ${Object.entries(scenarios)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}\n`,
    );
    const rows = await compareDecisionQuality(incidents, contenders, restartPrices);
    console.log(formatQualityTable(rows));
    console.log('\nMean time back under SLO by hidden cause (disruptive actions in brackets):\n');
    console.log(formatByScenario(rows));
    console.log('\nTop choices:\n');
    console.log(formatChoices(rows));
    console.log(`\n${costNote(restartPrices)}\n`);
    const rules = rows.find((r) => r.name.startsWith('(a) '));
    const learned = rows.find((r) => r.name.startsWith('(c) '));
    if (rules && learned) {
      const ttr = learned.meanTtrSeconds - rules.meanTtrSeconds;
      const energy = learned.meanEnergyJ / rules.meanEnergyJ - 1;
      const disruption = learned.disruptiveShare - rules.disruptiveShare;
      console.log(
        `(c) vs (a): time back under SLO ${ttr >= 0 ? '+' : ''}${ttr.toFixed(1)} s, energy ${energy >= 0 ? '+' : ''}${(100 * energy).toFixed(1)} %, ` +
          `disruptive actions ${disruption >= 0 ? '+' : ''}${(100 * disruption).toFixed(1)} points → goal ` +
          `${ttr < 0 && energy < 0 && disruption <= 0 ? 'MET' : 'NOT MET'} (faster, less energy, no more disruption)\n`,
      );
    }
  } finally {
    await Promise.all(models.map((m) => m.close()));
  }

  const path = join(dir, modelFileName('outcome'));
  console.log(`## Serving ${path} in-process (onnxruntime-node, 1 intra-op thread)\n`);
  const publicApi = await loadPolicyModel(path, { nativeSync: false });
  const loads: number[] = [];
  for (let i = 0; i < 10; i++) {
    const m = await loadPolicyModel(path);
    loads.push(m.loadMs);
    await m.close();
  }
  const model = await loadPolicyModel(path);
  console.log(`session mode: ${model.sessionMode} (fallback rows: ${publicApi.sessionMode})\n`);
  try {
    const windows = Array.from({ length: 256 }, (_, i) => observe(makeEpisode(500_000 + i)).window);
    const flat = new Float32Array(256 * T * F);
    windows.forEach((w, i) => flat.set(w.flat(), i * T * F));
    const one = flat.subarray(0, T * F);
    await timeCalls(2000, () => model.infer(one, 1));
    const raw1 = await timeCalls(iterations, () => model.infer(one, 1));
    const decide1 = await timeCalls(Math.floor(iterations / 2), () => model.decide(windows[0]!));
    await timeCalls(2000, () => publicApi.infer(one, 1));
    const public1 = await timeCalls(Math.floor(iterations / 2), () => publicApi.infer(one, 1));
    const publicDecide1 = await timeCalls(Math.floor(iterations / 4), () => publicApi.decide(windows[0]!));
    await timeCalls(20, () => model.infer(flat, 256));
    const raw256 = await timeCalls(Math.max(50, Math.floor(iterations / 100)), () => model.infer(flat, 256));
    const decide256 = await timeCalls(Math.max(20, Math.floor(iterations / 400)), () => model.decideBatch(windows));
    const size = (await stat(path)).size;
    console.log('| measure | p50 | p99 |');
    console.log('| --- | ---: | ---: |');
    console.log(`| batch 1, graph only (${raw1.length} runs) | ${us(raw1, 0.5)} | ${us(raw1, 0.99)} |`);
    console.log(
      `| batch 1, decide() with input checks and ranking (${decide1.length} runs) | ${us(decide1, 0.5)} | ${us(decide1, 0.99)} |`,
    );
    console.log(
      `| batch 1, graph only, public async API (${public1.length} runs) | ${us(public1, 0.5)} | ${us(public1, 0.99)} |`,
    );
    console.log(
      `| batch 1, decide(), public async API (${publicDecide1.length} runs) | ${us(publicDecide1, 0.5)} | ${us(publicDecide1, 0.99)} |`,
    );
    console.log(`| batch 256, graph only (${raw256.length} runs) | ${us(raw256, 0.5)} | ${us(raw256, 0.99)} |`);
    console.log(
      `| batch 256, per window | ${(quantile(raw256, 0.5) / 256).toFixed(2)} µs | ${(quantile(raw256, 0.99) / 256).toFixed(2)} µs |`,
    );
    console.log(
      `| batch 256, decideBatch() (${decide256.length} runs) | ${us(decide256, 0.5)} | ${us(decide256, 0.99)} |`,
    );
    console.log(
      `\nload + validation (10 loads): median ${quantile(loads, 0.5).toFixed(1)} ms, min ${Math.min(...loads).toFixed(1)} ms; file ${size} bytes (${(size / 1024).toFixed(1)} KiB)`,
    );
  } finally {
    await model.close();
    await publicApi.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
