/**
 * Decision quality on held-out simulated incidents: each policy engine sees the same alert window, its top
 * choice is played forward in the cluster model, and the outcomes are averaged. The incidents come from
 * their own seed, never used for training or validation.
 */
import { MODEL_FEATURES, WINDOW_STEPS, WINDOW_STEP_SECONDS } from '../src/domain/features';
import { MODEL_POLICIES, type ModelPolicy, type PolicyDecision } from '../src/domain/policy';
import type { FeatureWindow } from '../src/domain/window';
import {
  HORIZON_STEPS,
  SCENARIOS,
  makeEpisode,
  observe,
  rollout,
  type Action,
  type Outcome,
  type Scenario,
} from './cluster';
import { generateSamples, splitSeed, type Sample } from './dataset';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { evaluateRules, ruleConfig } from '../src/policy/rules';
import { loadPolicyModel, type LoadedPolicyModel } from '../src/policy/model';
import { COST_WEIGHTS, outcomeLabel } from './outcome-labels';
import { modelFileName } from './pipeline';
import { thresholdDecision } from './threshold-labels';

/** An engine under test: answers a batch of windows with ranked decisions. */
export interface Contender {
  readonly name: string;
  decide(windows: readonly Sample[]): Promise<readonly PolicyDecision[]> | readonly PolicyDecision[];
}

export interface QualityRow {
  readonly name: string;
  readonly incidents: number;
  /** Mean seconds until the SLO holds again for three steps (censored at the 10-minute horizon). */
  readonly meanTtrSeconds: number;
  readonly meanViolationSeconds: number;
  /** Share of incidents back under SLO within the horizon. */
  readonly recovered: number;
  /** Mean joules over the horizon, and relative to doing nothing. */
  readonly meanEnergyJ: number;
  readonly energyVsNoAction: number;
  readonly disruptive: number;
  readonly disruptiveShare: number;
  readonly oomKills: number;
  /** Chosen resizes that could not be applied for lack of room on the node. */
  readonly pending: number;
  readonly choices: Readonly<Partial<Record<ModelPolicy, number>>>;
  readonly byScenario: Readonly<Partial<Record<Scenario, ScenarioStats>>>;
}

export interface ScenarioStats {
  readonly incidents: number;
  readonly meanTtrSeconds: number;
  readonly meanEnergyJ: number;
  readonly disruptive: number;
}

/** Wraps a simulated window as a FeatureWindow, as the metrics adapter would deliver it. */
export function toFeatureWindow(sample: Sample): FeatureWindow {
  const ep = makeEpisode(sample.seed);
  return {
    kind: 'window',
    target: { namespace: 'sim', pod: `episode-${sample.seed}` },
    source: 'prometheus',
    end: 1_700_000_000 - (1_700_000_000 % WINDOW_STEP_SECONDS),
    stepSeconds: WINDOW_STEP_SECONDS,
    steps: WINDOW_STEPS,
    features: MODEL_FEATURES,
    values: sample.window,
    observed: sample.window.map((row) => row.map(() => true)),
    absentFeatures: [],
    quality: { realFraction: 1, stalenessSeconds: 0, freshness: 1, score: 1, coverage: 1 },
    resources: {
      cpuRequestCores: ep.cpuLimit,
      cpuLimitCores: ep.cpuLimit,
      memoryRequestBytes: ep.memLimit * 2 ** 30,
      memoryLimitBytes: ep.memLimit * 2 ** 30,
    },
  };
}

/** The top model policy of a decision; policies outside the model's seven are treated as doing nothing. */
export function topAction(decision: PolicyDecision): Action {
  for (const r of decision.ranked) {
    if ((MODEL_POLICIES as readonly string[]).includes(r.policy)) {
      return { policy: r.policy as ModelPolicy, magnitude: r.magnitude };
    }
    break;
  }
  return { policy: 'no_action', magnitude: 1 };
}

export function drawIncidents(seed: number, count: number): Sample[] {
  return generateSamples(splitSeed(seed, 'incidents'), count, { incidentsOnly: true });
}

interface Played {
  readonly outcome: Outcome;
  readonly action: Action;
  readonly baselineJ: number;
  readonly scenario: Scenario;
}

function summarise(name: string, outcomes: readonly Played[]): QualityRow {
  const n = outcomes.length;
  const mean = (f: (o: (typeof outcomes)[number]) => number): number => outcomes.reduce((a, o) => a + f(o), 0) / n;
  const choices: Partial<Record<ModelPolicy, number>> = {};
  for (const o of outcomes) choices[o.action.policy] = (choices[o.action.policy] ?? 0) + 1;
  const energy = mean((o) => o.outcome.energyJ);
  const baseline = mean((o) => o.baselineJ);
  const disruptive = outcomes.filter((o) => o.outcome.disruptive).length;
  return {
    name,
    incidents: n,
    meanTtrSeconds: mean((o) => o.outcome.ttrSteps) * WINDOW_STEP_SECONDS,
    meanViolationSeconds: mean((o) => o.outcome.violationSteps) * WINDOW_STEP_SECONDS,
    recovered: outcomes.filter((o) => o.outcome.ttrSteps < HORIZON_STEPS).length / n,
    meanEnergyJ: energy,
    energyVsNoAction: energy / baseline - 1,
    disruptive,
    disruptiveShare: disruptive / n,
    oomKills: outcomes.reduce((a, o) => a + o.outcome.ooms, 0),
    pending: outcomes.filter((o) => !o.outcome.applied).length,
    choices,
    byScenario: Object.fromEntries(
      SCENARIOS.flatMap((scenario) => {
        const own = outcomes.filter((o) => o.scenario === scenario);
        if (own.length === 0) return [];
        const avg = (f: (o: Played) => number): number => own.reduce((a, o) => a + f(o), 0) / own.length;
        const stats: ScenarioStats = {
          incidents: own.length,
          meanTtrSeconds: avg((o) => o.outcome.ttrSteps) * WINDOW_STEP_SECONDS,
          meanEnergyJ: avg((o) => o.outcome.energyJ),
          disruptive: own.filter((o) => o.outcome.disruptive).length,
        };
        return [[scenario, stats]];
      }),
    ),
  };
}

/**
 * Plays every contender's top choice on every incident; adds "no action" and, per restart price, the
 * hindsight oracle (the best policy and magnitude found by playing all of them forward).
 */
export async function compareDecisionQuality(
  incidents: readonly Sample[],
  contenders: readonly Contender[],
  oraclePrices: readonly number[] = [COST_WEIGHTS.disruption],
): Promise<QualityRow[]> {
  const episodes = incidents.map((s) => {
    const ep = makeEpisode(s.seed);
    const obs = observe(ep);
    const baseline = rollout(ep, obs.state, { policy: 'no_action', magnitude: 1 });
    return { ep, state: obs.state, baseline };
  });
  const play = (actions: readonly Action[]): Played[] =>
    actions.map((action, i) => {
      const e = episodes[i]!;
      return {
        outcome: rollout(e.ep, e.state, action),
        action,
        baselineJ: e.baseline.energyJ,
        scenario: e.ep.scenario,
      };
    });
  const rows: QualityRow[] = [
    summarise('no action', play(incidents.map(() => ({ policy: 'no_action', magnitude: 1 })))),
  ];
  for (const c of contenders) {
    const decisions = await c.decide(incidents);
    rows.push(summarise(c.name, play(decisions.map(topAction))));
  }
  for (const price of [...new Set(oraclePrices)]) {
    const weights = { ...COST_WEIGHTS, disruption: price };
    const oracle = episodes.map((e) => {
      const label = outcomeLabel(e.ep, e.state, weights);
      return { policy: label.policy, magnitude: label.magnitude };
    });
    rows.push(summarise(`oracle, restart priced ${price} steps (hindsight best)`, play(oracle)));
  }
  return rows;
}

export function costNote(prices: readonly number[]): string {
  return `outcome labels price 1 % extra energy at ${COST_WEIGHTS.energyPerRelative / 100} step and any change at ${COST_WEIGHTS.change} step; a restart at ${prices.join(' or ')} steps (1 step = 30 s out of SLO)`;
}

export function formatQualityTable(rows: readonly QualityRow[]): string {
  const header =
    '| policy engine | mean time back under SLO | violation time | recovered ≤ 10 min | energy (J) | vs no action | disruptive actions | OOM kills | pending resizes |';
  const sep = '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const lines = rows.map(
    (r) =>
      `| ${r.name} | ${r.meanTtrSeconds.toFixed(1)} s | ${r.meanViolationSeconds.toFixed(1)} s | ${(100 * r.recovered).toFixed(1)} % | ${r.meanEnergyJ.toFixed(0)} | ${signedPct(r.energyVsNoAction)} | ${r.disruptive} (${(100 * r.disruptiveShare).toFixed(1)} %) | ${r.oomKills} | ${r.pending} |`,
  );
  return [header, sep, ...lines].join('\n');
}

export function formatChoices(rows: readonly QualityRow[]): string {
  const header = `| policy engine | ${MODEL_POLICIES.join(' | ')} |`;
  const sep = `| --- |${MODEL_POLICIES.map(() => ' ---: |').join('')}`;
  const lines = rows.map((r) => `| ${r.name} | ${MODEL_POLICIES.map((p) => r.choices[p] ?? 0).join(' | ')} |`);
  return [header, sep, ...lines].join('\n');
}

/** The contenders of the decision-quality comparison, from the model files in `dir`. */
/**
 * The contenders of the comparison, from the model files in `dir`: the rules three ways, the two models, and
 * any variant trained into `dir/variants/<name>/` (e.g. another restart price).
 */
export async function standardContenders(
  dir: string,
): Promise<{ contenders: Contender[]; models: LoadedPolicyModel[]; restartPrices: number[] }> {
  const outcome = await loadPolicyModel(join(dir, modelFileName('outcome')));
  const threshold = await loadPolicyModel(join(dir, modelFileName('threshold')));
  const models = [outcome, threshold];
  const thresholds = outcome.metadata.thresholds;
  const tunedRules = ruleConfig({ energyLimitWatts: thresholds.energyHigh / outcome.metadata.stepSeconds });
  const price = (m: LoadedPolicyModel): number => m.metadata.training.costWeights.disruption;
  const contenders: Contender[] = [
    {
      name: '(a) rule policy (src/policy/rules.ts, defaults)',
      decide: (s) => s.map((x) => evaluateRules(toFeatureWindow(x))),
    },
    {
      name: '(a2) rule policy, energy limit at the training p95',
      decide: (s) => s.map((x) => evaluateRules(toFeatureWindow(x), tunedRules)),
    },
    { name: '(a3) D3.3 percentile labeller', decide: (s) => s.map((x) => thresholdDecision(x.window, thresholds)) },
    { name: '(b) model, threshold labels', decide: (s) => threshold.decideBatch(s.map((x) => x.window)) },
    {
      name: `(c) model, outcome labels (restart priced ${price(outcome)} steps)`,
      decide: (s) => outcome.decideBatch(s.map((x) => x.window)),
    },
  ];
  const variantsDir = join(dir, 'variants');
  const variants = existsSync(variantsDir) ? (await readdir(variantsDir)).sort() : [];
  for (const name of variants) {
    const path = join(variantsDir, name, modelFileName('outcome'));
    if (!existsSync(path)) continue;
    const variant = await loadPolicyModel(path);
    models.push(variant);
    contenders.push({
      name: `(c') model, outcome labels (restart priced ${price(variant)} steps; variants/${name})`,
      decide: (s) => variant.decideBatch(s.map((x) => x.window)),
    });
  }
  const restartPrices = [...new Set([COST_WEIGHTS.disruption, ...models.filter((m) => m !== threshold).map(price)])];
  return { contenders, models, restartPrices: restartPrices.sort((a, b) => a - b) };
}

/** Mean time back under SLO per hidden cause, for each engine: where the gains and losses come from. */
export function formatByScenario(rows: readonly QualityRow[]): string {
  const scenarios = SCENARIOS.filter((sc) => rows.some((r) => r.byScenario[sc]));
  const header = `| policy engine | ${scenarios.map((sc) => `${sc} (${rows[0]?.byScenario[sc]?.incidents ?? 0})`).join(' | ')} |`;
  const sep = `| --- |${scenarios.map(() => ' ---: |').join('')}`;
  const lines = rows.map(
    (r) =>
      `| ${r.name} | ${scenarios
        .map((sc) => {
          const st = r.byScenario[sc];
          return st ? `${st.meanTtrSeconds.toFixed(0)} s${st.disruptive > 0 ? ` (${st.disruptive} disr.)` : ''}` : '–';
        })
        .join(' | ')} |`,
  );
  return [header, sep, ...lines].join('\n');
}

function signedPct(x: number): string {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} %`;
}
