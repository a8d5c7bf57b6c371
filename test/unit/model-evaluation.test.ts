import { isDeepStrictEqual } from 'node:util';
import { MODEL_FEATURES, featureIndex } from '../../src/domain/features';
import { chooseCandidate } from '../../src/domain/escalation';
import { POLICIES, type PolicyDecision, type PolicyName, type RankedPolicy } from '../../src/domain/policy';
import { validateModelDecision } from '../../src/policy/breaker';
import { PolicyInputError } from '../../src/policy/errors';
import { DEFAULT_RULE_CONFIG, ruleConfig } from '../../src/policy/rules';
import { LOCAL_RULE_OPTIONS, PRODUCTION_RULE_OPTIONS, talonAlertRules } from '../../tools/stack/alert-rules';
import { catchability, durationSeconds, firingStreak, NOT_IN_SIMULATOR, ruleReadings } from '../../training/alerting';
import { excludesZero, meanDifference, pairedBootstrap, relativeDifference } from '../../training/bootstrap';
import { productionChoice } from '../../training/choice';
import { makeEpisode, observe } from '../../training/cluster';
import { generateSamples, splitSeed } from '../../training/dataset';
import {
  HYPOTHETICAL_SLO_ALERT,
  alertFor,
  drawEvalIncidents,
  featureWindowOf,
  playEngine,
  rulesEngine,
} from '../../training/evaluation';
import { classificationReport } from '../../training/metrics';
import { COST_WEIGHTS } from '../../training/outcome-labels';
import { fmtEnergy, fmtTtr } from '../../training/report-format';
import { Rng } from '../../training/rng';
import { ruleGrid, ruleObjective, tuneRules } from '../../training/rule-tuning';
import { BASE_FAMILY, SIM_FAMILIES, simFamily } from '../../training/sim-family';
import { linearPolicyModel, trainLinearPolicy } from '../../training/simple-learner';

const F = MODEL_FEATURES.length;

/** A 10-step window with every feature at `fill`, then the given columns overwritten step by step. */
function windowWith(columns: Partial<Record<(typeof MODEL_FEATURES)[number], number[]>>, fill = 0.5): number[][] {
  return Array.from({ length: 10 }, (_, t) =>
    MODEL_FEATURES.map((name) => columns[name]?.[t] ?? (name.endsWith('_joules') ? 500 : fill)),
  );
}
const from = (start: number, high: number, low = 0): number[] =>
  Array.from({ length: 10 }, (_, t) => (t >= start ? high : low));

const ranked = (...entries: [PolicyName, number, number][]): PolicyDecision => ({
  source: 'model',
  ranked: entries.map(([policy, score, magnitude]) => ({ policy, score, magnitude, reason: 'test' })),
});

describe('paired bootstrap intervals', () => {
  it('collapses onto a constant difference', () => {
    const b = [3, 1, 4, 1, 5, 9, 2, 6];
    const i = meanDifference(
      b.map((x) => x + 2),
      b,
    );
    expect(i.estimate).toBeCloseTo(2, 12);
    expect(i.low).toBeCloseTo(2, 12);
    expect(i.high).toBeCloseTo(2, 12);
  });

  it('covers the true mean with about the normal-theory width, reproducibly', () => {
    const rng = new Rng(42);
    const n = 400;
    const b = Array.from({ length: n }, () => rng.normal(100, 30));
    // Strongly paired: a = b + 5 + small noise. An unpaired interval would be ~15× wider.
    const a = b.map((x) => x + 5 + rng.normal(0, 2));
    const i = meanDifference(a, b, { seed: 7 });
    expect(i.low).toBeLessThan(5);
    expect(i.high).toBeGreaterThan(5);
    const width = i.high - i.low;
    const normalWidth = (2 * 1.96 * 2) / Math.sqrt(n);
    expect(width).toBeGreaterThan(normalWidth * 0.8);
    expect(width).toBeLessThan(normalWidth * 1.2);
    expect(meanDifference(a, b, { seed: 7 })).toEqual(i);
    expect(excludesZero(i)).toBe(true);
  });

  it('gives a relative difference of means, and an interval that straddles zero when nothing differs', () => {
    const rng = new Rng(3);
    const b = Array.from({ length: 300 }, () => rng.uniform(10, 20));
    expect(
      relativeDifference(
        b.map((x) => x * 1.1),
        b,
      ).estimate,
    ).toBeCloseTo(0.1, 12);
    const shuffled = [...b].reverse();
    const i = relativeDifference(shuffled, b);
    expect(i.estimate).toBeCloseTo(0, 12);
    expect(excludesZero(i)).toBe(false);
  });

  it('prints an interval with its sign and a star only when it excludes zero', () => {
    const i = { estimate: -61.4, low: -81.3, high: -41.7, level: 0.95, resamples: 2000 };
    expect(fmtTtr(i)).toBe('−61 s [−81, −42]*');
    expect(fmtEnergy({ ...i, estimate: 0.0004, low: -0.0136, high: 0.0152 })).toBe('+0.0 % [−1.4, +1.5]');
  });

  it('rejects unpaired samples, empty samples and nonsense options', () => {
    expect(() => meanDifference([1, 2], [1])).toThrow(RangeError);
    expect(() => pairedBootstrap(0, () => 0)).toThrow(RangeError);
    expect(() => meanDifference([1], [1], { level: 1 })).toThrow(RangeError);
    expect(() => meanDifference([1], [1], { resamples: 3 })).toThrow(RangeError);
  });
});

describe("which simulated incidents Talon's alert rules catch", () => {
  const cpu = featureIndex('cpu_usage');

  it('maps every shipped rule, with thresholds and durations from the rule source', () => {
    const readings = ruleReadings();
    const shipped = talonAlertRules(PRODUCTION_RULE_OPTIONS).groups[0]!.rules.map((r) => r.alert);
    // Every shipped rule is either read from the window or named as one the simulator cannot see.
    expect(readings.map((r) => r.alert)).toEqual(shipped.filter((a) => !(a in NOT_IN_SIMULATOR)));
    expect(readings.map((r) => r.alert)).toEqual([
      'TalonPodCpuNearLimit',
      'TalonPodMemoryNearLimit',
      'TalonNodeOverloaded',
    ]);
    for (const name of Object.keys(NOT_IN_SIMULATOR)) expect(shipped).toContain(name);
    const byName = Object.fromEntries(readings.map((r) => [r.alert, r]));
    expect(byName.TalonPodCpuNearLimit).toMatchObject({
      feature: 'cpu_usage',
      threshold: 0.8,
      rateSteps: 4,
      forSteps: 4,
    });
    expect(byName.TalonPodMemoryNearLimit).toMatchObject({ feature: 'memory_usage', threshold: 0.85, rateSteps: 1 });
    expect(byName.TalonNodeOverloaded).toMatchObject({ feature: 'system_cpu_usage', scope: 'node' });
    expect(byName.TalonPodCpuNearLimit!.labels.talon_resource).toBe('cpu');
  });

  it("refuses rule timings that are not whole window steps (the local stack's 10 s `for`)", () => {
    expect(() => ruleReadings(LOCAL_RULE_OPTIONS)).toThrow(/whole number of 30 s steps/);
    expect(durationSeconds('2m')).toBe(120);
    expect(durationSeconds('1h30m')).toBe(5400);
    expect(() => durationSeconds('2 minutes')).toThrow(RangeError);
  });

  it('fires the CPU rule only once the 2-minute rate has been above 80 % for 2 minutes', () => {
    const rule = ruleReadings().find((r) => r.alert === 'TalonPodCpuNearLimit')!;
    // High from step 2: the 4-step rate is above 0.8 from step 5, i.e. at 5 evaluations (steps 5..9).
    expect(firingStreak(windowWith({ cpu_usage: from(2, 1) }), rule)).toBe(1);
    // High from step 3: only 4 evaluations above the threshold, still pending.
    expect(firingStreak(windowWith({ cpu_usage: from(3, 1) }), rule)).toBe(0);
    // Exactly at the threshold is not above it.
    expect(firingStreak(windowWith({ cpu_usage: from(0, 0.8) }), rule)).toBe(0);
    expect(firingStreak(windowWith({ cpu_usage: from(0, 0.81) }), rule)).toBe(3);
    expect(() => firingStreak(windowWith({}).slice(0, 7), rule)).toThrow(/needs 8 steps/);
    expect(cpu).toBe(0);
  });

  it('names the pod alert that decides, the node-only and the uncaught cases', () => {
    expect(catchability(windowWith({ cpu_usage: from(0, 0.95) }))).toEqual({
      kind: 'pod',
      alert: { alertName: 'TalonPodCpuNearLimit', labels: expect.objectContaining({ talon_resource: 'cpu' }) },
      firing: ['TalonPodCpuNearLimit'],
    });
    // Memory is a gauge: above 0.85 at the last 5 steps is enough.
    const memory = catchability(windowWith({ memory_usage: from(5, 0.9) }));
    expect(memory).toMatchObject({ kind: 'pod', alert: { alertName: 'TalonPodMemoryNearLimit' } });
    expect(catchability(windowWith({ memory_usage: from(6, 0.9) }))).toEqual({ kind: 'none' });
    expect(catchability(windowWith({ system_cpu_usage: from(0, 0.97) }))).toEqual({
      kind: 'node_only',
      firing: ['TalonNodeOverloaded'],
    });
    // Both pod rules: the one firing longer reached Alertmanager first; a tie goes to the group's first rule.
    const longerMemory = catchability(windowWith({ cpu_usage: from(2, 1), memory_usage: from(0, 0.9) }));
    expect(longerMemory).toMatchObject({
      alert: { alertName: 'TalonPodMemoryNearLimit' },
      firing: ['TalonPodCpuNearLimit', 'TalonPodMemoryNearLimit'],
    });
    const tie = catchability(windowWith({ cpu_usage: from(2, 1), memory_usage: from(5, 0.9) }));
    expect(tie).toMatchObject({ alert: { alertName: 'TalonPodCpuNearLimit' } });
  });
});

describe("scoring through the workflow's choice function", () => {
  const cpuAlert = { alertName: 'TalonPodCpuNearLimit', labels: { talon_scope: 'pod', talon_resource: 'cpu' } };

  it('never plays no_action or a scale-down for a resource alert, and rounds like the workflow', () => {
    const d = ranked(['no_action', 0.5, 1], ['cpu_scale_down', 0.3, 0.5], ['memory_scale_up', 0.2, 1.23456]);
    expect(productionChoice(d, cpuAlert)).toMatchObject({
      action: { policy: 'memory_scale_up', magnitude: 1.23 },
      fromAlert: false,
      unsimulated: false,
    });
    // Without a resource label (the hypothetical SLO alert) the scale-down is a candidate.
    expect(productionChoice(d, HYPOTHETICAL_SLO_ALERT).action).toEqual({ policy: 'cpu_scale_down', magnitude: 0.5 });
  });

  it("takes the alert's own list when the engine offers nothing usable, and flags policies the simulator lacks", () => {
    expect(productionChoice(ranked(['no_action', 1, 1]), cpuAlert)).toMatchObject({
      action: { policy: 'cpu_scale_up', magnitude: 1.5 },
      fromAlert: true,
    });
    expect(productionChoice(ranked(['replica_scale_up', 0.9, 2]), cpuAlert)).toMatchObject({
      action: { policy: 'no_action', magnitude: 1 },
      candidate: { policy: 'replica_scale_up' },
      unsimulated: true,
    });
  });

  it('agrees with chooseCandidate on random rankings (the candidate is the workflow function’s own)', () => {
    const rng = new Rng(5);
    for (let k = 0; k < 300; k++) {
      const entries: RankedPolicy[] = rng
        .shuffle([...POLICIES])
        .slice(0, rng.int(1, 6))
        .map((policy) => ({ policy, score: rng.next(), magnitude: rng.uniform(0.1, 3), reason: 'r' }));
      const d: PolicyDecision = { source: 'model', ranked: entries };
      const alert = rng.bool(0.5) ? cpuAlert : HYPOTHETICAL_SLO_ALERT;
      expect(productionChoice(d, alert).candidate).toEqual(chooseCandidate(d, alert, new Set())?.candidate);
    }
  });

  it('plays an engine on drawn incidents: its ranked[0] no_action is never what gets scored', async () => {
    const incidents = drawEvalIncidents(BASE_FAMILY, 3, 40);
    const silent = {
      name: 'silent',
      label: 'always no_action first',
      kind: 'model' as const,
      decide: async (): Promise<PolicyDecision> => ranked(['no_action', 0.9, 1], ['data_offloading', 0.1, 0.44]),
    };
    const played = await playEngine(silent, incidents, COST_WEIGHTS);
    expect(played).toHaveLength(40);
    for (const p of played) expect(p.action).toEqual({ policy: 'data_offloading', magnitude: 0.44 });
    // Caught incidents are decided under their own rule's alert, the others under the hypothetical one.
    for (const i of incidents) {
      expect(alertFor(i).alertName).toBe(i.caught.kind === 'pod' ? i.caught.alert.alertName : 'HypotheticalSloBreach');
    }
  });
});

describe('classification report', () => {
  it('reports recall per policy and its macro and support-weighted means', () => {
    // Labels: three of policy 0, one of policy 1; the model finds two of the three and calls the fourth 0.
    const r = classificationReport([0, 0, 0, 1], [0, 0, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]);
    expect(r.perClass[0]).toEqual({ precision: 2 / 3, recall: 2 / 3, support: 3 });
    expect(r.perClass[1]).toEqual({ precision: 0, recall: 0, support: 1 });
    expect(r.macroRecall).toBeCloseTo(1 / 3, 12);
    expect(r.weightedRecall).toBeCloseTo(r.accuracy, 12);
    expect(r.perClass).toHaveLength(7);
  });
});

describe('simulator families', () => {
  it('keeps the base family identical to the simulator without families', () => {
    for (const seed of [1, 99, 12345]) {
      expect(observe(makeEpisode(seed, undefined, BASE_FAMILY)).window).toEqual(observe(makeEpisode(seed)).window);
    }
    expect(() => simFamily('nope')).toThrow(/unknown simulator family/);
  });

  it('draws the same hidden causes in every family (ranges change, not the random stream)', () => {
    for (const seed of [4, 5, 6, 7]) {
      const scenarios = SIM_FAMILIES.map((f) => makeEpisode(seed, undefined, f).scenario);
      expect(new Set(scenarios).size).toBe(1);
    }
  });

  it('reads zero core/DRAM joules without those RAPL zones, and marks energy absent without Kepler', () => {
    const zones = observe(makeEpisode(8, 'io_heavy', simFamily('kepler_zones_zero'))).window;
    for (const row of zones) {
      expect(row[featureIndex('core_joules')]).toBe(0);
      expect(row[featureIndex('dram_joules')]).toBe(0);
      expect(row[featureIndex('total_joules')]).toBeCloseTo(row[featureIndex('package_joules')]!, 9);
      expect(row[featureIndex('package_joules')]).toBeGreaterThan(0);
    }
    const ep = makeEpisode(8, 'io_heavy', simFamily('kepler_absent'));
    const w = featureWindowOf(ep, observe(ep).window);
    expect(w.absentFeatures).toEqual(['core_joules', 'dram_joules', 'package_joules', 'total_joules']);
    expect(w.observed[0]!.filter((o) => !o)).toHaveLength(4);
    expect(w.values.every((row) => row.length === F)).toBe(true);
  });
});

describe('baselines', () => {
  it('grid-searches the rules with the defaults as one grid point, never ending worse than them', () => {
    const grid = ruleGrid();
    const defaults = grid.filter((o) => {
      try {
        return isDeepStrictEqual(ruleConfig(o), DEFAULT_RULE_CONFIG);
      } catch {
        return false;
      }
    });
    expect(defaults).toHaveLength(1);
    const incidents = drawEvalIncidents(BASE_FAMILY, 9, 120, 'tuning');
    const tuned = tuneRules(incidents, COST_WEIGHTS);
    expect(tuned.incidents).toBe(incidents.filter((i) => i.caught.kind === 'pod').length);
    expect(tuned.objective).toBeLessThanOrEqual(tuned.defaultObjective);
    expect(
      ruleObjective(
        tuned.config,
        incidents.filter((i) => i.caught.kind === 'pod'),
        COST_WEIGHTS,
      ),
    ).toBeCloseTo(tuned.objective, 12);
  });

  it('trains a linear last-step policy that beats a uniform guess and answers like a model', async () => {
    const samples = generateSamples(splitSeed(11, 'train'), 400);
    const policy = trainLinearPolicy(samples, { temperature: 0.5, iterations: 150, learningRate: 0.5, l2: 1e-4 });
    expect(policy.loss).toBeLessThan(Math.log(7));
    const model = linearPolicyModel(policy);
    const ep = makeEpisode(3);
    const window = featureWindowOf(ep, observe(ep).window);
    const decision = validateModelDecision(model.decide(window));
    expect(decision.ranked).toHaveLength(7);
    expect(() => model.decide({ ...window, absentFeatures: ['cpu_usage'] })).toThrow(PolicyInputError);
    const engine = rulesEngine('rules', 'defaults', DEFAULT_RULE_CONFIG);
    expect((await engine.decide(window)).source).toBe('rules');
  });
});
