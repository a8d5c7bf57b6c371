import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_FEATURES, WINDOW_STEPS, WINDOW_STEP_SECONDS, featureIndex } from '../../src/domain/features';
import { MAGNITUDE_GUIDE, MODEL_POLICIES, type PolicyDecision } from '../../src/domain/policy';
import type { FeatureWindow } from '../../src/domain/window';
import { createPolicyEngine } from '../../src/policy/breaker';
import { PolicyInputError, PolicyModelLoadError, PolicyModelShapeError } from '../../src/policy/errors';
import { loadPolicyModel, prepareWindow, type LoadedPolicyModel } from '../../src/policy/model';
import { metadataPathFor, type ModelMetadata } from '../../src/policy/model-metadata';
import { makeEpisode, observe } from '../../training/cluster';
import { ONNX_IO, exportProbeModel } from '../../training/onnx-export';

jest.setTimeout(60_000);

const MODEL = join(__dirname, '..', '..', 'models', 'policy.onnx');
const F = MODEL_FEATURES.length;
const T = WINDOW_STEPS;

function expectWellFormed(decision: PolicyDecision): void {
  expect(decision.source).toBe('model');
  expect(decision.ranked.map((r) => r.policy).sort()).toEqual([...MODEL_POLICIES].sort());
  const total = decision.ranked.reduce((a, r) => a + r.score, 0);
  expect(total).toBeCloseTo(1, 4);
  for (let i = 1; i < decision.ranked.length; i++) {
    expect(decision.ranked[i - 1]!.score).toBeGreaterThanOrEqual(decision.ranked[i]!.score);
  }
  for (const r of decision.ranked) {
    const range = MAGNITUDE_GUIDE[r.policy];
    expect(r.magnitude).toBeGreaterThanOrEqual(range.min);
    expect(r.magnitude).toBeLessThanOrEqual(range.max);
    expect(r.reason).toContain('model');
  }
}

function featureWindow(values: number[][], absentFeatures: FeatureWindow['absentFeatures'] = []): FeatureWindow {
  return {
    kind: 'window',
    target: { namespace: 'default', pod: 'web-0' },
    source: 'prometheus',
    end: 1_700_000_010,
    stepSeconds: WINDOW_STEP_SECONDS,
    steps: T,
    features: MODEL_FEATURES,
    values,
    observed: values.map((row) => row.map(() => true)),
    absentFeatures,
    quality: { realFraction: 1, stalenessSeconds: 0, freshness: 1, score: 1, coverage: 1 },
  };
}

describe('serving the committed model', () => {
  let model: LoadedPolicyModel;
  beforeAll(async () => {
    model = await loadPolicyModel(MODEL);
  });
  afterAll(async () => {
    await model.close();
  });

  it('loads with its metadata and answers with every policy ranked, magnitudes inside the guide', async () => {
    expect(model.metadata.features).toEqual([...MODEL_FEATURES]);
    expect(model.version).toBe(model.metadata.modelVersion);
    const decision = await model.decide(observe(makeEpisode(3)).window);
    expectWellFormed(decision);
    expect(decision.modelVersion).toBe(model.version);
  });

  it('answers a batch exactly as it answers one window at a time', async () => {
    const windows = [1, 2, 3, 4].map((s) => observe(makeEpisode(s)).window);
    const batch = await model.decideBatch(windows);
    const single = await Promise.all(windows.map((w) => model.decide(w)));
    batch.forEach((d, i) => {
      expect(d.ranked[0]!.policy).toBe(single[i]!.ranked[0]!.policy);
      expect(d.ranked[0]!.score).toBeCloseTo(single[i]!.ranked[0]!.score, 5);
    });
  });

  it('gives an all-zero window a defined, well-formed answer that asks for no more resources', async () => {
    const zeros = Array.from({ length: T }, () => new Array<number>(F).fill(0));
    const decision = await model.decide(zeros);
    expectWellFormed(decision);
    expect(['cpu_scale_up', 'memory_scale_up']).not.toContain(decision.ranked[0]!.policy);
    expect(await model.decide(zeros)).toEqual(decision);
  });

  it('fills NaN gaps from the nearest observed value and says so', async () => {
    const window = observe(makeEpisode(8)).window;
    const gappy = window.map((row) => [...row]);
    gappy[4]![0] = NaN;
    gappy[5]![0] = Number.POSITIVE_INFINITY;
    gappy[0]![5] = NaN;
    const filled = window.map((row) => [...row]);
    filled[4]![0] = filled[3]![0]!;
    filled[5]![0] = filled[3]![0]!;
    filled[0]![5] = filled[1]![5]!;
    const decision = await model.decide(gappy);
    expectWellFormed(decision);
    expect(decision.ranked[0]!.reason).toContain('3 missing value(s) imputed');
    const reference = await model.decide(filled);
    expect(decision.ranked.map((r) => r.policy)).toEqual(reference.ranked.map((r) => r.policy));
    expect(decision.ranked[0]!.score).toBeCloseTo(reference.ranked[0]!.score, 6);
  });

  it('rejects windows it cannot use with PolicyInputError, and the engine falls back to the rules', async () => {
    const noCpu = observe(makeEpisode(9)).window.map((row) => row.map((v, f) => (f === 0 ? NaN : v)));
    await expect(model.decide(noCpu)).rejects.toThrow(PolicyInputError);
    await expect(model.decide(noCpu.slice(1))).rejects.toThrow(/10 steps/);
    await expect(model.decide(noCpu.map((row) => row.slice(1)))).rejects.toThrow(/8 features/);
    await expect(model.decide(null as unknown as number[][])).rejects.toThrow(PolicyInputError);
    const reordered = { ...featureWindow(observe(makeEpisode(9)).window), features: [...MODEL_FEATURES].reverse() };
    await expect(model.decide(reordered)).rejects.toThrow(/window features/);

    const engine = createPolicyEngine({ model });
    const fine = await engine.decide(featureWindow(observe(makeEpisode(9)).window));
    expect(fine.source).toBe('model');
    const fallback = await engine.decide(featureWindow(noCpu));
    expect(fallback.source).toBe('rules');
    expect(fallback.fallbackReason).toMatch(/cpu_usage/);
  });

  it("imputes a FeatureWindow's absent features with their training mean", async () => {
    const values = observe(makeEpisode(10)).window;
    const dram = featureIndex('dram_joules');
    const zeroed = values.map((row) => row.map((v, f) => (f === dram ? 0 : v)));
    const prepared = prepareWindow(featureWindow(zeroed, ['dram_joules']), model.metadata.normalisation.mean);
    expect(prepared.values[dram]).toBeCloseTo(model.metadata.normalisation.mean[dram]!, 3);
    expect(prepared.imputed).toBe(T);
    expectWellFormed(await model.decide(featureWindow(zeroed, ['dram_joules'])));
  });
});

describe('loading a bad model', () => {
  let dir: string;
  let metadata: ModelMetadata;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'talon-serving-'));
    metadata = JSON.parse(await readFile(metadataPathFor(MODEL), 'utf8')) as ModelMetadata;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes `bytes` as a model with metadata whose checksum matches, so only the graph itself is wrong. */
  async function install(name: string, bytes: Uint8Array): Promise<string> {
    const path = join(dir, `${name}.onnx`);
    await writeFile(path, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await writeFile(
      metadataPathFor(path),
      JSON.stringify({ ...metadata, onnx: { ...metadata.onnx, sha256, bytes: bytes.length } }),
    );
    return path;
  }

  it('reports a missing model or missing metadata as PolicyModelLoadError', async () => {
    await expect(loadPolicyModel(join(dir, 'absent.onnx'))).rejects.toThrow(PolicyModelLoadError);
    const onlyModel = join(dir, 'lonely.onnx');
    await copyFile(MODEL, onlyModel);
    await expect(loadPolicyModel(onlyModel)).rejects.toThrow(/metadata file cannot be read/);
  });

  it('catches a corrupt file by its checksum, and garbage that matches its checksum by onnxruntime', async () => {
    const original = await readFile(MODEL);
    const truncated = join(dir, 'truncated.onnx');
    await writeFile(truncated, original.subarray(0, original.length / 2));
    await copyFile(metadataPathFor(MODEL), metadataPathFor(truncated));
    await expect(loadPolicyModel(truncated)).rejects.toThrow(/checksum/);

    const garbage = await install('garbage', new Uint8Array(Buffer.from('this is not an onnx graph')));
    const error = await loadPolicyModel(garbage).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyModelLoadError);
    expect((error as Error).message).toMatch(/onnxruntime rejected/);
  });

  it('rejects a model whose input window has another shape', async () => {
    const path = await install(
      'wide',
      exportProbeModel(
        ['batch', 12, 5],
        [
          { name: ONNX_IO.probabilities, dims: ['batch', 7] },
          { name: ONNX_IO.magnitudes, dims: ['batch', 7] },
          { name: ONNX_IO.attention, dims: ['batch', 10] },
        ],
      ),
    );
    await expect(loadPolicyModel(path)).rejects.toThrow(PolicyModelShapeError);
    await expect(loadPolicyModel(path)).rejects.toThrow(/\[batch, 12, 5\], expected \[batch, 10, 8\]/);
  });

  it('rejects a model with too few policies or a missing output', async () => {
    const fewer = await install(
      'fewer',
      exportProbeModel(
        ['batch', 10, 8],
        [
          { name: ONNX_IO.probabilities, dims: ['batch', 5] },
          { name: ONNX_IO.magnitudes, dims: ['batch', 7] },
          { name: ONNX_IO.attention, dims: ['batch', 10] },
        ],
      ),
    );
    await expect(loadPolicyModel(fewer)).rejects.toThrow(/policy_probabilities has shape \[batch, 5\]/);
    const missing = await install(
      'missing',
      exportProbeModel(['batch', 10, 8], [{ name: ONNX_IO.probabilities, dims: ['batch', 7] }]),
    );
    await expect(loadPolicyModel(missing)).rejects.toThrow(/output magnitudes is missing/);
  });

  it('rejects metadata for other features and a graph whose answers are not probabilities', async () => {
    const path = join(dir, 'renamed.onnx');
    await copyFile(MODEL, path);
    const swapped = [...metadata.features].reverse();
    await writeFile(metadataPathFor(path), JSON.stringify({ ...metadata, features: swapped }));
    await expect(loadPolicyModel(path)).rejects.toThrow(PolicyModelShapeError);

    const right = await install(
      'not-probabilities',
      exportProbeModel(
        ['batch', 10, 8],
        [
          { name: ONNX_IO.probabilities, dims: ['batch', 7] },
          { name: ONNX_IO.magnitudes, dims: ['batch', 7] },
          { name: ONNX_IO.attention, dims: ['batch', 10] },
        ],
      ),
    );
    await expect(loadPolicyModel(right)).rejects.toThrow(/probabilities sum to/);
  });
});
