import { join } from 'node:path';
import { evaluateRules } from '../../src/policy/rules';
import { loadPolicyModel, type LoadedPolicyModel } from '../../src/policy/model';
import { compareDecisionQuality, drawIncidents, toFeatureWindow } from '../../training/benchmark';

jest.setTimeout(120_000);

/** The claim of the model card, kept true: on held-out incidents the served model beats the rule policy. */
describe('decision quality of the shipped model', () => {
  let model: LoadedPolicyModel;
  beforeAll(async () => {
    model = await loadPolicyModel(join(__dirname, '..', '..', 'models', 'policy.onnx'));
  });
  afterAll(async () => {
    await model.close();
  });

  it('recovers faster than the rules, with less energy and no more disruptive actions', async () => {
    // Seed 7 is neither the training seed nor the benchmark's.
    const incidents = drawIncidents(7, 200);
    const rows = await compareDecisionQuality(
      incidents,
      [
        { name: 'rules', decide: (s) => s.map((x) => evaluateRules(toFeatureWindow(x))) },
        { name: 'model', decide: (s) => model.decideBatch(s.map((x) => x.window)) },
      ],
      [],
    );
    const rules = rows.find((r) => r.name === 'rules')!;
    const learned = rows.find((r) => r.name === 'model')!;
    expect(learned.incidents).toBe(200);
    expect(learned.meanTtrSeconds).toBeLessThan(rules.meanTtrSeconds * 0.8);
    expect(learned.meanEnergyJ).toBeLessThan(rules.meanEnergyJ);
    expect(learned.disruptive).toBeLessThanOrEqual(rules.disruptive);
  });
});
