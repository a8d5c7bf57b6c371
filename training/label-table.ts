/**
 * The columns of D3.3 Table 1 for Talon's models, plus recall and CPU: accuracy, precision, recall and F1
 * against the threshold labels (and the outcome labels), magnitude MAE, execution time and CPU time per
 * window. Scored on the exported ONNX files (not the training framework), on the pipeline's own held-out test
 * split. Rows for the threshold labeller itself (the labels are a function of the window's last step, so it
 * scores 100 % by construction) and for linear last-step learners show what the LSTM's score means.
 */
import { MODEL_FEATURES, WINDOW_STEPS } from '../src/domain/features';
import { MODEL_POLICIES } from '../src/domain/policy';
import { loadPolicyModel, type LoadedPolicyModel } from '../src/policy/model';
import { generateSamples, splitSeed, withThresholdLabels, type LabelledSet, type Sample } from './dataset';
import { featureWindowOf } from './evaluation';
import { makeEpisode } from './cluster';
import { argmaxRows, classificationReport, type ClassificationReport } from './metrics';
import { evaluateModelFile } from './pipeline';
import { linearPolicyModel, scoreLinear, trainLinearPolicy, type LinearPolicy } from './simple-learner';
import { thresholdLabel } from './threshold-labels';
import type { LabelSet } from './train';

export interface Timing {
  readonly windows: number;
  /** Wall time of `decide(window)` (checks, imputation, graph, ranking), batch 1, mean over the windows. */
  readonly decideUsPerWindow: number;
  /** Wall time of the graph alone (`infer`, batch 1), for the ONNX models. */
  readonly graphUsPerWindow?: number;
  /** CPU time (user + system, process.cpuUsage) spent per `decide`. */
  readonly cpuUsPerWindow: number;
  /** CPU time / wall time during the decide loop: the share of one core it kept busy. */
  readonly cpuShareOfCore: number;
}

export interface LabelRow {
  readonly engine: string;
  readonly trainedOn: LabelSet | 'none';
  readonly scores: Readonly<Partial<Record<LabelSet, ClassificationReport>>>;
  readonly timing?: Timing;
}

export interface LabelTable {
  readonly testSamples: number;
  readonly seed: number;
  readonly rows: readonly LabelRow[];
}

async function time(
  windows: number,
  decide: (i: number) => unknown,
  graph?: (i: number) => Promise<unknown>,
): Promise<Timing> {
  for (let i = 0; i < Math.min(200, windows); i++) await decide(i); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < windows; i++) await decide(i);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = cpu.user + cpu.system;
  let graphUsPerWindow: number | undefined;
  if (graph) {
    const g0 = process.hrtime.bigint();
    for (let i = 0; i < windows; i++) await graph(i);
    graphUsPerWindow = Number(process.hrtime.bigint() - g0) / 1000 / windows;
  }
  return {
    windows,
    decideUsPerWindow: wallUs / windows,
    ...(graphUsPerWindow === undefined ? {} : { graphUsPerWindow }),
    cpuUsPerWindow: cpuUs / windows,
    cpuShareOfCore: cpuUs / wallUs,
  };
}

function linearReports(policy: LinearPolicy, set: LabelledSet): Record<LabelSet, ClassificationReport> {
  const P = MODEL_POLICIES.length;
  const probs = new Float32Array(set.samples.length * P);
  const mags = set.samples.map((s, i) => {
    const r = scoreLinear(policy, s.window[s.window.length - 1] ?? []);
    probs.set(r.probabilities, i * P);
    return r.magnitudes;
  });
  const predictions = argmaxRows(probs, P);
  const report = (labels: LabelSet): ClassificationReport => {
    const l = set.samples.map((s, i) => (labels === 'outcome' ? s.outcome : set.threshold[i])!);
    return classificationReport(
      l.map((x) => x.policy),
      predictions,
      l.map((x) => x.magnitude),
      l.map((x, i) => mags[i]?.[x.policy] ?? 0),
    );
  };
  return { threshold: report('threshold'), outcome: report('outcome') };
}

/**
 * Builds the table for the served model's seed and prices. `trainSamples` (the training split) is only used by
 * the linear rows; pass the report's to avoid generating it twice.
 */
export async function labelTable(
  modelsDir: string,
  options: { testSamples: number; timedWindows: number; trainSamples: readonly Sample[] },
): Promise<LabelTable> {
  const served: LoadedPolicyModel = await loadPolicyModel(`${modelsDir}/policy.onnx`);
  const threshold: LoadedPolicyModel = await loadPolicyModel(`${modelsDir}/policy-threshold.onnx`);
  try {
    const meta = served.metadata;
    const test = withThresholdLabels(
      generateSamples(splitSeed(meta.training.seed, 'test'), options.testSamples, {
        costWeights: meta.training.costWeights,
      }),
      meta.thresholds,
    );
    const train = withThresholdLabels(options.trainSamples, meta.thresholds);
    const windows = test.samples.map((s) => featureWindowOf(makeEpisode(s.seed), s.window));
    const n = Math.min(options.timedWindows, windows.length);
    const T = WINDOW_STEPS;
    const F = MODEL_FEATURES.length;
    const flat = new Float32Array(n * T * F);
    test.samples.slice(0, n).forEach((s, i) => flat.set(s.window.flat(), i * T * F));

    const rows: LabelRow[] = [];
    for (const [engine, model, file, trainedOn] of [
      ['LSTM trained on threshold labels', threshold, 'policy-threshold.onnx', 'threshold'],
      ['LSTM trained on outcome labels (served)', served, 'policy.onnx', 'outcome'],
    ] as const) {
      const { test: scores } = await evaluateModelFile(`${modelsDir}/${file}`, test);
      const timing = await time(
        n,
        (i) => model.decide(windows[i]!),
        (i) => model.infer(flat.subarray(i * T * F, (i + 1) * T * F), 1),
      );
      rows.push({ engine, trainedOn, scores, timing });
    }

    const thresholdLinear = trainLinearPolicy(train.samples, undefined, {
      distribution: (_s, i) => MODEL_POLICIES.map((_, p) => (train.threshold[i]?.policy === p ? 1 : 0)),
      magnitude: (_s, i, p) => (train.threshold[i]?.policy === p ? train.threshold[i]?.magnitude : undefined),
    });
    const outcomeLinear = trainLinearPolicy(train.samples);
    for (const [engine, policy, trainedOn] of [
      ['logistic regression on the last step, threshold labels', thresholdLinear, 'threshold'],
      ['logistic regression on the last step, outcome labels', outcomeLinear, 'outcome'],
    ] as const) {
      const model = linearPolicyModel(policy);
      const timing = await time(n, (i) => model.decide(windows[i]!));
      rows.push({ engine, trainedOn, scores: linearReports(policy, test), timing });
    }

    // The labeller on the model's own input: the labels are a function of the last step.
    const labeller = test.samples.map((s) => MODEL_POLICIES.indexOf(thresholdLabel(s.window, meta.thresholds).policy));
    const labels = test.threshold.map((l) => l.policy);
    const mags = test.threshold.map((l) => l.magnitude);
    rows.push({
      engine: 'the threshold labeller itself, applied to the window',
      trainedOn: 'none',
      scores: { threshold: classificationReport(labels, labeller, mags, mags) },
      timing: await time(n, (i) => thresholdLabel(test.samples[i]!.window, meta.thresholds)),
    });
    return { testSamples: test.samples.length, seed: meta.training.seed, rows };
  } finally {
    await served.close();
    await threshold.close();
  }
}

const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;

/** One table per label set scored; a row per engine that has a score for it. */
export function formatLabelTable(t: LabelTable): string {
  const out: string[] = [];
  for (const labels of ['threshold', 'outcome'] as const) {
    out.push(
      `Scored against **${labels} labels** (${t.testSamples} test windows, seed ${t.seed}; macro averages, weighted in brackets):`,
      '',
      '| engine | trained on | accuracy | precision | recall | F1 | magnitude MAE |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of t.rows) {
      const s = r.scores[labels];
      if (!s) continue;
      out.push(
        `| ${r.engine} | ${r.trainedOn} | ${pct(s.accuracy)} | ${pct(s.macroPrecision)} (${pct(s.weightedPrecision)}) | ${pct(s.macroRecall)} (${pct(s.weightedRecall)}) | ${pct(s.macroF1)} (${pct(s.weightedF1)}) | ${s.magnitudeMae.toFixed(4)} |`,
      );
    }
    out.push('');
  }
  out.push(
    'Recall per policy against the threshold labels (support in brackets):',
    '',
    `| engine | ${MODEL_POLICIES.join(' | ')} |`,
    `| --- |${MODEL_POLICIES.map(() => ' ---: |').join('')}`,
  );
  for (const r of t.rows) {
    const s = r.scores.threshold;
    if (!s) continue;
    out.push(`| ${r.engine} | ${s.perClass.map((c) => `${pct(c.recall)} (${c.support})`).join(' | ')} |`);
  }
  out.push(
    '',
    'Cost per window, batch 1, in this process (wall times are means over the timed windows; CPU from process.cpuUsage):',
    '',
    '| engine | windows timed | decide() wall time | graph only wall time | CPU time per decide() | CPU share of one core while deciding |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of t.rows) {
    const m = r.timing;
    if (!m) continue;
    out.push(
      `| ${r.engine} | ${m.windows} | ${m.decideUsPerWindow.toFixed(1)} µs | ${m.graphUsPerWindow === undefined ? '–' : `${m.graphUsPerWindow.toFixed(1)} µs`} | ${m.cpuUsPerWindow.toFixed(1)} µs | ${(100 * m.cpuShareOfCore).toFixed(0)} % |`,
    );
  }
  return out.join('\n');
}
