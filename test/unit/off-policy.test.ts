/**
 * Off-policy evaluation on logs with a known truth: with exploration the estimates find the challenger's true
 * cost and claim the difference; without it (or with too few decisions) they claim nothing and say why; a
 * challenger that restarts pods where the champion does not is flagged as a new harmful action. Also the JSONL
 * export round trip the CLI's --log-file relies on.
 */
import { toCsv, toJsonl, parseJsonl, parseTime, CSV_COLUMNS } from '../../src/metrics/decision-export';
import { ruleConfig } from '../../src/policy/rules';
import { modelEngine } from '../../training/evaluation';
import { DEFAULT_OPE_OPTIONS, evaluateFromLog, formatOpeReport } from '../../training/off-policy';
import { fixedModel, syntheticLog } from '../support/decision-logs';

const engine = (name: string, order: Parameters<typeof fixedModel>[0]) =>
  modelEngine(name, name, fixedModel(order, name), ruleConfig());

// The logging champion opens CPU alerts with memory_scale_up (it fails: 600 s); cpu_scale_up resolves in 20 s.
const CHAMPION = ['memory_scale_up', 'cpu_scale_up', 'data_offloading', 'task_offloading', 'no_action'] as const;
const GOOD = ['cpu_scale_up', 'memory_scale_up', 'data_offloading', 'no_action'] as const;
const COSTS = { cpu_scale_up: 20, memory_scale_up: 600, data_offloading: 400 };
const options = { ...DEFAULT_OPE_OPTIONS, bootstrap: { resamples: 500, level: 0.95, seed: 3 } };

describe('evaluateFromLog', () => {
  it('with ε = 0.3 exploration: IPS and DR recover both engines’ costs and claim the challenger is better', async () => {
    const log = await syntheticLog({ decisions: 400, epsilon: 0.3, seed: 11, champion: CHAMPION, cost: COSTS });
    const r = await evaluateFromLog(log, engine('good', GOOD), engine('champion', CHAMPION), options);
    expect(r.usable).toBe(400);
    expect(r.championMatchesLog).toBe(400);
    expect(r.challenger.support).toBe(1);
    // True costs: challenger 20 s, champion 600 s; each interval covers its truth.
    for (const [e, truth] of [
      [r.challenger, 20],
      [r.champion, 600],
    ] as const) {
      for (const i of [e.ips, e.dr]) {
        expect(i.low).toBeLessThan(truth);
        expect(i.high).toBeGreaterThan(truth);
      }
      expect(Math.abs(e.snips - truth)).toBeLessThan(5);
    }
    expect(r.challenger.ess).toBeGreaterThan(30);
    expect(r.difference.dr.high).toBeLessThan(0);
    expect(r.difference.ips.high).toBeLessThan(0);
    expect(r.claim).toEqual({ made: true, reasons: [] });
    expect(r.newHarmful).toEqual([]);
    expect(formatOpeReport(r)).toContain('claim: supported by the log');
  });

  it('without exploration it claims nothing about a challenger that acts differently, and says why', async () => {
    const log = await syntheticLog({ decisions: 200, epsilon: 0, seed: 12, champion: CHAMPION, cost: COSTS });
    const r = await evaluateFromLog(log, engine('good', GOOD), engine('champion', CHAMPION), options);
    expect(r.challenger.support).toBe(0);
    expect(r.challenger.matched).toBe(0);
    expect(r.claim.made).toBe(false);
    expect(r.claim.reasons.join(' ')).toMatch(/never takes on 100.0 % of decisions .* without exploration/);
    expect(r.claim.reasons.join(' ')).toMatch(/effective sample size of good is 0.0 < 30/);
    expect(formatOpeReport(r)).toMatch(/^NO CLAIM: /m);
  });

  it('too few decisions: no claim', async () => {
    const log = await syntheticLog({ decisions: 12, epsilon: 0.5, seed: 13, champion: CHAMPION, cost: COSTS });
    const r = await evaluateFromLog(log, engine('good', GOOD), engine('champion', CHAMPION), options);
    expect(r.claim.made).toBe(false);
    expect(r.claim.reasons[0]).toBe('only 12 usable decision(s), fewer than 30');
  });

  it('flags a challenger that takes a disruptive action the champion does not', async () => {
    const log = await syntheticLog({ decisions: 60, epsilon: 0.3, seed: 14, champion: CHAMPION, cost: COSTS });
    const restarts = engine('restarts', ['task_offloading', 'cpu_scale_up', 'no_action']);
    const r = await evaluateFromLog(log, restarts, engine('champion', CHAMPION), options);
    expect(r.newHarmful).toHaveLength(60);
    expect(r.newHarmful[0]).toMatchObject({
      action: { policy: 'task_offloading' },
      why: expect.stringMatching(/disruptive/),
    });
    // Exploration never takes a disruptive action, so there is no support for it either.
    expect(r.challenger.support).toBe(0);
  });

  it('skips decisions it cannot judge, counting why', async () => {
    const log = await syntheticLog({ decisions: 40, epsilon: 0.3, seed: 15, champion: CHAMPION, cost: COSTS });
    const open = log.map((j, i) => (i % 4 === 0 ? { ...j, cost: undefined, unusable: 'episode still open' } : j));
    const r = await evaluateFromLog(open, engine('good', GOOD), engine('champion', CHAMPION), options);
    expect(r.usable).toBe(30);
    expect(r.excluded).toEqual({ 'episode still open': 10 });
  });
});

describe('decision log export', () => {
  it('JSONL round-trips exactly; CSV has one row per decision with the window as a JSON cell', async () => {
    const log = await syntheticLog({ decisions: 5, epsilon: 0.3, seed: 16, champion: CHAMPION, cost: COSTS });
    expect(parseJsonl(toJsonl(log))).toEqual(log);
    const csv = toCsv(log).trimEnd().split('\n');
    expect(csv).toHaveLength(6);
    expect(csv[0]).toBe(CSV_COLUMNS.join(','));
    expect(csv[1]).toContain('remediate/TalonPodCpuNearLimit/lab/web-0/f0,run-0,1,');
    expect(csv[1]).toMatch(/,"\[\[/);
  });

  it('names the line of a record that is not a logged decision', async () => {
    const [first] = await syntheticLog({ decisions: 1, epsilon: 0, seed: 17, champion: CHAMPION, cost: COSTS });
    const broken = {
      ...first!,
      decision: { ...first!.decision, choice: { ...first!.decision.choice!, propensity: 0 } },
    };
    expect(() => parseJsonl(`${JSON.stringify(first)}\n${JSON.stringify(broken)}\n`)).toThrow(
      /line 2 is not a logged decision: decision.choice.propensity/,
    );
    expect(() => parseJsonl('{')).toThrow('decision log line 1 is not JSON');
  });

  it('reads CLI times: durations back from now, ISO times, unix seconds', () => {
    expect(parseTime('24h', 100_000)).toBe(13_600);
    expect(parseTime('1800000000', 0)).toBe(1_800_000_000);
    expect(parseTime('2027-01-15T08:00:00Z', 0)).toBe(Date.parse('2027-01-15T08:00:00Z') / 1000);
    expect(() => parseTime('yesterday', 0)).toThrow(/neither a duration/);
  });
});
