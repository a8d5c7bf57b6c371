/**
 * Retraining from the decision log and the promotion gate, on a log with a known truth (cpu_scale_up fails on
 * these CPU incidents, memory_scale_up resolves them): the fine-tuned model's production choice follows the
 * log; the gate promotes it over the champion, refuses a model that is no better and one trained on falsified
 * outcomes, and every promotion can be rolled back. Small sizes: tfjs on shared cores.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JoinedDecision } from '../../src/domain/decision-log';
import { chooseCandidate } from '../../src/domain/escalation';
import { loadPolicyModel } from '../../src/policy/model';
import { champion, readRegistry, registerModel, rollbackChampion } from '../../src/policy/model-registry';
import { featureWindowOfLog } from '../../training/log-data';
import { DEFAULT_OPE_OPTIONS } from '../../training/off-policy';
import { gatedPromote, runGate, type LabSuite } from '../../training/promotion';
import { DEFAULT_RETRAIN_OPTIONS, retrainFromLog, type RetrainOptions } from '../../training/retrain';
import { CPU_ALERT, syntheticLog } from '../support/decision-logs';

jest.setTimeout(240_000);

const CHAMPION = 'models/policy.onnx';
const SEED1 = 'models/seeds/seed-1/policy.onnx';
let log: JoinedDecision[];
/** The same decisions with the outcomes falsified: what worked is recorded as failing and the other way round. */
let falsified: JoinedDecision[];

const quick = (outDir: string, decisions: readonly JoinedDecision[]): RetrainOptions => ({
  ...DEFAULT_RETRAIN_OPTIONS,
  championPath: CHAMPION,
  log: decisions,
  outDir,
  simSamples: 300,
  validationSamples: 100,
  testSamples: 100,
  epochs: 3,
  learningRate: 1e-3,
  logDescription: 'synthetic log (test)',
});

async function choices(modelPath: string): Promise<Record<string, number>> {
  const model = await loadPolicyModel(modelPath);
  const out: Record<string, number> = {};
  try {
    for (const j of log) {
      const d = await model.decide(featureWindowOfLog(j));
      const p = chooseCandidate(d, CPU_ALERT, new Set())?.candidate.policy ?? 'none';
      out[p] = (out[p] ?? 0) + 1;
    }
  } finally {
    await model.close();
  }
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'talon-retrain-test-'));
  // Logged by the shipped model as champion (it opens CPU incidents with cpu_scale_up), exploring half the time.
  const logger = await loadPolicyModel(CHAMPION);
  log = await syntheticLog({
    decisions: 240,
    epsilon: 0.5,
    seed: 21,
    champion: logger,
    cost: { cpu_scale_up: 600, memory_scale_up: 10, data_offloading: 400 },
  });
  await logger.close();
  falsified = log.map((j) => ({ ...j, cost: 610 - j.cost! }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('retrainFromLog', () => {
  it('fine-tunes the champion so the workflow’s choice follows the logged outcomes, and writes a loadable versioned model with its card', async () => {
    expect(await choices(CHAMPION)).toEqual({ cpu_scale_up: 240 });
    const r = await retrainFromLog(quick(join(dir, 'good'), log));
    expect(r.version).toMatch(/^outcome-s0-n12000-e16\+ft-[0-9a-f]{10}$/);
    expect(r.usable).toBe(240);
    expect(r.shifted).toBe(240);
    expect(r.perPolicy.memory_scale_up!.meanCost).toBeLessThan(20);
    const after = await choices(r.modelPath);
    expect(after.memory_scale_up).toBe(240);
    const model = await loadPolicyModel(r.modelPath);
    expect(model.version).toBe(r.version);
    expect(model.metadata.training.trainSamples).toBe(300 + 240 * DEFAULT_RETRAIN_OPTIONS.logWeight);
    await model.close();
    const card = await readFile(join(dir, 'good', 'MODEL_CARD.md'), 'utf8');
    expect(card).toContain(`# Talon policy model ${r.version}`);
    expect(card).toContain('| memory_scale_up |');
    expect(JSON.parse(await readFile(join(dir, 'good', 'provenance.json'), 'utf8'))).toMatchObject({
      parent: { version: 'outcome-s0-n12000-e16' },
      log: { decisions: 240, usable: 240 },
    });
  });

  it('refuses a log with too few usable decisions, saying what was excluded', async () => {
    const open = log.slice(0, 12).map((j) => ({ ...j, cost: undefined, unusable: 'episode still open' }));
    await expect(retrainFromLog(quick(join(dir, 'none'), open))).rejects.toThrow(
      /only 0 usable logged decision\(s\) \(at least 10 needed\); excluded: \{"episode still open":12\}/,
    );
  });
});

describe('promotion gate', () => {
  it('promotes a better challenger, refuses one that is no better and one trained on falsified outcomes; rollback undoes', async () => {
    const registry = join(dir, 'registry');
    await registerModel(registry, CHAMPION);
    const good = await retrainFromLog(quick(join(dir, 'gate-good'), log));
    const bad = await retrainFromLog(quick(join(dir, 'gate-bad'), falsified));
    for (const m of [good, bad]) await registerModel(registry, m.modelPath, { card: m.card, provenance: m.provenance });
    await registerModel(registry, SEED1);
    const options = { ope: { ...DEFAULT_OPE_OPTIONS, bootstrap: { resamples: 400, seed: 5 } }, requireLab: false };

    const same = await runGate(registry, 'outcome-s1-n12000-e16', log, options);
    expect(same.promote).toBe(false);
    expect(same.ope.claim.made).toBe(true);
    // Both open with cpu_scale_up: the same cost up to the reward model's view of their magnitudes.
    expect(same.ope.disagreements).toBe(0);
    expect(Math.abs(same.ope.difference.dr.estimate)).toBeLessThan(5);
    expect(same.reasons[0]).toMatch(/^(worse than the champion|not shown better): DR cost difference/);

    const better = await gatedPromote(registry, good.version, log, options);
    expect(better.reasons).toEqual([]);
    expect(better.promote).toBe(true);
    expect(better.ope.difference.dr.high).toBeLessThan(0);
    expect(better.lab).toBe('not run: no incident-lab suite in this build');
    const state = await readRegistry(registry);
    expect(champion(state)).toBe(good.version);
    expect(state.history.at(-1)).toMatchObject({
      action: 'promote',
      version: good.version,
      reason: expect.stringMatching(/^gate passed: DR cost -/),
    });

    // Trained on falsified outcomes, it opens with cpu_scale_up again: worse than the new champion, refused.
    const worse = await gatedPromote(registry, bad.version, log, options);
    expect(worse.promote).toBe(false);
    expect(worse.ope.claim.made).toBe(true);
    expect(worse.ope.difference.dr.low).toBeGreaterThan(100);
    expect(worse.reasons[0]).toMatch(/^worse than the champion: DR cost difference \d/);
    expect(champion(await readRegistry(registry))).toBe(good.version);

    await rollbackChampion(registry, 'test');
    expect(champion(await readRegistry(registry))).toBe('outcome-s0-n12000-e16');
  });

  it('the incident-lab hook blocks a promotion it fails, and --require-lab refuses without one', async () => {
    const registry = join(dir, 'registry-lab');
    await registerModel(registry, CHAMPION);
    await registerModel(registry, SEED1);
    const options = { ope: { ...DEFAULT_OPE_OPTIONS, bootstrap: { resamples: 100, seed: 5 } }, requireLab: true };
    const lab: LabSuite = {
      name: 'stub suite',
      run: async (challenger, championPath) => ({
        passed: false,
        summary: `${challenger} vs ${championPath}: worse on 3 of 14 scenarios`,
      }),
    };
    const withLab = await runGate(registry, 'outcome-s1-n12000-e16', log, { ...options, lab });
    expect(withLab.reasons.at(-1)).toMatch(/^incident lab \(stub suite\): .*worse on 3 of 14 scenarios$/);
    const without = await runGate(registry, 'outcome-s1-n12000-e16', log, options);
    expect(without.reasons.at(-1)).toBe('the incident lab is required (--require-lab) but no suite is available');
  });
});
