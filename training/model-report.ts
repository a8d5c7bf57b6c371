/**
 * The whole decision-quality report: the engines (default rules, rules tuned on their own seed, the linear
 * last-step learner, the models in models/ including other training seeds and variants) on every simulator
 * family, scored through the worker's policy engine and the workflow's choice function, on the incidents
 * Talon's alert rules catch, with paired bootstrap intervals on the differences. Plain data, for the bench's
 * markdown and `--json`.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scenario } from './cluster';
import { loadPolicyModel, type LoadedPolicyModel } from '../src/policy/model';
import { DEFAULT_RULE_CONFIG, type RuleConfig } from '../src/policy/rules';
import { ruleReadings, type RuleReading } from './alerting';
import type { BootstrapOptions } from './bootstrap';
import { generateSamples, splitSeed, type Sample } from './dataset';
import {
  catchTable,
  difference,
  drawEvalIncidents,
  modelEngine,
  playEngine,
  playNoAction,
  playOracle,
  podAlertLater,
  rulesEngine,
  summarise,
  type Difference,
  type Engine,
  type EngineSummary,
  type EvalIncident,
  type Played,
} from './evaluation';
import { COST_WEIGHTS, type CostWeights } from './outcome-labels';
import { modelFileName, SERVED_RESTART_PRICE } from './pipeline';
import { tuneRules, type TunedRules } from './rule-tuning';
import { BASE_FAMILY, SIM_FAMILIES, type SimFamily } from './sim-family';
import { linearPolicyModel, trainLinearPolicy } from './simple-learner';

export interface ReportOptions {
  readonly modelsDir: string;
  /** Seed of the evaluation incidents (the old benchmark's `--seed`). */
  readonly seed: number;
  /** SLO incidents drawn per family (caught and not). */
  readonly incidents: number;
  readonly families: readonly SimFamily[];
  /** Seed and size of the rule-tuning set (its own split, never evaluated on). */
  readonly tuningSeed: number;
  readonly tuningIncidents: number;
  /** Training windows of the linear learner (the served model's training split, from its seed). */
  readonly linearSamples: number;
  readonly bootstrap: BootstrapOptions;
  readonly log: (line: string) => void;
}

export const DEFAULT_REPORT_OPTIONS: Omit<ReportOptions, 'log'> = {
  modelsDir: 'models',
  seed: 0,
  incidents: 1000,
  families: SIM_FAMILIES,
  tuningSeed: 0,
  tuningIncidents: 1500,
  linearSamples: 12_000,
  bootstrap: { resamples: 2000, level: 0.95, seed: 1 },
};

export interface EngineRow extends EngineSummary {
  /** Mean time back under SLO per hidden cause. */
  readonly ttrByScenario: Readonly<Partial<Record<Scenario, number>>>;
}

export interface Section {
  readonly engines: readonly EngineRow[];
  readonly differences: readonly Difference[];
}

export interface FamilyReport {
  readonly family: string;
  readonly description: string;
  readonly drawn: number;
  readonly catchTable: Record<string, Partial<Record<Scenario, number>>>;
  /** Uncaught at the decision, a pod rule would fire within the horizon under no action. */
  readonly uncaughtFiringLater: number;
  readonly caught: Section;
  /** Scored under the hypothetical SLO alert (no resource label): Talon ships no rule that would start these. */
  readonly uncaught: Section;
}

export interface ModelReport {
  readonly settings: Omit<ReportOptions, 'log' | 'families'> & { readonly families: readonly string[] };
  readonly costWeights: CostWeights;
  readonly rules: readonly RuleReading[];
  readonly tuning: TunedRules & { readonly seconds: number };
  readonly linear: { readonly samples: number; readonly loss: number; readonly seconds: number };
  readonly engines: readonly { readonly name: string; readonly label: string }[];
  readonly families: readonly FamilyReport[];
}

/** Which engine each engine is compared with (every comparison gets its interval). */
export function comparisons(names: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const n of names) if (n !== 'rules') out.push([n, 'rules']);
  for (const n of names.filter((x) => x === 'model' || x.startsWith('model_seed'))) {
    for (const ref of ['rules_tuned', 'linear']) if (names.includes(ref)) out.push([n, ref]);
  }
  return out;
}

function byScenario(incidents: readonly EvalIncident[], played: readonly Played[]): Partial<Record<Scenario, number>> {
  const sums: Partial<Record<Scenario, [number, number]>> = {};
  incidents.forEach((inc, i) => {
    const s = (sums[inc.episode.scenario] ??= [0, 0]);
    s[0] += (played[i]?.outcome.ttrSteps ?? 0) * 30;
    s[1] += 1;
  });
  return Object.fromEntries(Object.entries(sums).map(([k, [sum, n]]) => [k, sum / n]));
}

async function section(
  incidents: readonly EvalIncident[],
  engines: readonly Engine[],
  weights: CostWeights,
  bootstrap: BootstrapOptions,
  oracle: boolean,
): Promise<Section> {
  if (incidents.length === 0) return { engines: [], differences: [] };
  const runs = new Map<string, { label: string; played: Played[] }>();
  runs.set('no_action', { label: 'no remediation (reference)', played: playNoAction(incidents, weights) });
  for (const e of engines) runs.set(e.name, { label: e.label, played: await playEngine(e, incidents, weights) });
  if (oracle) {
    runs.set('oracle', {
      label: `hindsight best of the workflow's choices (restart ${weights.disruption} steps)`,
      played: playOracle(incidents, weights),
    });
  }
  const rows = [...runs].map(([name, r]) => ({
    ...summarise(name, r.label, r.played),
    ttrByScenario: byScenario(incidents, r.played),
  }));
  const differences = comparisons([...runs.keys()]).flatMap(([a, b]) => {
    const ra = runs.get(a);
    const rb = runs.get(b);
    return ra && rb ? [difference(a, ra.played, b, rb.played, bootstrap)] : [];
  });
  return { engines: rows, differences };
}

/** Loads models/policy-threshold.onnx, policy.onnx, seeds/<name>/policy.onnx and variants/<name>/policy.onnx. */
async function loadModels(dir: string): Promise<{ name: string; label: string; model: LoadedPolicyModel }[]> {
  const out: { name: string; label: string; model: LoadedPolicyModel }[] = [];
  const add = async (name: string, label: string, path: string): Promise<void> => {
    if (existsSync(path)) out.push({ name, label, model: await loadPolicyModel(path) });
  };
  await add('model_threshold', 'model trained on threshold labels', join(dir, modelFileName('threshold')));
  await add('model', 'served model (outcome labels, seed 0)', join(dir, modelFileName('outcome')));
  for (const group of ['seeds', 'variants'] as const) {
    const root = join(dir, group);
    const names = existsSync(root) ? (await readdir(root)).sort() : [];
    for (const n of names) {
      const path = join(root, n, modelFileName('outcome'));
      const name = group === 'seeds' ? `model_${n.replace(/-/g, '')}` : `variant_${n.replace(/-/g, '_')}`;
      await add(name, `${group}/${n}`, path);
    }
  }
  if (!out.some((m) => m.name === 'model'))
    throw new Error(`no served model at ${join(dir, modelFileName('outcome'))}`);
  return out;
}

/** The served model's training split at its prices: what the linear learner is trained on. */
export function servedTrainingSamples(model: LoadedPolicyModel, count: number): Sample[] {
  const t = model.metadata.training;
  return generateSamples(splitSeed(t.seed, 'train'), count, { costWeights: t.costWeights });
}

/** Runs the report; `trainSamples` (servedTrainingSamples) may be passed in when the caller already has them. */
export async function runModelReport(options: ReportOptions, trainSamples?: readonly Sample[]): Promise<ModelReport> {
  const { log } = options;
  const weights: CostWeights = { ...COST_WEIGHTS, disruption: SERVED_RESTART_PRICE };
  const models = await loadModels(options.modelsDir);
  try {
    const served = models.find((m) => m.name === 'model')!.model;
    let started = Date.now();
    const tuningSet = drawEvalIncidents(BASE_FAMILY, options.tuningSeed, options.tuningIncidents, 'tuning');
    const tuned = tuneRules(tuningSet, weights);
    const tuning = { ...tuned, seconds: (Date.now() - started) / 1000 };
    log(
      `rules tuned on ${tuned.incidents} caught tuning incidents, ${tuned.points} grid points, ${tuning.seconds.toFixed(0)} s`,
    );

    started = Date.now();
    const samples = trainSamples ?? servedTrainingSamples(served, options.linearSamples);
    const linearPolicy = trainLinearPolicy(samples);
    const linear = { samples: samples.length, loss: linearPolicy.loss, seconds: (Date.now() - started) / 1000 };
    log(
      `linear learner trained on ${samples.length} windows in ${linear.seconds.toFixed(0)} s (loss ${linear.loss.toFixed(3)})`,
    );

    const fallback: RuleConfig = DEFAULT_RULE_CONFIG;
    const engines: Engine[] = [
      rulesEngine('rules', 'rule policy, defaults (src/policy/rules.ts)', DEFAULT_RULE_CONFIG),
      rulesEngine('rules_tuned', 'rule policy, grid-tuned on the tuning seed', tuned.config),
      modelEngine('linear', 'logistic regression on the last step', linearPolicyModel(linearPolicy), fallback),
      ...models.map((m) => modelEngine(m.name, m.label, m.model, fallback)),
    ];

    const families: FamilyReport[] = [];
    for (const family of options.families) {
      started = Date.now();
      const incidents = drawEvalIncidents(family, options.seed, options.incidents);
      const caught = incidents.filter((i) => i.caught.kind === 'pod');
      const uncaught = incidents.filter((i) => i.caught.kind !== 'pod');
      const rules = ruleReadings();
      families.push({
        family: family.name,
        description: family.description,
        drawn: incidents.length,
        catchTable: catchTable(incidents),
        uncaughtFiringLater: uncaught.filter((i) => podAlertLater(i, rules) !== undefined).length,
        caught: await section(caught, engines, weights, options.bootstrap, true),
        uncaught: await section(uncaught, engines, weights, options.bootstrap, false),
      });
      log(
        `family ${family.name}: ${caught.length}/${incidents.length} caught, ${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
    }
    const settings: ModelReport['settings'] = {
      modelsDir: options.modelsDir,
      seed: options.seed,
      incidents: options.incidents,
      tuningSeed: options.tuningSeed,
      tuningIncidents: options.tuningIncidents,
      linearSamples: options.linearSamples,
      bootstrap: options.bootstrap,
      families: options.families.map((f) => f.name),
    };
    return {
      settings,
      costWeights: weights,
      rules: ruleReadings(),
      tuning,
      linear,
      engines: engines.map((e) => ({ name: e.name, label: e.label })),
      families,
    };
  } finally {
    await Promise.all(models.map((m) => m.model.close()));
  }
}
