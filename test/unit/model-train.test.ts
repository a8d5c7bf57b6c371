import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_FEATURES, WINDOW_STEPS } from '../../src/domain/features';
import { MODEL_POLICIES } from '../../src/domain/policy';
import { loadPolicyModel } from '../../src/policy/model';
import { makeEpisode, observe } from '../../training/cluster';
import { generateSamples, withThresholdLabels } from '../../training/dataset';
import { argmaxRows } from '../../training/metrics';
import { fitNormalisation, predict, type NetworkWeights, type Normalisation } from '../../training/network';
import { importOnnx } from '../../training/onnx-export';
import { saveModel } from '../../training/pipeline';
import { COST_WEIGHTS } from '../../training/outcome-labels';
import { fitThresholds } from '../../training/threshold-labels';
import { makeTargets, trainNetwork, type EpochReport, type TrainResult } from '../../training/train';

jest.setTimeout(120_000);

const P = MODEL_POLICIES.length;
const T = WINDOW_STEPS;
const F = MODEL_FEATURES.length;

const trainSamples = generateSamples(101, 240);
const validationSamples = generateSamples(202, 80);
const thresholds = fitThresholds(trainSamples.map((s) => s.window));
const norm = fitNormalisation(trainSamples.map((s) => s.window));
const train = withThresholdLabels(trainSamples, thresholds);
const validation = withThresholdLabels(validationSamples, thresholds);

function tinyTraining(onEpoch?: (e: EpochReport) => void): Promise<TrainResult> {
  return trainNetwork(makeTargets(train, 'outcome', 0.5), makeTargets(validation, 'outcome'), norm, {
    epochs: 3,
    batchSize: 64,
    learningRate: 5e-3,
    seed: 11,
    magnitudeWeight: 5,
    ...(onEpoch ? { onEpoch } : {}),
  });
}

const PARITY_WINDOWS = Array.from({ length: 1000 }, (_, i) => observe(makeEpisode(90_000 + i)).window);

/** The exported file and tfjs agree to 1e-5 on 1,000 windows and pick the same top policy on every one. */
async function expectParity(path: string, weights: NetworkWeights, normalisation: Normalisation): Promise<void> {
  const windows = PARITY_WINDOWS;
  const reference = await predict(weights, normalisation, windows);
  const model = await loadPolicyModel(path);
  try {
    const values = new Float32Array(windows.length * T * F);
    windows.forEach((w, i) => values.set(w.flat(), i * T * F));
    const onnx = await model.infer(values, windows.length);
    const maxDiff = (a: Float32Array, b: Float32Array): number => {
      expect(a.length).toBe(b.length);
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
      return m;
    };
    expect(maxDiff(onnx.probabilities, reference.probabilities)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(onnx.magnitudes, reference.magnitudes)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(onnx.attention, reference.attention)).toBeLessThanOrEqual(1e-5);
    expect(Array.from(argmaxRows(onnx.probabilities, P))).toEqual(Array.from(argmaxRows(reference.probabilities, P)));
  } finally {
    await model.close();
  }
}

describe('the shipped models/policy.onnx', () => {
  it('agrees with tfjs running its own weights, read back from the file', async () => {
    const path = join(__dirname, '..', '..', 'models', 'policy.onnx');
    const { weights, norm: shippedNorm } = importOnnx(await readFile(path));
    await expectParity(path, weights, shippedNorm);
  });
});

describe('training (tiny set)', () => {
  let first: TrainResult;
  const reports: EpochReport[] = [];

  beforeAll(async () => {
    first = await tinyTraining((e) => reports.push(e));
  });

  it('reports every epoch and lowers the loss', () => {
    expect(reports.map((r) => r.epoch)).toEqual([1, 2, 3]);
    for (const r of reports) {
      expect(Number.isFinite(r.loss) && Number.isFinite(r.valLoss)).toBe(true);
      expect(r.valAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.valAccuracy).toBeLessThanOrEqual(1);
    }
    expect(reports[2]!.loss).toBeLessThan(reports[0]!.loss);
    expect(first.bestEpoch).toBe(reports.reduce((b, r) => (r.valLoss < b.valLoss ? r : b)).epoch);
  });

  it('is reproducible: the same seed gives the same weights', async () => {
    const again = await tinyTraining();
    expect(Array.from(again.weights.lstm[0].kernel)).toEqual(Array.from(first.weights.lstm[0].kernel));
    expect(Array.from(again.weights.policyKernel)).toEqual(Array.from(first.weights.policyKernel));
  });

  describe('ONNX export', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'talon-model-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('agrees with tfjs to 1e-5 on 1,000 windows and picks the same top policy on all', async () => {
      const path = await saveModel(dir, 'outcome', first.weights, norm, thresholds, {
        seed: 0,
        trainSamples: 240,
        validationSamples: 80,
        epochs: 3,
        bestEpoch: first.bestEpoch,
        batchSize: 64,
        learningRate: 5e-3,
        softTargetTemperature: 0.5,
        costWeights: COST_WEIGHTS,
      });
      await expectParity(path, first.weights, norm);
    });
  });
});
