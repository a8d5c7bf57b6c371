/**
 * The learned policy judged as production uses it, and what it costs to serve.
 *
 *   npx tsx bench/model.ts [--models models] [--incidents 1000] [--seed 0] [--families all|base,noisy,…]
 *                          [--tuning-incidents 1500] [--linear-samples 12000] [--test-samples 4000]
 *                          [--resamples 2000] [--iterations 20000] [--skip-serving] [--json]
 *
 * 1. The columns of D3.3 Table 1 (plus recall and CPU) on the pipeline's held-out test split, against the
 *    threshold and the outcome labels (training/label-table.ts).
 * 2. Decision quality (training/model-report.ts): default rules, grid-tuned rules, a logistic regression on the
 *    last step, the models in --models (other training seeds in models/seeds/, variants in models/variants/),
 *    each answering through the worker's policy engine, its answer turned into an action by the workflow's own
 *    chooseCandidate, played forward in the simulator; only incidents Talon's alert rules catch, the others apart;
 *    every simulator family; 95 % paired bootstrap intervals on every difference.
 * 3. In-process serving with onnxruntime-node: batch-1 and batch-256 latency (p50/p99), load time, size.
 *
 * With --json, the figures go to stdout as one JSON object and the progress log to stderr.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_FEATURES, WINDOW_STEPS } from '../src/domain/features';
import { loadPolicyModel } from '../src/policy/model';
import { makeEpisode, observe } from '../training/cluster';
import { formatLabelTable, labelTable } from '../training/label-table';
import { quantile } from '../training/metrics';
import { DEFAULT_REPORT_OPTIONS, runModelReport, servedTrainingSamples } from '../training/model-report';
import { modelFileName } from '../training/pipeline';
import { formatReport } from '../training/report-format';
import { SIM_FAMILIES, simFamily } from '../training/sim-family';

const T = WINDOW_STEPS;
const F = MODEL_FEATURES.length;

function count(name: string, value: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${value}`);
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

interface ServingRow {
  readonly measure: string;
  readonly runs: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

async function serving(
  path: string,
  iterations: number,
): Promise<{ rows: ServingRow[]; loadMsMedian: number; bytes: number; mode: string }> {
  const publicApi = await loadPolicyModel(path, { nativeSync: false });
  const loads: number[] = [];
  for (let i = 0; i < 10; i++) {
    const m = await loadPolicyModel(path);
    loads.push(m.loadMs);
    await m.close();
  }
  const model = await loadPolicyModel(path);
  try {
    const windows = Array.from({ length: 256 }, (_, i) => observe(makeEpisode(500_000 + i)).window);
    const flat = new Float32Array(256 * T * F);
    windows.forEach((w, i) => flat.set(w.flat(), i * T * F));
    const one = flat.subarray(0, T * F);
    const row = (measure: string, xs: number[]): ServingRow => ({
      measure,
      runs: xs.length,
      p50Us: quantile(xs, 0.5),
      p99Us: quantile(xs, 0.99),
    });
    await timeCalls(2000, () => model.infer(one, 1));
    const rows = [
      row('batch 1, graph only', await timeCalls(iterations, () => model.infer(one, 1))),
      row(
        'batch 1, decide(): input checks + graph + ranking',
        await timeCalls(Math.floor(iterations / 2), () => model.decide(windows[0]!)),
      ),
    ];
    await timeCalls(2000, () => publicApi.infer(one, 1));
    rows.push(
      row(
        'batch 1, graph only, public async API',
        await timeCalls(Math.floor(iterations / 2), () => publicApi.infer(one, 1)),
      ),
      row(
        'batch 1, decide(), public async API',
        await timeCalls(Math.floor(iterations / 4), () => publicApi.decide(windows[0]!)),
      ),
    );
    await timeCalls(20, () => model.infer(flat, 256));
    rows.push(
      row(
        'batch 256, graph only',
        await timeCalls(Math.max(50, Math.floor(iterations / 100)), () => model.infer(flat, 256)),
      ),
      row(
        'batch 256, decideBatch()',
        await timeCalls(Math.max(20, Math.floor(iterations / 400)), () => model.decideBatch(windows)),
      ),
    );
    return {
      rows,
      loadMsMedian: quantile(loads, 0.5),
      bytes: (await stat(path)).size,
      mode: `${model.sessionMode} (public API rows: ${publicApi.sessionMode})`,
    };
  } finally {
    await model.close();
    await publicApi.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: DEFAULT_REPORT_OPTIONS.modelsDir },
      incidents: { type: 'string', default: String(DEFAULT_REPORT_OPTIONS.incidents) },
      seed: { type: 'string', default: String(DEFAULT_REPORT_OPTIONS.seed) },
      families: { type: 'string', default: 'all' },
      'tuning-incidents': { type: 'string', default: String(DEFAULT_REPORT_OPTIONS.tuningIncidents) },
      'linear-samples': { type: 'string', default: String(DEFAULT_REPORT_OPTIONS.linearSamples) },
      'test-samples': { type: 'string', default: '4000' },
      resamples: { type: 'string', default: String(DEFAULT_REPORT_OPTIONS.bootstrap.resamples) },
      iterations: { type: 'string', default: '20000' },
      'skip-serving': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const json = values.json;
  const say = (line: string): void => {
    (json ? process.stderr : process.stdout).write(`${line}\n`);
  };
  const dir = values.models;
  const families =
    values.families === 'all' ? SIM_FAMILIES : values.families.split(',').map((f) => simFamily(f.trim()));
  const options = {
    ...DEFAULT_REPORT_OPTIONS,
    modelsDir: dir,
    seed: count('seed', values.seed),
    incidents: count('incidents', values.incidents, 1),
    families,
    tuningIncidents: count('tuning-incidents', values['tuning-incidents'], 1),
    linearSamples: count('linear-samples', values['linear-samples'], 10),
    bootstrap: { ...DEFAULT_REPORT_OPTIONS.bootstrap, resamples: count('resamples', values.resamples, 10) },
    log: (line: string) => say(`  … ${line}`),
  };
  const started = Date.now();
  const served = await loadPolicyModel(join(dir, modelFileName('outcome')));
  const trainSamples = servedTrainingSamples(served, options.linearSamples);
  await served.close();
  say(
    `  … training split regenerated (${trainSamples.length} windows) in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );

  const labels = await labelTable(dir, {
    testSamples: count('test-samples', values['test-samples'], 10),
    timedWindows: 2000,
    trainSamples,
  });
  if (!json) {
    say('## The columns of D3.3 Table 1, plus recall and CPU\n');
    say(formatLabelTable(labels));
    say('');
  }
  const report = await runModelReport(options, trainSamples);
  if (!json) {
    say('## Decision quality as production decides\n');
    say(formatReport(report));
  }

  let servingFigures: Awaited<ReturnType<typeof serving>> | undefined;
  if (!values['skip-serving']) {
    const path = join(dir, modelFileName('outcome'));
    servingFigures = await serving(path, Math.max(100, count('iterations', values.iterations)));
    if (!json) {
      say(`## Serving ${path} in-process (onnxruntime-node, 1 intra-op thread; ${servingFigures.mode})\n`);
      say('| measure | runs | p50 | p99 |');
      say('| --- | ---: | ---: | ---: |');
      for (const r of servingFigures.rows) {
        say(`| ${r.measure} | ${r.runs} | ${r.p50Us.toFixed(1)} µs | ${r.p99Us.toFixed(1)} µs |`);
      }
      say(
        `\nload + validation (10 loads): median ${servingFigures.loadMsMedian.toFixed(1)} ms; file ${servingFigures.bytes} bytes`,
      );
    }
  }
  say(`  … total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (json) {
    process.stdout.write(`${JSON.stringify({ labelTable: labels, report, serving: servingFigures })}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
