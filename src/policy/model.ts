/**
 * Serves the learned policy in-process with onnxruntime-node. Load once per worker: the loader checks the
 * metadata, the checksum, the graph's inputs and outputs and one trial inference, so a missing, corrupt or
 * wrong-shape model fails at start-up with a typed error (and the breaker serves the rules) instead of
 * failing on the first alert. `decide` answers in the same ranked shape as the rule policy.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { MODEL_FEATURES, WINDOW_STEPS, featureIndex } from '../domain/features';
import { MODEL_POLICIES, clampMagnitude, rankPolicies, type PolicyDecision, type RankedPolicy } from '../domain/policy';
import { REQUIRED_FEATURES, type FeatureWindow } from '../domain/window';
import type { PolicyModel } from './breaker';
import { PolicyInputError, PolicyModelLoadError, PolicyModelOutputError, PolicyModelShapeError } from './errors';
import { metadataPathFor, modelMetadataSchema, type ModelMetadata } from './model-metadata';
import {
  nativeBinding,
  openPolicySession,
  type Fetched,
  type GraphValue,
  type PolicySession,
  type SessionMode,
} from './ort-session';

const T = WINDOW_STEPS;
const F = MODEL_FEATURES.length;
const P = MODEL_POLICIES.length;

/** Raw `[steps][features]` values in FEATURE_UNITS; NaN or null marks a missing value. */
export type WindowValues = readonly (readonly (number | null | undefined)[])[];

export interface LoadPolicyModelOptions {
  /** Defaults to the ONNX path with `.json` instead of `.onnx`. */
  readonly metadataPath?: string;
  /** onnxruntime intra-op threads; 1 is fastest for one small window and leaves the worker's cores alone. */
  readonly threads?: number;
  /**
   * Run the graph synchronously on onnxruntime-node's native binding when it is usable (default true);
   * false always uses the public async API, which is also what happens when the binding is not usable.
   */
  readonly nativeSync?: boolean;
}

export interface RawPrediction {
  readonly probabilities: Float32Array;
  readonly magnitudes: Float32Array;
  readonly attention: Float32Array;
}

export interface LoadedPolicyModel extends PolicyModel {
  readonly version: string;
  readonly metadata: ModelMetadata;
  readonly path: string;
  readonly fileBytes: number;
  /** Wall time of load + validation, ms. */
  readonly loadMs: number;
  /** How the graph runs: synchronously on the native binding, or through the public async API. */
  readonly sessionMode: SessionMode;
  decide(window: FeatureWindow | WindowValues): Promise<PolicyDecision>;
  decideBatch(windows: readonly (FeatureWindow | WindowValues)[]): Promise<PolicyDecision[]>;
  /** The graph on already-checked values `[n × T × F]`: for the parity test and latency benchmark. */
  infer(values: Float32Array, n: number): Promise<RawPrediction>;
  close(): Promise<void>;
}

interface PreparedWindow {
  readonly values: Float32Array;
  readonly imputed: number;
}

function isFeatureWindow(w: FeatureWindow | WindowValues): w is FeatureWindow {
  return !Array.isArray(w) && typeof w === 'object' && w !== null && (w as FeatureWindow).kind === 'window';
}

/**
 * Turns a window into model input. Missing values (NaN, ±Infinity, null, negative) take the nearest earlier
 * observed value of the same feature, else the nearest later one; a feature with no value at all takes its
 * training mean, unless it is a required feature, which makes the window unusable.
 */
export function prepareWindow(window: FeatureWindow | WindowValues, trainingMean: readonly number[]): PreparedWindow {
  if (isFeatureWindow(window)) {
    const order = window.features;
    if (order.length !== F || order.some((name, i) => name !== MODEL_FEATURES[i])) {
      throw new PolicyInputError(`window features [${order.join(', ')}] are not [${MODEL_FEATURES.join(', ')}]`);
    }
  }
  const rows = isFeatureWindow(window) ? window.values : window;
  if (!Array.isArray(rows) || rows.length !== T) {
    throw new PolicyInputError(`window must have ${T} steps, got ${Array.isArray(rows) ? rows.length : typeof rows}`);
  }
  const absent = new Set<number>(isFeatureWindow(window) ? window.absentFeatures.map((f) => featureIndex(f)) : []);
  const values = new Float32Array(T * F);
  let imputed = 0;
  for (let f = 0; f < F; f++) {
    const column: (number | undefined)[] = rows.map((row, t) => {
      if (!Array.isArray(row) || row.length !== F) {
        throw new PolicyInputError(
          `window step ${t} must have ${F} features, got ${Array.isArray(row) ? row.length : typeof row}`,
        );
      }
      const v: unknown = row[f];
      return !absent.has(f) && typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
    });
    if (column.every((v) => v === undefined)) {
      const name = MODEL_FEATURES[f] ?? `#${f}`;
      if (REQUIRED_FEATURES.includes(name as (typeof REQUIRED_FEATURES)[number])) {
        throw new PolicyInputError(`required feature ${name} has no usable value in the window`);
      }
      for (let t = 0; t < T; t++) values[t * F + f] = trainingMean[f] ?? 0;
      imputed += T;
      continue;
    }
    let last: number | undefined;
    const firstKnown = column.find((v) => v !== undefined) ?? 0;
    for (let t = 0; t < T; t++) {
      const v = column[t];
      if (v === undefined) imputed++;
      else last = v;
      values[t * F + f] = v ?? last ?? firstKnown;
    }
  }
  return { values, imputed };
}

function checkDims(
  path: string,
  what: string,
  meta: GraphValue | undefined,
  expected: readonly (number | null)[],
): void {
  if (!meta) throw new PolicyModelShapeError(path, `${what} is missing`);
  if (!meta.isTensor) throw new PolicyModelShapeError(path, `${what} is not a tensor`);
  if (meta.type !== 'float32') throw new PolicyModelShapeError(path, `${what} is ${meta.type}, expected float32`);
  const shape = meta.shape;
  const fits =
    shape.length === expected.length &&
    expected.every((d, i) => d === null || shape[i] === d || typeof shape[i] === 'string');
  if (!fits) {
    const want = expected.map((d) => d ?? 'batch').join(', ');
    throw new PolicyModelShapeError(path, `${what} has shape [${shape.join(', ')}], expected [${want}]`);
  }
}

async function readMetadata(path: string): Promise<ModelMetadata> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PolicyModelLoadError(
      path,
      'metadata file cannot be read (train a model with `talon model train`)',
      error,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PolicyModelLoadError(path, 'metadata is not valid JSON', error);
  }
  const parsed = modelMetadataSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new PolicyModelLoadError(path, `metadata is invalid: ${problems}`);
  }
  return parsed.data;
}

/** Loads and validates a policy model; throws PolicyModelLoadError or PolicyModelShapeError. */
export async function loadPolicyModel(
  modelPath: string,
  options: LoadPolicyModelOptions = {},
): Promise<LoadedPolicyModel> {
  const started = process.hrtime.bigint();
  const metadataPath = options.metadataPath ?? metadataPathFor(modelPath);
  const metadata = await readMetadata(metadataPath);
  const same = (a: readonly string[], b: readonly string[]): boolean =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(metadata.features, MODEL_FEATURES)) {
    throw new PolicyModelShapeError(
      modelPath,
      `trained on features [${metadata.features.join(', ')}], Talon feeds [${MODEL_FEATURES.join(', ')}]`,
    );
  }
  if (!same(metadata.policies, MODEL_POLICIES)) {
    throw new PolicyModelShapeError(
      modelPath,
      `outputs policies [${metadata.policies.join(', ')}], Talon expects [${MODEL_POLICIES.join(', ')}]`,
    );
  }
  if (metadata.steps !== T)
    throw new PolicyModelShapeError(modelPath, `trained on ${metadata.steps} steps, windows have ${T}`);
  if (metadata.normalisation.mean.length !== F) {
    throw new PolicyModelShapeError(
      modelPath,
      `normalisation has ${metadata.normalisation.mean.length} features, expected ${F}`,
    );
  }

  let bytes: Buffer;
  try {
    bytes = await readFile(modelPath);
  } catch (error) {
    throw new PolicyModelLoadError(modelPath, 'model file cannot be read', error);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== metadata.onnx.sha256) {
    throw new PolicyModelLoadError(
      modelPath,
      `checksum ${sha256.slice(0, 12)}… does not match the metadata's ${metadata.onnx.sha256.slice(0, 12)}… (corrupt, truncated or not the model this metadata describes)`,
    );
  }
  let session: PolicySession;
  try {
    session = await openPolicySession(
      bytes,
      {
        intraOpNumThreads: options.threads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      },
      options.nativeSync === false ? null : (nativeBinding() ?? null),
    );
  } catch (error) {
    throw new PolicyModelLoadError(
      modelPath,
      `onnxruntime rejected the file: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  const io = metadata.onnx;
  try {
    const inputIndex = session.inputNames.indexOf(io.input);
    if (session.inputNames.length !== 1 || inputIndex !== 0) {
      throw new PolicyModelShapeError(
        modelPath,
        `inputs are [${session.inputNames.join(', ')}], expected exactly [${io.input}]`,
      );
    }
    checkDims(modelPath, `input ${io.input}`, session.inputMetadata[0], [null, T, F]);
    const outputs: [string, number][] = [
      [io.outputs.probabilities, P],
      [io.outputs.magnitudes, P],
      [io.outputs.attention, T],
    ];
    for (const [name, width] of outputs) {
      const index = session.outputNames.indexOf(name);
      if (index < 0)
        throw new PolicyModelShapeError(
          modelPath,
          `output ${name} is missing (outputs: ${session.outputNames.join(', ')})`,
        );
      checkDims(modelPath, `output ${name}`, session.outputMetadata[index], [null, width]);
    }
  } catch (error) {
    await session.release();
    throw error;
  }

  const infer = async (values: Float32Array, n: number): Promise<RawPrediction> => {
    let result: Fetched;
    try {
      result = await session.run({ [io.input]: new ort.Tensor('float32', values, [n, T, F]) });
    } catch (error) {
      throw new PolicyModelOutputError(
        `onnxruntime failed: ${error instanceof Error ? error.message : String(error)}`,
        error,
      );
    }
    const take = (name: string, width: number): Float32Array => {
      const data = result[name]?.data;
      if (!(data instanceof Float32Array) || data.length !== n * width) {
        const count = data instanceof Float32Array ? `${data.length} values` : 'no float32 values';
        throw new PolicyModelOutputError(`output ${name} has ${count}, expected ${n * width}`);
      }
      return data;
    };
    return {
      probabilities: take(io.outputs.probabilities, P),
      magnitudes: take(io.outputs.magnitudes, P),
      attention: take(io.outputs.attention, T),
    };
  };

  const toDecision = (raw: RawPrediction, i: number, imputed: number): PolicyDecision => {
    const probs = raw.probabilities.subarray(i * P, (i + 1) * P);
    const mags = raw.magnitudes.subarray(i * P, (i + 1) * P);
    const att = raw.attention.subarray(i * T, (i + 1) * T);
    let sum = 0;
    for (let p = 0; p < P; p++) {
      const v = probs[p] ?? NaN;
      if (!Number.isFinite(v) || v < -1e-6 || !Number.isFinite(mags[p] ?? NaN)) {
        throw new PolicyModelOutputError(
          `model ${metadata.modelVersion} returned a non-finite or negative output for ${MODEL_POLICIES[p]}`,
        );
      }
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) throw new PolicyModelOutputError(`model probabilities sum to ${sum}, not 1`);
    let focus = 0;
    for (let t = 1; t < T; t++) if ((att[t] ?? 0) > (att[focus] ?? 0)) focus = t;
    const note = `model ${metadata.modelVersion} (${metadata.labelSet} labels); most attention on step t-${T - 1 - focus}${
      imputed > 0 ? `; ${imputed} missing value(s) imputed` : ''
    }`;
    const ranked: RankedPolicy[] = MODEL_POLICIES.map((policy, p) => ({
      policy,
      score: Math.min(1, Math.max(0, probs[p] ?? 0)),
      magnitude: clampMagnitude(policy, mags[p] ?? NaN),
      reason: `p=${(probs[p] ?? 0).toFixed(3)}; ${note}`,
    }));
    return { source: 'model', ranked: rankPolicies(ranked), modelVersion: metadata.modelVersion };
  };

  const decideBatch = async (windows: readonly (FeatureWindow | WindowValues)[]): Promise<PolicyDecision[]> => {
    if (windows.length === 0) return [];
    const prepared = windows.map((w) => prepareWindow(w, metadata.normalisation.mean));
    // One window is fed as prepared (its array is fresh per call, so nothing is shared between calls).
    const values = prepared.length === 1 && prepared[0] ? prepared[0].values : new Float32Array(windows.length * T * F);
    if (prepared.length > 1) prepared.forEach((p, i) => values.set(p.values, i * T * F));
    const raw = await infer(values, windows.length);
    return prepared.map((p, i) => toDecision(raw, i, p.imputed));
  };

  // One trial inference on the training mean: a graph that loads but cannot run fails here, not on an alert.
  try {
    const trial = new Float32Array(T * F);
    for (let t = 0; t < T; t++) trial.set(metadata.normalisation.mean, t * F);
    toDecision(await infer(trial, 1), 0, 0);
  } catch (error) {
    await session.release();
    if (error instanceof PolicyModelOutputError) throw new PolicyModelShapeError(modelPath, error.message, error);
    throw new PolicyModelLoadError(
      modelPath,
      `trial inference failed: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }

  const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    version: metadata.modelVersion,
    metadata,
    path: modelPath,
    fileBytes: bytes.length,
    loadMs,
    sessionMode: session.mode,
    infer,
    decideBatch,
    decide: async (window) => {
      const [decision] = await decideBatch([window]);
      if (!decision) throw new PolicyModelOutputError('model returned no decision');
      return decision;
    },
    close: () => session.release(),
  };
}
