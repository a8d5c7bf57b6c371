/**
 * Training loop for the policy network: cross-entropy on the policy plus a masked squared error on the
 * magnitudes, Adam, early stopping on the validation loss. Validation metrics are computed here rather
 * than by a framework (tfjs 4.22 mislabels validation metrics of two-output models).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MODEL_POLICIES } from '../src/domain/policy';
import type { LabelledSet } from './dataset';
import {
  ARCHITECTURE,
  MAGNITUDE_MIN,
  MAGNITUDE_SPAN,
  Network,
  ensureBackend,
  initialWeights,
  packWindows,
  type NetworkWeights,
  type Normalisation,
} from './network';
import { Rng } from './rng';

const P = ARCHITECTURE.policies;
const T = ARCHITECTURE.steps;
const F = ARCHITECTURE.features;

export const LABEL_SETS = ['threshold', 'outcome'] as const;
export type LabelSet = (typeof LABEL_SETS)[number];

/** What the network is fitted to, flattened for tensors. */
export interface Targets {
  readonly windows: readonly (readonly (readonly number[])[])[];
  /** [N, P] target distribution. */
  readonly distribution: Float32Array;
  /** Hard label (index into MODEL_POLICIES) and its magnitude, for accuracy and MAE. */
  readonly labels: Int32Array;
  readonly labelMagnitudes: Float32Array;
  /** [N, P] magnitude targets on the unit scale of the magnitude head, and which of them count. */
  readonly magnitudeUnit: Float32Array;
  readonly magnitudeMask: Float32Array;
}

/** A magnitude on the unit scale of the magnitude head (what its sigmoid outputs). */
export function toUnit(policyIndex: number, magnitude: number): number {
  const span = MAGNITUDE_SPAN[policyIndex] ?? 0;
  if (span === 0) return 0.5;
  return Math.min(1, Math.max(0, (magnitude - (MAGNITUDE_MIN[policyIndex] ?? 0)) / span));
}

/**
 * Targets from one label set. Threshold labels are one-hot with only the chosen policy's magnitude known.
 * Outcome labels know the best magnitude of every policy; with `temperature` > 0 the policy target is a
 * soft distribution over costs, so near-ties rank close together (the escalation order uses the ranking).
 */
export function makeTargets(set: LabelledSet, labels: LabelSet, temperature = 0): Targets {
  const n = set.samples.length;
  const distribution = new Float32Array(n * P);
  const labelsOut = new Int32Array(n);
  const labelMagnitudes = new Float32Array(n);
  const magnitudeUnit = new Float32Array(n * P);
  const magnitudeMask = new Float32Array(n * P);
  set.samples.forEach((sample, i) => {
    const label = labels === 'threshold' ? set.threshold[i] : sample.outcome;
    if (!label) throw new RangeError(`sample ${i} has no ${labels} label`);
    labelsOut[i] = label.policy;
    labelMagnitudes[i] = label.magnitude;
    if (labels === 'outcome' && temperature > 0) {
      const costs = sample.outcome.costs;
      const best = Math.min(...costs);
      const weights = costs.map((c) => Math.exp(-(c - best) / temperature));
      const total = weights.reduce((a, b) => a + b, 0);
      weights.forEach((w, p) => (distribution[i * P + p] = w / total));
    } else {
      distribution[i * P + label.policy] = 1;
    }
    if (labels === 'outcome') {
      sample.outcome.magnitudes.forEach((m, p) => {
        magnitudeUnit[i * P + p] = toUnit(p, m);
        magnitudeMask[i * P + p] = (MAGNITUDE_SPAN[p] ?? 0) > 0 ? 1 : 0;
      });
    } else {
      magnitudeUnit[i * P + label.policy] = toUnit(label.policy, label.magnitude);
      magnitudeMask[i * P + label.policy] = (MAGNITUDE_SPAN[label.policy] ?? 0) > 0 ? 1 : 0;
    }
  });
  return {
    windows: set.samples.map((s) => s.window),
    distribution,
    labels: labelsOut,
    labelMagnitudes,
    magnitudeUnit,
    magnitudeMask,
  };
}

export interface TrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  /** Weight of the magnitude loss against the policy cross-entropy. */
  readonly magnitudeWeight: number;
  readonly onEpoch?: (report: EpochReport) => void;
  /** Start from these weights (fine-tuning a served model) instead of a seeded initialisation. */
  readonly initialWeights?: NetworkWeights;
}

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'onEpoch'> = {
  epochs: 24,
  batchSize: 128,
  learningRate: 3e-3,
  seed: 7,
  magnitudeWeight: 5,
};

export interface EpochReport {
  readonly epoch: number;
  readonly epochs: number;
  readonly loss: number;
  readonly valLoss: number;
  readonly valAccuracy: number;
  /** Mean absolute error of the labelled policy's magnitude, in the guide's units. */
  readonly valMagnitudeMae: number;
  readonly seconds: number;
  readonly best: boolean;
}

export interface TrainResult {
  readonly weights: NetworkWeights;
  readonly bestEpoch: number;
  readonly history: readonly EpochReport[];
}

interface TensorSet {
  readonly x: tf.Tensor3D;
  readonly dist: tf.Tensor2D;
  readonly magUnit: tf.Tensor2D;
  readonly magMask: tf.Tensor2D;
  readonly n: number;
}

function tensors(targets: Targets, norm: Normalisation): TensorSet {
  const n = targets.windows.length;
  return {
    x: tf.tensor3d(packWindows(targets.windows, norm), [n, T, F]),
    dist: tf.tensor2d(targets.distribution, [n, P]),
    magUnit: tf.tensor2d(targets.magnitudeUnit, [n, P]),
    magMask: tf.tensor2d(targets.magnitudeMask, [n, P]),
    n,
  };
}

function lossOf(
  net: Network,
  x: tf.Tensor3D,
  dist: tf.Tensor2D,
  magUnit: tf.Tensor2D,
  magMask: tf.Tensor2D,
  magnitudeWeight: number,
  dropoutSeed?: number,
): { loss: tf.Scalar; logits: tf.Tensor2D; magnitudeUnit: tf.Tensor2D } {
  const out = net.forward(x, dropoutSeed);
  const ce = tf.neg(tf.mean(tf.sum(tf.mul(dist, tf.logSoftmax(out.logits)), 1)));
  const sq = tf.mul(tf.square(tf.sub(out.magnitudeUnit, magUnit)), magMask);
  const mse = tf.div(tf.sum(sq), tf.maximum(tf.sum(magMask), 1));
  return {
    loss: tf.add<tf.Scalar>(ce, tf.mul(mse, magnitudeWeight)),
    logits: out.logits,
    magnitudeUnit: out.magnitudeUnit,
  };
}

async function evaluate(
  net: Network,
  set: TensorSet,
  targets: Targets,
  magnitudeWeight: number,
): Promise<{ loss: number; accuracy: number; mae: number }> {
  const batch = 1024;
  let lossSum = 0;
  let correct = 0;
  let maeSum = 0;
  for (let start = 0; start < set.n; start += batch) {
    const size = Math.min(batch, set.n - start);
    const [loss, pred, mags] = tf.tidy((): tf.Tensor[] => {
      const slice = <R extends tf.Rank>(t: tf.Tensor<R>): tf.Tensor<R> =>
        tf.slice(t, [start, ...t.shape.slice(1).map(() => 0)], [size, ...t.shape.slice(1)]);
      const r = lossOf(net, slice(set.x), slice(set.dist), slice(set.magUnit), slice(set.magMask), magnitudeWeight);
      const scaled = tf.add(tf.mul(r.magnitudeUnit, tf.tensor1d(MAGNITUDE_SPAN)), tf.tensor1d(MAGNITUDE_MIN));
      return [r.loss, tf.argMax(r.logits, 1), scaled];
    });
    if (!loss || !pred || !mags) throw new Error('evaluation produced no tensors');
    lossSum += ((await loss.data())[0] ?? 0) * size;
    const predicted = await pred.data();
    const magnitudes = await mags.data();
    tf.dispose([loss, pred, mags]);
    for (let i = 0; i < size; i++) {
      const label = targets.labels[start + i] ?? 0;
      if (predicted[i] === label) correct++;
      maeSum += Math.abs((magnitudes[i * P + label] ?? 0) - (targets.labelMagnitudes[start + i] ?? 0));
    }
  }
  return { loss: lossSum / set.n, accuracy: correct / set.n, mae: maeSum / set.n };
}

/** Trains from seeded weights; returns the weights of the epoch with the lowest validation loss. */
export async function trainNetwork(
  train: Targets,
  validation: Targets,
  norm: Normalisation,
  options: TrainOptions,
): Promise<TrainResult> {
  await ensureBackend();
  const rng = new Rng(options.seed);
  // The seed is drawn either way, so fine-tuning shuffles and drops out exactly as training from scratch would.
  const seeded = rng.int(0, 2 ** 31);
  const net = new Network(options.initialWeights ?? initialWeights(seeded));
  const trainSet = tensors(train, norm);
  const valSet = tensors(validation, norm);
  const history: EpochReport[] = [];
  let best: { loss: number; weights: NetworkWeights; epoch: number } | undefined;
  try {
    const optimizer = tf.train.adam(options.learningRate);
    const order = Array.from({ length: trainSet.n }, (_, i) => i);
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const started = Date.now();
      // Step decay: the last third of the epochs at a tenth of the rate settles the minimum.
      if (epoch === Math.floor((options.epochs * 2) / 3) + 1) {
        (optimizer as unknown as { learningRate: number }).learningRate = options.learningRate / 10;
      }
      rng.shuffle(order);
      let lossSum = 0;
      let batches = 0;
      for (let start = 0; start < trainSet.n; start += options.batchSize) {
        const idx = tf.tensor1d(order.slice(start, start + options.batchSize), 'int32');
        const dropoutSeed = rng.int(0, 2 ** 30);
        const loss = optimizer.minimize(
          () =>
            lossOf(
              net,
              tf.gather(trainSet.x, idx),
              tf.gather(trainSet.dist, idx),
              tf.gather(trainSet.magUnit, idx),
              tf.gather(trainSet.magMask, idx),
              options.magnitudeWeight,
              dropoutSeed,
            ).loss,
          true,
          net.vars,
        );
        idx.dispose();
        if (loss) {
          lossSum += (await loss.data())[0] ?? 0;
          loss.dispose();
        }
        batches++;
      }
      const val = await evaluate(net, valSet, validation, options.magnitudeWeight);
      const isBest = !best || val.loss < best.loss;
      if (isBest) best = { loss: val.loss, weights: net.weights(), epoch };
      const report: EpochReport = {
        epoch,
        epochs: options.epochs,
        loss: lossSum / batches,
        valLoss: val.loss,
        valAccuracy: val.accuracy,
        valMagnitudeMae: val.mae,
        seconds: (Date.now() - started) / 1000,
        best: isBest,
      };
      history.push(report);
      options.onEpoch?.(report);
    }
    optimizer.dispose();
  } finally {
    net.dispose();
    tf.dispose([trainSet.x, trainSet.dist, trainSet.magUnit, trainSet.magMask]);
    tf.dispose([valSet.x, valSet.dist, valSet.magUnit, valSet.magMask]);
  }
  if (!best) throw new Error('training ran no epoch');
  return { weights: best.weights, bestEpoch: best.epoch, history };
}

export function policyName(index: number): string {
  return MODEL_POLICIES[index] ?? `#${index}`;
}
