import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { MODEL_FEATURES, WINDOW_STEPS } from '../../src/domain/features';
import { loadPolicyModel } from '../../src/policy/model';
import { asNativeBinding, nativeBinding, openPolicySession, type NativeBinding } from '../../src/policy/ort-session';
import { makeEpisode, observe } from '../../training/cluster';

jest.setTimeout(60_000);

const MODEL = join(__dirname, '..', '..', 'models', 'policy.onnx');
const OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
const window = (seed: number): Float32Array => Float32Array.from(observe(makeEpisode(seed)).window.flat());
const feeds = (values: Float32Array): Record<string, ort.Tensor> => ({
  window: new ort.Tensor('float32', values, [1, WINDOW_STEPS, MODEL_FEATURES.length]),
});

/** A binding module with the right methods whose sessions report metadata in a shape nobody expects. */
function oddBinding(disposed: string[]): unknown {
  class InferenceSession {
    loadModel(): void {}
    run(): unknown {
      throw new Error('never called');
    }
    dispose(): void {
      disposed.push('odd');
    }
    get inputMetadata(): unknown {
      return 'window';
    }
    get outputMetadata(): unknown {
      return [];
    }
  }
  return { initOrt: () => undefined, binding: { InferenceSession } };
}

describe('the native binding check', () => {
  it('accepts onnxruntime-node 1.23 as installed', () => {
    expect(nativeBinding()).toBeDefined();
  });

  it('rejects modules without initOrt, without an InferenceSession class or without its methods', () => {
    class NoRun {
      loadModel(): void {}
      dispose(): void {}
    }
    for (const module of [
      undefined,
      null,
      {},
      { binding: { InferenceSession: NoRun } },
      { initOrt: () => undefined, binding: {} },
      { initOrt: () => undefined, binding: { InferenceSession: NoRun } },
      { initOrt: 'yes', binding: { InferenceSession: class {} } },
    ]) {
      expect(asNativeBinding(module)).toBeUndefined();
    }
    expect(asNativeBinding(oddBinding([]))).toBeDefined();
  });
});

describe('opening a session', () => {
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = new Uint8Array(await readFile(MODEL));
  });

  it('runs synchronously on the native binding and answers exactly as the public async API', async () => {
    const native = await openPolicySession(bytes, OPTIONS);
    const fallback = await openPolicySession(bytes, OPTIONS, null);
    try {
      expect(native.mode).toBe('native-sync');
      expect(fallback.mode).toBe('public-async');
      expect(native.inputNames).toEqual(fallback.inputNames);
      expect(native.outputNames).toEqual(fallback.outputNames);
      expect(native.inputMetadata).toEqual(fallback.inputMetadata);
      expect(native.outputMetadata).toEqual(fallback.outputMetadata);
      const values = window(5);
      const sync = native.run(feeds(values));
      if (sync instanceof Promise) throw new Error('the native session answered with a promise');
      const async = await fallback.run(feeds(values));
      for (const name of native.outputNames) expect(sync[name]?.data).toEqual(async[name]?.data);
    } finally {
      await native.release();
      await fallback.release();
    }
  });

  it('falls back to the public async API when a loaded native session does not look as expected', async () => {
    const disposed: string[] = [];
    const odd = asNativeBinding(oddBinding(disposed)) as NativeBinding;
    const session = await openPolicySession(bytes, OPTIONS, odd);
    try {
      expect(disposed).toEqual(['odd']);
      expect(session.mode).toBe('public-async');
      const out = await session.run(feeds(window(6)));
      expect(out.policy_probabilities?.data).toBeInstanceOf(Float32Array);
    } finally {
      await session.release();
    }
  });

  it('reports a file onnxruntime rejects on either path', async () => {
    const garbage = new Uint8Array(Buffer.from('not an onnx graph'));
    await expect(openPolicySession(garbage, OPTIONS)).rejects.toThrow();
    await expect(openPolicySession(garbage, OPTIONS, null)).rejects.toThrow();
  });
});

describe('loadPolicyModel on either path', () => {
  it('serves on the native binding by default and gives the public path the same decisions', async () => {
    const fast = await loadPolicyModel(MODEL);
    const slow = await loadPolicyModel(MODEL, { nativeSync: false });
    try {
      expect(fast.sessionMode).toBe('native-sync');
      expect(slow.sessionMode).toBe('public-async');
      const windows = [11, 12, 13].map((s) => observe(makeEpisode(s)).window);
      for (const w of windows) expect(await fast.decide(w)).toEqual(await slow.decide(w));
      expect(await fast.decideBatch(windows)).toEqual(await slow.decideBatch(windows));
    } finally {
      await fast.close();
      await slow.close();
    }
  });
});
