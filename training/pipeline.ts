/**
 * `talon model train` end to end: draw the datasets, fit the D3.3 thresholds and the normalisation on the
 * training split, train one network per label set, export each to ONNX with its metadata, then score the
 * exported files (not the training framework) on the held-out test split against both label sets.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_FEATURES, WINDOW_STEPS, WINDOW_STEP_SECONDS } from '../src/domain/features';
import { MODEL_POLICIES } from '../src/domain/policy';
import { ModelTrainingError } from '../src/policy/errors';
import { loadPolicyModel } from '../src/policy/model';
import { MODEL_METADATA_FORMAT, metadataPathFor, type ModelMetadata } from '../src/policy/model-metadata';
import { generateSamples, splitSeed, withThresholdLabels, type LabelledSet } from './dataset';
import { argmaxRows, classificationReport, type ClassificationReport } from './metrics';
import { ARCHITECTURE, fitNormalisation, type NetworkWeights, type Normalisation } from './network';
import { ONNX_IO, ONNX_OPSET, exportOnnx, type ExportMetadata } from './onnx-export';
import { COST_WEIGHTS, type CostWeights } from './outcome-labels';
import { fitThresholds, type ThresholdConfig } from './threshold-labels';
import { stableJson } from './json';
import { DEFAULT_TRAIN_OPTIONS, makeTargets, trainNetwork, type EpochReport, type LabelSet } from './train';

export interface TrainPipelineOptions {
  readonly outDir: string;
  readonly seed: number;
  readonly trainSamples: number;
  readonly validationSamples: number;
  readonly testSamples: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /** Soft-target temperature for outcome labels (0 = one-hot). */
  readonly temperature: number;
  readonly labelSets: readonly LabelSet[];
  /** Price of one disruptive action in steps out of SLO, for the outcome labels. */
  readonly disruptionCost: number;
  readonly log: (line: string) => void;
}

/**
 * The restart price of the served model, in steps out of SLO: 24 steps (12 minutes) is more than the 10-minute
 * horizon can save, so the model never opens with a restart or move, the disruption budget of the rules. The
 * simulator's own price (COST_WEIGHTS, 4 steps) gives a faster but far more disruptive policy; train it with
 * `--disruption-cost 4` into models/variants/ to compare.
 */
export const SERVED_RESTART_PRICE = 24;

export const DEFAULT_PIPELINE_OPTIONS: Omit<TrainPipelineOptions, 'log'> = {
  outDir: 'models',
  seed: 0,
  trainSamples: 12_000,
  validationSamples: 3_000,
  testSamples: 4_000,
  epochs: 16,
  batchSize: 256,
  learningRate: DEFAULT_TRAIN_OPTIONS.learningRate,
  temperature: 0.5,
  labelSets: ['threshold', 'outcome'],
  disruptionCost: SERVED_RESTART_PRICE,
};

/** File names per label set: the outcome model is the one Talon serves. */
export function modelFileName(labels: LabelSet): string {
  return labels === 'outcome' ? 'policy.onnx' : 'policy-threshold.onnx';
}

export interface ModelEvaluation {
  readonly labelSet: LabelSet;
  readonly file: string;
  readonly bytes: number;
  /** Scores of the exported model on the test split, against each label set. */
  readonly test: Readonly<Record<LabelSet, ClassificationReport>>;
  /** Mean ms per window when windows are sent one at a time through onnxruntime. */
  readonly msPerWindowBatch1: number;
  readonly trainSeconds: number;
  readonly bestEpoch: number;
  readonly history: readonly EpochReport[];
}

export interface TrainPipelineResult {
  readonly thresholds: ThresholdConfig;
  readonly models: readonly ModelEvaluation[];
  readonly generationSeconds: number;
}

function checkOptions(o: TrainPipelineOptions): void {
  const positive: [string, number][] = [
    ['train samples', o.trainSamples],
    ['validation samples', o.validationSamples],
    ['test samples', o.testSamples],
    ['epochs', o.epochs],
    ['batch size', o.batchSize],
  ];
  for (const [name, v] of positive) {
    if (!Number.isInteger(v) || v < 1) throw new ModelTrainingError(`${name} must be a positive integer, got ${v}`);
  }
  if (!(o.learningRate > 0)) throw new ModelTrainingError(`learning rate must be positive, got ${o.learningRate}`);
  if (!(o.temperature >= 0)) throw new ModelTrainingError(`temperature must be ≥ 0, got ${o.temperature}`);
  if (!Number.isInteger(o.seed) || o.seed < 0)
    throw new ModelTrainingError(`seed must be a non-negative integer, got ${o.seed}`);
  if (o.labelSets.length === 0) throw new ModelTrainingError('no label set to train');
  if (!(o.disruptionCost >= 0)) throw new ModelTrainingError(`disruption cost must be ≥ 0, got ${o.disruptionCost}`);
}

/** Scores an exported model file on a labelled set, against both label sets. */
export async function evaluateModelFile(
  modelPath: string,
  set: LabelledSet,
): Promise<{ test: Record<LabelSet, ClassificationReport>; msPerWindowBatch1: number; bytes: number }> {
  const model = await loadPolicyModel(modelPath);
  try {
    const T = WINDOW_STEPS;
    const F = MODEL_FEATURES.length;
    const P = MODEL_POLICIES.length;
    const n = set.samples.length;
    const values = new Float32Array(n * T * F);
    set.samples.forEach((s, i) => values.set(s.window.flat(), i * T * F));
    const raw = await model.infer(values, n);
    const predictions = argmaxRows(raw.probabilities, P);
    const report = (labels: LabelSet): ClassificationReport => {
      const l = set.samples.map((s, i) => (labels === 'outcome' ? s.outcome : set.threshold[i])!);
      return classificationReport(
        l.map((x) => x.policy),
        predictions,
        l.map((x) => x.magnitude),
        l.map((x, i) => raw.magnitudes[i * P + x.policy] ?? 0),
      );
    };
    const timed = Math.min(n, 500);
    const started = process.hrtime.bigint();
    for (let i = 0; i < timed; i++) await model.infer(values.subarray(i * T * F, (i + 1) * T * F), 1);
    const msPerWindowBatch1 = Number(process.hrtime.bigint() - started) / 1e6 / timed;
    return {
      test: { threshold: report('threshold'), outcome: report('outcome') },
      msPerWindowBatch1,
      bytes: model.fileBytes,
    };
  } finally {
    await model.close();
  }
}

export async function runTrainPipeline(options: TrainPipelineOptions): Promise<TrainPipelineResult> {
  checkOptions(options);
  const log = options.log;
  const genStarted = Date.now();
  log(
    `generating ${options.trainSamples} train / ${options.validationSamples} validation / ${options.testSamples} test windows (seed ${options.seed})`,
  );
  const costWeights: CostWeights = { ...COST_WEIGHTS, disruption: options.disruptionCost };
  const trainSamples = generateSamples(splitSeed(options.seed, 'train'), options.trainSamples, { costWeights });
  const validationSamples = generateSamples(splitSeed(options.seed, 'validation'), options.validationSamples, {
    costWeights,
  });
  const testSamples = generateSamples(splitSeed(options.seed, 'test'), options.testSamples, { costWeights });
  const generationSeconds = (Date.now() - genStarted) / 1000;
  const thresholds = fitThresholds(trainSamples.map((s) => s.window));
  const norm = fitNormalisation(trainSamples.map((s) => s.window));
  const train = withThresholdLabels(trainSamples, thresholds);
  const validation = withThresholdLabels(validationSamples, thresholds);
  const test = withThresholdLabels(testSamples, thresholds);
  log(`datasets ready in ${generationSeconds.toFixed(1)} s; D3.3 thresholds: ${JSON.stringify(roundAll(thresholds))}`);
  await mkdir(options.outDir, { recursive: true });

  const models: ModelEvaluation[] = [];
  for (const labels of options.labelSets) {
    const temperature = labels === 'outcome' ? options.temperature : 0;
    log(`training on ${labels} labels${temperature > 0 ? ` (soft targets, temperature ${temperature})` : ''}`);
    const started = Date.now();
    const result = await trainNetwork(makeTargets(train, labels, temperature), makeTargets(validation, labels), norm, {
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      seed: options.seed + 7,
      magnitudeWeight: DEFAULT_TRAIN_OPTIONS.magnitudeWeight,
      onEpoch: (e) =>
        log(
          `  [${labels}] epoch ${String(e.epoch).padStart(2)}/${e.epochs}  loss ${e.loss.toFixed(4)}  val_loss ${e.valLoss.toFixed(4)}  ` +
            `val_acc ${(100 * e.valAccuracy).toFixed(2)} %  val_magnitude_mae ${e.valMagnitudeMae.toFixed(4)}  ${e.seconds.toFixed(1)} s${e.best ? '  *' : ''}`,
        ),
    });
    const trainSeconds = (Date.now() - started) / 1000;
    const modelPath = await saveModel(options.outDir, labels, result.weights, norm, thresholds, {
      seed: options.seed,
      trainSamples: options.trainSamples,
      validationSamples: options.validationSamples,
      epochs: options.epochs,
      bestEpoch: result.bestEpoch,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      softTargetTemperature: temperature,
      costWeights,
    });
    const evaluation = await evaluateModelFile(modelPath, test);
    log(
      `  [${labels}] wrote ${modelPath} (${evaluation.bytes} bytes, best epoch ${result.bestEpoch}, ${trainSeconds.toFixed(0)} s); test accuracy ` +
        `${pct(evaluation.test.threshold.accuracy)} on threshold labels, ${pct(evaluation.test.outcome.accuracy)} on outcome labels`,
    );
    models.push({
      labelSet: labels,
      file: modelFileName(labels),
      bytes: evaluation.bytes,
      test: evaluation.test,
      msPerWindowBatch1: evaluation.msPerWindowBatch1,
      trainSeconds,
      bestEpoch: result.bestEpoch,
      history: result.history,
    });
  }
  const summary = {
    seed: options.seed,
    samples: { train: options.trainSamples, validation: options.validationSamples, test: options.testSamples },
    thresholds,
    models: models.map((m) => ({
      ...m,
      history: m.history.map((h) => ({ ...h, seconds: undefined })),
      trainSeconds: undefined,
      msPerWindowBatch1: undefined,
    })),
  };
  await writeFile(join(options.outDir, 'metrics.json'), stableJson(summary));
  return { thresholds, models, generationSeconds };
}

/** What the exporter writes into the ONNX file itself; `talon model reexport` writes the same. */
export function exportMetadataFor(labels: LabelSet, modelVersion: string): ExportMetadata {
  return {
    modelVersion,
    labelSet: labels,
    docString: `Talon policy model trained on ${labels} labels of simulated Kepler telemetry (talon model train)`,
  };
}

/** Exports weights to ONNX and writes the model file and its metadata; returns the model's path. */
export async function saveModel(
  outDir: string,
  labels: LabelSet,
  weights: NetworkWeights,
  norm: Normalisation,
  thresholds: ThresholdConfig,
  training: ModelMetadata['training'],
  file = modelFileName(labels),
  /** Default: derived from the label set, seed, samples and epochs (a from-scratch training run's name). */
  version?: string,
): Promise<string> {
  const modelVersion = version ?? `${labels}-s${training.seed}-n${training.trainSamples}-e${training.epochs}`;
  const bytes = exportOnnx(weights, norm, exportMetadataFor(labels, modelVersion));
  const metadata: ModelMetadata = {
    format: MODEL_METADATA_FORMAT,
    modelVersion,
    labelSet: labels,
    onnx: {
      file,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      opset: ONNX_OPSET,
      input: ONNX_IO.input,
      outputs: { probabilities: ONNX_IO.probabilities, magnitudes: ONNX_IO.magnitudes, attention: ONNX_IO.attention },
    },
    features: [...MODEL_FEATURES],
    steps: WINDOW_STEPS,
    stepSeconds: WINDOW_STEP_SECONDS,
    policies: [...MODEL_POLICIES],
    normalisation: { mean: [...norm.mean], std: [...norm.std] },
    architecture: {
      hidden: ARCHITECTURE.hidden,
      layers: ARCHITECTURE.layers,
      dropout: ARCHITECTURE.dropout,
      attention: true,
    },
    training,
    thresholds,
  };
  await mkdir(outDir, { recursive: true });
  const modelPath = join(outDir, file);
  await writeFile(modelPath, bytes);
  await writeFile(metadataPathFor(modelPath), stableJson(metadata));
  return modelPath;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)} %`;
}

function roundAll(o: object): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(Number(v) * 1000) / 1000]));
}
