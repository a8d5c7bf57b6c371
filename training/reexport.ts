/**
 * `talon model reexport`: rewrites a shipped model with the current exporter from the weights inside its own
 * ONNX file, without retraining. The exporter changes the graph's layout (fewer nodes, same maths), not what
 * it computes, so the new file must answer like the old one: it is written only if both agree to 1e-5 on
 * simulated windows and pick the same top policy, and then the metadata's checksum and size follow it.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { MODEL_FEATURES, WINDOW_STEPS } from '../src/domain/features';
import { MODEL_POLICIES } from '../src/domain/policy';
import { ModelTrainingError } from '../src/policy/errors';
import { metadataPathFor, modelMetadataSchema } from '../src/policy/model-metadata';
import { makeEpisode, observe } from './cluster';
import { stableJson } from './json';
import { argmaxRows } from './metrics';
import { exportOnnx, importOnnx } from './onnx-export';
import { exportMetadataFor } from './pipeline';

/** Largest difference the old and new file may show on any output. */
export const REEXPORT_TOLERANCE = 1e-5;

export interface ReexportResult {
  readonly path: string;
  readonly before: { readonly sha256: string; readonly bytes: number };
  readonly after: { readonly sha256: string; readonly bytes: number };
  /** Largest absolute difference between the two files' outputs on the check windows. */
  readonly maxDifference: number;
  readonly windows: number;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function outputsOf(bytes: Uint8Array, values: Float32Array, n: number): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const input = session.inputNames[0] ?? '';
    const result = await session.run({
      [input]: new ort.Tensor('float32', values, [n, WINDOW_STEPS, MODEL_FEATURES.length]),
    });
    const out: Record<string, Float32Array> = {};
    for (const name of session.outputNames) {
      const data = result[name]?.data;
      if (!(data instanceof Float32Array)) throw new ModelTrainingError(`output ${name} is not float32`);
      out[name] = data;
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Re-exports one model file in place; `windows` simulated windows (their own seeds) check the result. */
export async function reexportModel(modelPath: string, windows = 1000): Promise<ReexportResult> {
  const metadataPath = metadataPathFor(modelPath);
  const parsed = modelMetadataSchema.safeParse(JSON.parse(await readFile(metadataPath, 'utf8')));
  if (!parsed.success) throw new ModelTrainingError(`${metadataPath} is not valid model metadata`);
  const metadata = parsed.data;
  const old = new Uint8Array(await readFile(modelPath));
  // A file that does not match its metadata is not the trained model; re-exporting it would bless it.
  if (sha256(old) !== metadata.onnx.sha256) {
    throw new ModelTrainingError(`${modelPath} does not match the checksum in ${metadataPath}; not re-exporting`);
  }
  const { weights, norm } = importOnnx(old);
  const fresh = exportOnnx(weights, norm, exportMetadataFor(metadata.labelSet, metadata.modelVersion));

  const T = WINDOW_STEPS;
  const F = MODEL_FEATURES.length;
  const values = new Float32Array(windows * T * F);
  for (let i = 0; i < windows; i++) values.set(observe(makeEpisode(70_000 + i)).window.flat(), i * T * F);
  const [a, b] = await Promise.all([outputsOf(old, values, windows), outputsOf(fresh, values, windows)]);
  let maxDifference = 0;
  for (const [name, before] of Object.entries(a)) {
    const after = b[name];
    if (!after || after.length !== before.length) throw new ModelTrainingError(`re-export changed output ${name}`);
    for (let i = 0; i < before.length; i++) maxDifference = Math.max(maxDifference, Math.abs(before[i]! - after[i]!));
  }
  const probabilities = metadata.onnx.outputs.probabilities;
  const P = MODEL_POLICIES.length;
  const topAfter = argmaxRows(b[probabilities] ?? [], P);
  const sameTop = argmaxRows(a[probabilities] ?? [], P).every((p, i) => p === topAfter[i]);
  if (!(maxDifference <= REEXPORT_TOLERANCE) || !sameTop) {
    throw new ModelTrainingError(
      `re-exported ${modelPath} differs from the original (max ${maxDifference}, same top policy: ${sameTop}); not written`,
    );
  }

  await writeFile(modelPath, fresh);
  const after = { sha256: sha256(fresh), bytes: fresh.length };
  await writeFile(metadataPath, stableJson({ ...metadata, onnx: { ...metadata.onnx, ...after } }));
  return {
    path: modelPath,
    before: { sha256: metadata.onnx.sha256, bytes: metadata.onnx.bytes },
    after,
    maxDifference,
    windows,
  };
}
