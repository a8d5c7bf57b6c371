/**
 * The model registry (register, promote, rollback, challenger) and the slot that follows it: a worker's model
 * changes when the pointer moves, decisions in flight finish on the model they started with, and a version that
 * fails to load leaves the previous one serving.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_FEATURES } from '../../src/domain/features';
import type { PolicyDecision } from '../../src/domain/policy';
import type { FeatureWindow } from '../../src/domain/window';
import {
  champion,
  promoteVersion,
  readRegistry,
  registerModel,
  registryFile,
  rollbackChampion,
  setChallenger,
  versionModelPath,
} from '../../src/policy/model-registry';
import { followRegistry, ModelSlot, type SlotModel } from '../../src/policy/model-slot';

const SERVED = 'models/policy.onnx';
const SEED1 = 'models/seeds/seed-1/policy.onnx';
const SAME_NAME_OTHER_WEIGHTS = 'models/variants/restart-cost-4/policy.onnx';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'talon-registry-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('model registry', () => {
  it('the first version registered is the champion; promote pushes, rollback returns to the previous one', async () => {
    const first = await registerModel(dir, SERVED, { card: '# card\n' });
    expect(first).toEqual({ version: 'outcome-s0-n12000-e16', champion: true, alreadyRegistered: false });
    const second = await registerModel(dir, SEED1);
    expect(second.champion).toBe(false);
    expect(champion(await readRegistry(dir))).toBe('outcome-s0-n12000-e16');

    await promoteVersion(dir, 'outcome-s1-n12000-e16', 'beats the champion off-policy');
    expect(champion(await readRegistry(dir))).toBe('outcome-s1-n12000-e16');
    const back = await rollbackChampion(dir, 'paged at 3am');
    expect(champion(back)).toBe('outcome-s0-n12000-e16');
    expect(back.history.map((e) => `${e.action} ${e.version}${e.from ? ` from ${e.from}` : ''}`)).toEqual([
      'register outcome-s0-n12000-e16',
      'register outcome-s1-n12000-e16',
      'promote outcome-s1-n12000-e16 from outcome-s0-n12000-e16',
      'rollback outcome-s0-n12000-e16 from outcome-s1-n12000-e16',
    ]);
    await expect(rollbackChampion(dir, 'again')).rejects.toThrow(/only champion so far: nothing to roll back to/);
  });

  it('refuses other weights under a registered name, an unknown version, and a challenger equal to the champion', async () => {
    await registerModel(dir, SERVED);
    expect((await registerModel(dir, SERVED)).alreadyRegistered).toBe(true);
    await expect(registerModel(dir, SAME_NAME_OTHER_WEIGHTS)).rejects.toThrow(/already registered with other weights/);
    await expect(promoteVersion(dir, 'nope-1', 'x')).rejects.toThrow(/version nope-1 is not in the registry/);
    await expect(setChallenger(dir, 'outcome-s0-n12000-e16')).rejects.toThrow(/is the champion/);
    await expect(promoteVersion(dir, '../etc', 'x')).rejects.toThrow(/not a model version name/);
  });

  it('a damaged registry file is an error, never an empty registry', async () => {
    await registerModel(dir, SERVED);
    await writeFile(registryFile(dir), '{"format": "talon-model-registry/1", "champions": 3}');
    await expect(readRegistry(dir)).rejects.toThrow(/registry.json is invalid: champions/);
  });
});

const window: FeatureWindow = {
  kind: 'window',
  target: { namespace: 'shop', pod: 'web' },
  source: 'prometheus',
  end: 1_795_000_000,
  stepSeconds: 30,
  steps: 10,
  features: MODEL_FEATURES,
  values: Array.from({ length: 10 }, () => [0.95, 0.4, 0.5, 0.9, 50, 10, 60, 70]),
  observed: Array.from({ length: 10 }, () => MODEL_FEATURES.map(() => true)),
  absentFeatures: [],
  quality: { realFraction: 1, stalenessSeconds: 0, freshness: 1, score: 1, coverage: 1 },
};

function fake(version: string, gate?: Promise<void>): SlotModel & { closed: boolean } {
  const model = {
    version,
    closed: false,
    async decide(): Promise<PolicyDecision> {
      await gate;
      return {
        source: 'model',
        ranked: [{ policy: 'cpu_scale_up', score: 1, magnitude: 1.5, reason: version }],
        modelVersion: version,
      };
    },
    async close() {
      model.closed = true;
    },
  };
  return model;
}

describe('ModelSlot', () => {
  it('a decision in flight finishes on its model; the old model is closed after it, the next decision uses the new one', async () => {
    let release!: () => void;
    const old = fake('v1', new Promise<void>((r) => (release = r)));
    const slot = new ModelSlot(old);
    const inFlight = slot.decide(window);
    const next = fake('v2');
    await slot.swap(next);
    expect(old.closed).toBe(false);
    release();
    expect((await inFlight).modelVersion).toBe('v1');
    expect(old.closed).toBe(true);
    expect((await slot.decide(window)).modelVersion).toBe('v2');
  });

  it('an empty slot fails the decision with its reason (the breaker then serves the rules)', async () => {
    await expect(new ModelSlot(undefined, 'no challenger').decide(window)).rejects.toThrow('no challenger');
  });
});

describe('followRegistry', () => {
  it('loads the champion, reloads when promote and rollback move it, and keeps serving when a version fails to load', async () => {
    await registerModel(dir, SERVED);
    await registerModel(dir, SEED1);
    const slot = new ModelSlot();
    const lines: string[] = [];
    const follower = followRegistry(slot, {
      registryDir: dir,
      pointer: 'champion',
      intervalMs: 0,
      log: (l) => lines.push(l),
    });
    await follower.ready;
    expect(slot.version).toBe('outcome-s0-n12000-e16');
    expect((await slot.decide(window)).modelVersion).toBe('outcome-s0-n12000-e16');

    await promoteVersion(dir, 'outcome-s1-n12000-e16', 'test');
    await follower.check();
    expect(slot.version).toBe('outcome-s1-n12000-e16');
    expect((await slot.decide(window)).modelVersion).toBe('outcome-s1-n12000-e16');
    expect(lines.at(-1)).toMatch(
      /champion outcome-s0-n12000-e16 → outcome-s1-n12000-e16, loaded and validated in [\d.]+ ms/,
    );

    await rollbackChampion(dir, 'test');
    // The file of the version rolled back to is damaged: the slot keeps what it serves and says why.
    await writeFile(versionModelPath(dir, 'outcome-s0-n12000-e16'), 'not onnx');
    await follower.check();
    expect(slot.version).toBe('outcome-s1-n12000-e16');
    expect(follower.problem()).toMatch(/champion outcome-s0-n12000-e16 failed to load: .*checksum/);
    follower.stop();
    await slot.close();
  });

  it('follows the challenger pointer, and empties the slot when it is cleared', async () => {
    await registerModel(dir, SERVED);
    await registerModel(dir, SEED1);
    const slot = new ModelSlot();
    const follower = followRegistry(slot, { registryDir: dir, pointer: 'challenger', intervalMs: 0 });
    await follower.ready;
    expect(slot.loaded).toBe(false);
    await setChallenger(dir, 'outcome-s1-n12000-e16');
    await follower.check();
    expect(slot.version).toBe('outcome-s1-n12000-e16');
    await setChallenger(dir, undefined);
    await follower.check();
    expect(slot.loaded).toBe(false);
    await expect(slot.decide(window)).rejects.toThrow(/names no challenger/);
    follower.stop();
  });
});
