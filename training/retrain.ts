/**
 * `talon model retrain --from-log`: fine-tunes the champion on logged outcomes, rehearsing simulator data so it
 * does not forget what the log never shows, and writes a new versioned ONNX model with its metadata, card and
 * provenance. The log gives bandit feedback (one action's cost per decision), so the targets move only what the
 * log has evidence about: on each logged window, the champion's probability mass on the workflow's candidates
 * that the log has tried often enough is redistributed by estimated cost (the observed cost for the action
 * taken, the reward model's for the others: softmax(−cost / τ)); every other policy keeps the champion's
 * probability, and magnitudes are distilled from the champion except where the logged one resolved the alert.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alertOfContext, type JoinedDecision } from '../src/domain/decision-log';
import { relevantToAlert, POD_POLICIES } from '../src/domain/escalation';
import { MODEL_FEATURES, WINDOW_STEPS } from '../src/domain/features';
import { MODEL_POLICIES, type ModelPolicy } from '../src/domain/policy';
import { ModelTrainingError } from '../src/policy/errors';
import { prepareWindow } from '../src/policy/model';
import { metadataPathFor, modelMetadataSchema, type ModelMetadata } from '../src/policy/model-metadata';
import { generateSamples, splitSeed, withThresholdLabels } from './dataset';
import { stableJson } from './json';
import { featureWindowOfLog, usableDecisions, type UsableDecision } from './log-data';
import { MAGNITUDE_SPAN, predict } from './network';
import { importOnnx } from './onnx-export';
import { evaluateModelFile, saveModel } from './pipeline';
import { fitRewardModel } from './reward-model';
import { makeTargets, toUnit, trainNetwork, type EpochReport, type Targets } from './train';
import { mixSeed } from './rng';

export interface RetrainOptions {
  /** The model fine-tuned (the champion): ONNX with its metadata next to it. */
  readonly championPath: string;
  readonly log: readonly JoinedDecision[];
  /** Where the new policy.onnx, policy.json, MODEL_CARD.md and provenance.json go. */
  readonly outDir: string;
  readonly simSamples: number;
  readonly validationSamples: number;
  /** Simulated windows the new and the old model are both scored on (a forgetting check). */
  readonly testSamples: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  /** How many times each logged decision is repeated among the simulated windows. */
  readonly logWeight: number;
  /** Softness of the cost → probability mapping, seconds of cost. */
  readonly temperatureSeconds: number;
  /** A policy needs this many logged decisions before the log may move its probability. */
  readonly minPolicySamples: number;
  /** Refuse to retrain on fewer usable decisions than this. */
  readonly minDecisions: number;
  /** Describes where the log came from, for the card. */
  readonly logDescription: string;
  readonly progress?: (line: string) => void;
}

export const DEFAULT_RETRAIN_OPTIONS: Omit<RetrainOptions, 'championPath' | 'log' | 'outDir' | 'logDescription'> = {
  simSamples: 3000,
  validationSamples: 600,
  testSamples: 1000,
  epochs: 6,
  batchSize: 128,
  learningRate: 3e-4,
  seed: 0,
  logWeight: 4,
  temperatureSeconds: 60,
  minPolicySamples: 3,
  minDecisions: 10,
};

export interface RetrainResult {
  readonly modelPath: string;
  readonly version: string;
  readonly parent: string;
  readonly usable: number;
  readonly excluded: Readonly<Record<string, number>>;
  /** Logged decisions per policy taken, with their mean cost. */
  readonly perPolicy: Readonly<Record<string, { count: number; meanCost: number }>>;
  /** Logged windows on which the log moved the target away from the champion's distribution. */
  readonly shifted: number;
  readonly bestEpoch: number;
  readonly history: readonly EpochReport[];
  readonly trainSeconds: number;
  readonly totalSeconds: number;
  /** Outcome-label accuracy on simulated test windows, before (champion) and after. */
  readonly simulatorAccuracy: { readonly champion: number; readonly retrained: number };
  readonly card: string;
  readonly provenance: Provenance;
}

export interface Provenance {
  readonly parent: { readonly version: string; readonly sha256: string };
  readonly log: {
    readonly description: string;
    readonly decisions: number;
    readonly usable: number;
    readonly first?: string;
    readonly last?: string;
    readonly digest: string;
  };
  readonly options: Omit<RetrainOptions, 'championPath' | 'log' | 'outDir' | 'progress'>;
  readonly trainedAt: string;
}

const P = MODEL_POLICIES.length;
const isModelPolicy = (p: string): p is ModelPolicy => (MODEL_POLICIES as readonly string[]).includes(p);

/** A version name for a fine-tuned model: its lineage's root plus a digest of what it was trained on. */
export function fineTunedVersion(parent: string, digest: string): string {
  const root = parent.replace(/\+ft-[0-9a-f]+$/, '');
  return `${root}+ft-${digest.slice(0, 10)}`;
}

function concatTargets(parts: readonly Targets[]): Targets {
  const cat = (
    pick: (t: Targets) => Float32Array | Int32Array,
    Kind: Float32ArrayConstructor | Int32ArrayConstructor,
  ) => {
    const total = parts.reduce((s, t) => s + pick(t).length, 0);
    const out = new Kind(total);
    let at = 0;
    for (const t of parts) {
      out.set(pick(t), at);
      at += pick(t).length;
    }
    return out;
  };
  return {
    windows: parts.flatMap((t) => t.windows),
    distribution: cat((t) => t.distribution, Float32Array) as Float32Array,
    labels: cat((t) => t.labels, Int32Array) as Int32Array,
    labelMagnitudes: cat((t) => t.labelMagnitudes, Float32Array) as Float32Array,
    magnitudeUnit: cat((t) => t.magnitudeUnit, Float32Array) as Float32Array,
    magnitudeMask: cat((t) => t.magnitudeMask, Float32Array) as Float32Array,
  };
}

/** The serving input of a logged window (imputed as the server imputes), as rows. */
function servedWindow(j: JoinedDecision, trainingMean: readonly number[]): number[][] {
  const { values } = prepareWindow(featureWindowOfLog(j), trainingMean);
  const F = MODEL_FEATURES.length;
  return Array.from({ length: WINDOW_STEPS }, (_, t) => Array.from(values.subarray(t * F, (t + 1) * F)));
}

export interface LogTargets {
  readonly targets: Targets;
  readonly shifted: number;
}

/**
 * Targets from logged decisions (see the module comment). `champion` gives the champion's probabilities and
 * magnitudes per window, [n × P] each, in MODEL_POLICIES order.
 */
export function logTargets(
  rows: readonly UsableDecision[],
  windows: readonly number[][][],
  champion: { probabilities: Float32Array; magnitudes: Float32Array },
  options: Pick<RetrainOptions, 'temperatureSeconds' | 'minPolicySamples'>,
): LogTargets {
  const n = rows.length;
  const model = fitRewardModel(rows.map((u, i) => ({ values: windows[i]!, action: u.action, cost: u.cost })));
  const distribution = new Float32Array(n * P);
  const labels = new Int32Array(n);
  const labelMagnitudes = new Float32Array(n);
  const magnitudeUnit = new Float32Array(n * P);
  const magnitudeMask = new Float32Array(n * P);
  let shifted = 0;
  rows.forEach((u, i) => {
    const context = u.joined.decision.context!;
    const alert = alertOfContext(context);
    const tried = new Set(context.tried);
    const probs = Array.from(champion.probabilities.subarray(i * P, (i + 1) * P));
    const mags = Array.from(champion.magnitudes.subarray(i * P, (i + 1) * P));
    // Candidates the workflow could take here, that the log has tried often enough to say something about.
    const ranked = MODEL_POLICIES.map((policy, p) => ({ policy, score: probs[p]!, magnitude: mags[p]!, reason: '' }));
    const candidates = relevantToAlert(ranked, alert)
      .filter((r) => r.policy !== 'no_action' && POD_POLICIES.has(r.policy) && !tried.has(r.policy))
      .filter((r) => (model.counts[r.policy] ?? 0) >= options.minPolicySamples || r.policy === u.action.policy)
      .map((r) => MODEL_POLICIES.indexOf(r.policy as ModelPolicy));
    const target = [...probs];
    if (candidates.length > 1) {
      const costs = candidates.map((p) =>
        MODEL_POLICIES[p] === u.action.policy
          ? u.cost
          : model.predict(windows[i]!, { policy: MODEL_POLICIES[p]!, magnitude: mags[p]! }),
      );
      const best = Math.min(...costs);
      const e = costs.map((c) => Math.exp(-(c - best) / options.temperatureSeconds));
      const total = e.reduce((a, b) => a + b, 0);
      const mass = candidates.reduce((s, p) => s + probs[p]!, 0);
      candidates.forEach((p, k) => (target[p] = (mass * e[k]!) / total));
      const top = (xs: number[]) => xs.indexOf(Math.max(...xs));
      if (top(target) !== top(probs)) shifted++;
    }
    const sum = target.reduce((a, b) => a + b, 0);
    target.forEach((v, p) => (distribution[i * P + p] = v / sum));
    const label = target.indexOf(Math.max(...target));
    labels[i] = label;
    const resolvedHere = u.joined.resolved && !u.joined.refired && !u.joined.rolledBack;
    mags.forEach((m, p) => {
      const magnitude = resolvedHere && MODEL_POLICIES[p] === u.action.policy ? u.action.magnitude : m;
      magnitudeUnit[i * P + p] = toUnit(p, magnitude);
      magnitudeMask[i * P + p] = (MAGNITUDE_SPAN[p] ?? 0) > 0 ? 1 : 0;
    });
    labelMagnitudes[i] = mags[label] ?? 1;
  });
  return { targets: { windows, distribution, labels, labelMagnitudes, magnitudeUnit, magnitudeMask }, shifted };
}

async function readChampion(path: string): Promise<{ metadata: ModelMetadata; bytes: Uint8Array; sha256: string }> {
  const metadata = modelMetadataSchema.parse(JSON.parse(await readFile(metadataPathFor(path), 'utf8')));
  const bytes = new Uint8Array(await readFile(path));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== metadata.onnx.sha256) throw new ModelTrainingError(`${path} does not match its metadata's checksum`);
  return { metadata, bytes, sha256 };
}

export async function retrainFromLog(options: RetrainOptions): Promise<RetrainResult> {
  const started = Date.now();
  const say = options.progress ?? (() => undefined);
  const champion = await readChampion(options.championPath);
  const { usable: all, excluded } = usableDecisions(options.log);
  const rows = all.filter((u) => isModelPolicy(u.action.policy));
  const notModel = all.length - rows.length;
  if (notModel > 0) excluded['action outside the model’s policies'] = notModel;
  if (rows.length < options.minDecisions) {
    throw new ModelTrainingError(
      `only ${rows.length} usable logged decision(s) (at least ${options.minDecisions} needed); excluded: ${JSON.stringify(excluded)}`,
    );
  }
  const digest = createHash('sha256')
    .update(champion.sha256)
    .update(
      stableJson(
        rows.map((u) => [u.joined.decision.workflowId, u.joined.decision.runId, u.joined.decision.decisionId, u.cost]),
      ),
    )
    .update(stableJson({ ...options, log: undefined, progress: undefined, championPath: undefined, outDir: undefined }))
    .digest('hex');
  const version = fineTunedVersion(champion.metadata.modelVersion, digest);

  const { weights, norm } = importOnnx(champion.bytes);
  const windows = rows.map((u) => servedWindow(u.joined, champion.metadata.normalisation.mean));
  const before = await predict(weights, norm, windows);
  const fromLog = logTargets(rows, windows, before, options);
  say(`${rows.length} logged decision(s) usable; the log moves the champion's top choice on ${fromLog.shifted}`);

  const costWeights = champion.metadata.training.costWeights;
  const temperature = champion.metadata.training.softTargetTemperature;
  const sim = (split: 'train' | 'validation' | 'test', count: number) =>
    withThresholdLabels(
      generateSamples(mixSeed(splitSeed(options.seed, split), 0x10c), count, { costWeights }),
      champion.metadata.thresholds,
    );
  const simTrain = sim('train', options.simSamples);
  const simValidation = sim('validation', options.validationSamples);
  const repeated = Array.from({ length: options.logWeight }, () => fromLog.targets);
  const train = concatTargets([makeTargets(simTrain, 'outcome', temperature), ...repeated]);
  const validation = concatTargets([makeTargets(simValidation, 'outcome', temperature), fromLog.targets]);
  say(
    `fine-tuning ${champion.metadata.modelVersion} on ${train.windows.length} windows (${options.simSamples} simulated + ${rows.length} logged × ${options.logWeight})`,
  );
  const trainStarted = Date.now();
  const result = await trainNetwork(train, validation, norm, {
    epochs: options.epochs,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    seed: options.seed + 7,
    magnitudeWeight: 5,
    initialWeights: weights,
    onEpoch: (e) =>
      say(
        `  epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}  val_loss ${e.valLoss.toFixed(4)}  ${e.seconds.toFixed(1)} s${e.best ? '  *' : ''}`,
      ),
  });
  const trainSeconds = (Date.now() - trainStarted) / 1000;

  const modelPath = await saveModel(
    options.outDir,
    'outcome',
    result.weights,
    norm,
    champion.metadata.thresholds,
    {
      seed: options.seed,
      trainSamples: train.windows.length,
      validationSamples: validation.windows.length,
      epochs: options.epochs,
      bestEpoch: result.bestEpoch,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      softTargetTemperature: temperature,
      costWeights,
    },
    'policy.onnx',
    version,
  );
  const test = sim('test', options.testSamples);
  const [was, now] = await Promise.all([
    evaluateModelFile(options.championPath, test),
    evaluateModelFile(modelPath, test),
  ]);
  const perPolicy: Record<string, { count: number; meanCost: number }> = {};
  for (const u of rows) {
    const e = (perPolicy[u.action.policy] ??= { count: 0, meanCost: 0 });
    e.meanCost = (e.meanCost * e.count + u.cost) / (e.count + 1);
    e.count++;
  }
  const times = rows.map((u) => u.joined.decision.at).sort((a, b) => a - b);
  const { log: _l, progress: _p, championPath: _c, outDir: _o, ...shownOptions } = options;
  const provenance: Provenance = {
    parent: { version: champion.metadata.modelVersion, sha256: champion.sha256 },
    log: {
      description: options.logDescription,
      decisions: options.log.length,
      usable: rows.length,
      ...(times.length > 0
        ? { first: new Date(times[0]!).toISOString(), last: new Date(times.at(-1)!).toISOString() }
        : {}),
      digest,
    },
    options: shownOptions,
    trainedAt: new Date().toISOString(),
  };
  const partial = {
    modelPath,
    version,
    parent: champion.metadata.modelVersion,
    usable: rows.length,
    excluded,
    perPolicy,
    shifted: fromLog.shifted,
    bestEpoch: result.bestEpoch,
    history: result.history,
    trainSeconds,
    totalSeconds: (Date.now() - started) / 1000,
    simulatorAccuracy: { champion: was.test.outcome.accuracy, retrained: now.test.outcome.accuracy },
    provenance,
  };
  const card = retrainedCard(partial, options);
  await writeFile(join(options.outDir, 'MODEL_CARD.md'), card);
  await writeFile(join(options.outDir, 'provenance.json'), stableJson(provenance));
  return { ...partial, card };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

export function retrainedCard(r: Omit<RetrainResult, 'card'>, o: RetrainOptions): string {
  const rows = Object.entries(r.perPolicy)
    .sort((a, b) => b[1].count - a[1].count)
    .map(([p, e]) => `| ${p} | ${e.count} | ${e.meanCost.toFixed(1)} s |`);
  return `# Talon policy model ${r.version} — model card

Fine-tuned from \`${r.parent}\` (sha256 ${r.provenance.parent.sha256.slice(0, 12)}…) by \`talon model retrain --from-log\`
on ${r.provenance.trainedAt}. It is a **challenger**: it serves nothing until \`talon model promote\` passes its gate
(off-policy estimate better than the champion's, no new harmful action; the incident lab once it exists).

## Data

- **Decision log**: ${r.provenance.log.description}; ${r.provenance.log.decisions} logged decision(s), ${r.usable} usable
  (applied, ended, with the workflow's context and choice)${r.provenance.log.first ? `, ${r.provenance.log.first} → ${r.provenance.log.last}` : ''}.
  Excluded: ${
    Object.entries(r.excluded)
      .map(([k, v]) => `${v} ${k}`)
      .join('; ') || 'none'
  }. Log digest ${r.provenance.log.digest.slice(0, 16)}.

| action taken | decisions | mean cost |
| --- | ---: | ---: |
${rows.join('\n')}

  Cost = seconds out of SLO (until resolved, or until the next attempt; never resolved = 600 s) + 300 s for a
  re-fire within an hour + 600 s for a rollback + 120 s for a disruptive action + 300 s per +100 % energy.
- **Simulator rehearsal**: ${o.simSamples} training and ${o.validationSamples} validation windows of the training family
  (seed ${o.seed}), outcome labels at the parent's prices, so the model keeps what the log never shows.

## Training

Targets on logged windows: the parent's probability mass on the workflow's candidates that the log tried at least
${o.minPolicySamples} times is redistributed by softmax(−cost / ${o.temperatureSeconds} s), the cost of the action taken being the
observed one and the others' the reward model's (ridge regression on window summaries); other policies keep the
parent's probability; magnitudes are the parent's except where the logged action resolved the alert. The log moved
the parent's top choice on ${r.shifted} of ${r.usable} logged windows. Each logged window counts ×${o.logWeight}.
Adam ${o.learningRate}, batch ${o.batchSize}, ${o.epochs} epochs from the parent's weights (best epoch ${r.bestEpoch}),
${r.trainSeconds.toFixed(1)} s of training, ${r.totalSeconds.toFixed(1)} s in all.

## Checks

- Outcome-label accuracy on ${o.testSamples} simulated test windows: parent ${pct(r.simulatorAccuracy.champion)}, this model
  ${pct(r.simulatorAccuracy.retrained)} (a large drop means the log pulled it away from what the simulator teaches).
- Decision quality is judged by \`talon model evaluate --from-log --challenger ${r.version}\`, through the workflow's own
  choice function on the logged windows.

## Limits

- The log only says what happened after the actions that were taken. Without exploration (\`TALON_EXPLORE_NAMESPACES\`)
  a policy the champion never takes cannot gain probability from the log, and the off-policy evaluation refuses to
  claim anything about a challenger that takes it.
- Costs are what the log can observe on this cluster: an alert that resolves because the pod was replaced counts as
  resolved unless the workload fires again within the hour.
- Small logs make noisy targets; the gate, not this card, decides whether the model is better.
`;
}
