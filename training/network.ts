/**
 * The multi-task LSTM of D3.3 1.4.3 / D3.6 2.5 written directly on tfjs-core: two LSTM layers of 32 units
 * with dropout 0.2, attention over the time steps, a policy head (softmax) and a magnitude head (one
 * magnitude per policy, squashed into the guide's range). Written by hand rather than with tfjs-layers so
 * that the maths is exactly what the ONNX export reproduces (standard sigmoid gates, no hard-sigmoid),
 * and so that seeds control every random draw.
 */
import * as tf from '@tensorflow/tfjs-core';
// The union package's CommonJS bundle registers every gradient; tfjs-core's own registration file is ESM only.
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { MODEL_FEATURES, WINDOW_STEPS } from '../src/domain/features';
import { MAGNITUDE_GUIDE, MODEL_POLICIES } from '../src/domain/policy';
import { Rng } from './rng';

export const ARCHITECTURE = {
  steps: WINDOW_STEPS,
  features: MODEL_FEATURES.length,
  hidden: 32,
  layers: 2,
  dropout: 0.2,
  policies: MODEL_POLICIES.length,
} as const;

const H = ARCHITECTURE.hidden;
const P = ARCHITECTURE.policies;
const T = ARCHITECTURE.steps;
const F = ARCHITECTURE.features;

/** One LSTM layer in Keras layout: gates i, f, c, o along the last axis. */
export interface LstmWeights {
  readonly kernel: Float32Array; // [in, 4H]
  readonly recurrent: Float32Array; // [H, 4H]
  readonly bias: Float32Array; // [4H]
}

/** All trained numbers, as plain arrays so they can be saved, exported and compared. */
export interface NetworkWeights {
  readonly lstm: readonly [LstmWeights, LstmWeights];
  readonly attentionKernel: Float32Array; // [H]
  readonly attentionBias: number;
  readonly policyKernel: Float32Array; // [2H, P]
  readonly policyBias: Float32Array; // [P]
  readonly magnitudeKernel: Float32Array; // [2H, P]
  readonly magnitudeBias: Float32Array; // [P]
}

/** Per-feature standardisation (D3.3: "StandardScaler"), baked into the exported graph as well. */
export interface Normalisation {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The guide's range per policy, in output order: the magnitude head maps sigmoid(z) onto [min, max]. */
export const MAGNITUDE_MIN = MODEL_POLICIES.map((p) => MAGNITUDE_GUIDE[p].min);
export const MAGNITUDE_SPAN = MODEL_POLICIES.map((p) => MAGNITUDE_GUIDE[p].max - MAGNITUDE_GUIDE[p].min);

let backendReady: Promise<void> | undefined;

/** Selects the wasm backend once per process (about six times faster than the pure-JS one here). */
export function ensureBackend(): Promise<void> {
  backendReady ??= (async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  })();
  return backendReady;
}

function glorot(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
  return out;
}

export function initialWeights(seed: number): NetworkWeights {
  const rng = new Rng(seed);
  const layer = (inputs: number): LstmWeights => {
    const bias = new Float32Array(4 * H);
    // Forget-gate bias of 1, as Keras does, so early training does not forget everything.
    bias.fill(1, H, 2 * H);
    return { kernel: glorot(rng, inputs, 4 * H), recurrent: glorot(rng, H, 4 * H), bias };
  };
  return {
    lstm: [layer(F), layer(H)],
    attentionKernel: glorot(rng, H, 1),
    attentionBias: 0,
    policyKernel: glorot(rng, 2 * H, P),
    policyBias: new Float32Array(P),
    magnitudeKernel: glorot(rng, 2 * H, P),
    magnitudeBias: new Float32Array(P),
  };
}

/** The weights as trainable variables, in a fixed order. */
export class Network {
  readonly vars: tf.Variable[];

  constructor(weights: NetworkWeights) {
    const v = (values: Float32Array | number[], shape: number[], name: string): tf.Variable =>
      tf.variable(tf.tensor(values, shape, 'float32'), true, `${name}_${Network.counter++}`);
    const [l1, l2] = weights.lstm;
    this.vars = [
      v(l1.kernel, [F, 4 * H], 'l1k'),
      v(l1.recurrent, [H, 4 * H], 'l1r'),
      v(l1.bias, [4 * H], 'l1b'),
      v(l2.kernel, [H, 4 * H], 'l2k'),
      v(l2.recurrent, [H, 4 * H], 'l2r'),
      v(l2.bias, [4 * H], 'l2b'),
      v(weights.attentionKernel, [H, 1], 'ak'),
      v([weights.attentionBias], [1], 'ab'),
      v(weights.policyKernel, [2 * H, P], 'pk'),
      v(weights.policyBias, [P], 'pb'),
      v(weights.magnitudeKernel, [2 * H, P], 'mk'),
      v(weights.magnitudeBias, [P], 'mb'),
    ];
  }

  private static counter = 0;

  private at(i: number): tf.Variable {
    const value = this.vars[i];
    if (!value) throw new RangeError(`no variable ${i}`);
    return value;
  }

  /**
   * Forward pass on already-normalised windows [B, T, F]. With `dropoutSeed`, applies dropout after each
   * LSTM layer (training); without, it is the inference graph the ONNX export reproduces.
   */
  forward(
    x: tf.Tensor3D,
    dropoutSeed?: number,
  ): { logits: tf.Tensor2D; magnitudeUnit: tf.Tensor2D; attention: tf.Tensor2D } {
    const batch = x.shape[0];
    let seq: tf.Tensor3D = x;
    for (let layer = 0; layer < 2; layer++) {
      const kernel = this.at(layer * 3);
      const recurrent = this.at(layer * 3 + 1);
      const bias = this.at(layer * 3 + 2);
      const inputs = seq.shape[2];
      const projected = tf.reshape(tf.add(tf.matMul(tf.reshape(seq, [batch * T, inputs]), kernel), bias), [
        batch,
        T,
        4 * H,
      ]);
      const perStep = tf.unstack(projected, 1) as tf.Tensor2D[];
      let h: tf.Tensor2D = tf.zeros([batch, H]);
      let c: tf.Tensor2D = tf.zeros([batch, H]);
      const outputs: tf.Tensor2D[] = [];
      for (const z0 of perStep) {
        const z = tf.add(z0, tf.matMul(h, recurrent));
        const [i, f, g, o] = tf.split(z, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        h = tf.mul(tf.sigmoid(o), tf.tanh(c));
        outputs.push(h);
      }
      seq = tf.stack(outputs, 1) as tf.Tensor3D;
      if (dropoutSeed !== undefined) {
        const keep = 1 - ARCHITECTURE.dropout;
        const mask = tf.cast(
          tf.greaterEqual(tf.randomUniform(seq.shape, 0, 1, 'float32', dropoutSeed + layer), ARCHITECTURE.dropout),
          'float32',
        );
        seq = tf.div(tf.mul(seq, mask), keep);
      }
    }
    const scores = tf.reshape<tf.Rank.R2>(tf.add(tf.matMul(tf.reshape(seq, [batch * T, H]), this.at(6)), this.at(7)), [
      batch,
      T,
    ]);
    const attention = tf.softmax<tf.Tensor2D>(scores);
    const context = tf.sum<tf.Tensor2D>(tf.mul(seq, tf.expandDims(attention, 2)), 1);
    const last = tf.reshape(tf.slice(seq, [0, T - 1, 0], [batch, 1, H]), [batch, H]);
    const joined = tf.concat([context, last], 1);
    const logits = tf.add<tf.Tensor2D>(tf.matMul(joined, this.at(8)), this.at(9));
    const magnitudeUnit = tf.sigmoid<tf.Tensor2D>(tf.add<tf.Tensor2D>(tf.matMul(joined, this.at(10)), this.at(11)));
    return { logits, magnitudeUnit, attention };
  }

  /** Copies the current values out (for early stopping and export). */
  weights(): NetworkWeights {
    const data = this.vars.map((v) => Float32Array.from(v.dataSync()));
    const d = (i: number): Float32Array => data[i] ?? new Float32Array();
    return {
      lstm: [
        { kernel: d(0), recurrent: d(1), bias: d(2) },
        { kernel: d(3), recurrent: d(4), bias: d(5) },
      ],
      attentionKernel: d(6),
      attentionBias: d(7)[0] ?? 0,
      policyKernel: d(8),
      policyBias: d(9),
      magnitudeKernel: d(10),
      magnitudeBias: d(11),
    };
  }

  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}

/** Flattens windows into one Float32Array [N, T, F], normalised. */
export function packWindows(windows: readonly (readonly (readonly number[])[])[], norm: Normalisation): Float32Array {
  const out = new Float32Array(windows.length * T * F);
  let k = 0;
  for (const w of windows) {
    for (let t = 0; t < T; t++) {
      const row = w[t];
      for (let f = 0; f < F; f++) {
        out[k++] = ((row?.[f] ?? 0) - (norm.mean[f] ?? 0)) / (norm.std[f] ?? 1);
      }
    }
  }
  return out;
}

export function fitNormalisation(windows: readonly (readonly (readonly number[])[])[]): Normalisation {
  const sum = new Float64Array(F);
  const sq = new Float64Array(F);
  let n = 0;
  for (const w of windows) {
    for (const row of w) {
      for (let f = 0; f < F; f++) {
        const x = row[f] ?? 0;
        sum[f] = (sum[f] ?? 0) + x;
        sq[f] = (sq[f] ?? 0) + x * x;
      }
      n++;
    }
  }
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sq, (s, f) => Math.sqrt(Math.max(s / n - (mean[f] ?? 0) ** 2, 1e-12)));
  return { mean, std: std.map((s) => (s < 1e-6 ? 1 : s)) };
}

export interface Prediction {
  /** [N, P] probabilities. */
  readonly probabilities: Float32Array;
  /** [N, P] magnitudes in the guide's units. */
  readonly magnitudes: Float32Array;
  readonly attention: Float32Array;
}

/** Inference with the training framework, on raw (unnormalised) windows: the reference for the parity test. */
export async function predict(
  weights: NetworkWeights,
  norm: Normalisation,
  windows: readonly (readonly (readonly number[])[])[],
  batchSize = 1024,
): Promise<Prediction> {
  await ensureBackend();
  const net = new Network(weights);
  const n = windows.length;
  const probabilities = new Float32Array(n * P);
  const magnitudes = new Float32Array(n * P);
  const attention = new Float32Array(n * T);
  try {
    for (let start = 0; start < n; start += batchSize) {
      const chunk = windows.slice(start, start + batchSize);
      const [probs, mags, att] = tf.tidy(() => {
        const x = tf.tensor3d(packWindows(chunk, norm), [chunk.length, T, F]);
        const out = net.forward(x);
        const scaled = tf.add(tf.mul(out.magnitudeUnit, tf.tensor1d(MAGNITUDE_SPAN)), tf.tensor1d(MAGNITUDE_MIN));
        return [tf.softmax(out.logits), scaled, out.attention];
      });
      probabilities.set(await probs.data(), start * P);
      magnitudes.set(await mags.data(), start * P);
      attention.set(await att.data(), start * T);
      tf.dispose([probs, mags, att]);
    }
  } finally {
    net.dispose();
  }
  return { probabilities, magnitudes, attention };
}
