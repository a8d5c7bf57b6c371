/**
 * `talon model train | reexport | evaluate`: the training half of the `model` command group. The CLI lists
 * them (src/cli/model.ts) and calls these to fill them in when one is invoked, so tfjs is loaded only then.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { addFromLogEvaluateOptions, runFromLogEvaluate, type FromLogEvaluateFlags } from './learn-commands';
import { DEFAULT_REPORT_OPTIONS, runModelReport } from './model-report';
import { DEFAULT_PIPELINE_OPTIONS, runTrainPipeline } from './pipeline';
import { formatReport } from './report-format';
import { SIM_FAMILIES, simFamily, type SimFamily } from './sim-family';
import { reexportModel } from './reexport';
import { LABEL_SETS, type LabelSet } from './train';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number ≥ 0');
  return n;
}

function labelSets(value: string): LabelSet[] {
  const sets = value.split(',').map((s) => s.trim());
  for (const s of sets) {
    if (!(LABEL_SETS as readonly string[]).includes(s)) {
      throw new InvalidArgumentError(`unknown label set "${s}" (choose from ${LABEL_SETS.join(', ')})`);
    }
  }
  return sets as LabelSet[];
}

interface TrainFlags {
  out: string;
  seed: number;
  trainSamples: number;
  validationSamples: number;
  testSamples: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  temperature: number;
  labels: LabelSet[];
  disruptionCost: number;
  quick?: boolean;
}

interface EvaluateFlags extends Omit<FromLogEvaluateFlags, 'json' | 'resamples'> {
  fromLog?: boolean;
  models: string;
  incidents: number;
  seed: number;
  families: SimFamily[];
  tuningIncidents: number;
  linearSamples: number;
  resamples: number;
  json?: boolean;
}

function families(value: string): SimFamily[] {
  if (value === 'all') return [...SIM_FAMILIES];
  try {
    return value.split(',').map((f) => simFamily(f.trim()));
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

/** Options and action of `talon model train`. */
export function configureTrain(train: Command): void {
  train
    .option('--out <dir>', 'output folder', DEFAULT_PIPELINE_OPTIONS.outDir)
    .option('--seed <n>', 'dataset and training seed', nonNegativeInt, DEFAULT_PIPELINE_OPTIONS.seed)
    .option(
      '--train-samples <n>',
      'training windows',
      positiveInt('train samples'),
      DEFAULT_PIPELINE_OPTIONS.trainSamples,
    )
    .option(
      '--validation-samples <n>',
      'validation windows',
      positiveInt('validation samples'),
      DEFAULT_PIPELINE_OPTIONS.validationSamples,
    )
    .option(
      '--test-samples <n>',
      'held-out test windows',
      positiveInt('test samples'),
      DEFAULT_PIPELINE_OPTIONS.testSamples,
    )
    .option('--epochs <n>', 'epochs per model', positiveInt('epochs'), DEFAULT_PIPELINE_OPTIONS.epochs)
    .option('--batch-size <n>', 'mini-batch size', positiveInt('batch size'), DEFAULT_PIPELINE_OPTIONS.batchSize)
    .option('--learning-rate <x>', 'Adam learning rate', positiveNumber, DEFAULT_PIPELINE_OPTIONS.learningRate)
    .option(
      '--temperature <x>',
      'soft-target temperature for outcome labels (0 = one-hot)',
      nonNegativeNumber,
      DEFAULT_PIPELINE_OPTIONS.temperature,
    )
    .option('--labels <sets>', `label sets to train (${LABEL_SETS.join(',')})`, labelSets, [
      ...DEFAULT_PIPELINE_OPTIONS.labelSets,
    ])
    .option(
      '--disruption-cost <steps>',
      'price of a disruptive action in steps out of SLO, for the outcome labels',
      nonNegativeNumber,
      DEFAULT_PIPELINE_OPTIONS.disruptionCost,
    )
    .option('--quick', 'a tiny run (seconds) to check the pipeline; overrides the sizes')
    .action(async (flags: TrainFlags) => {
      const quick = flags.quick === true;
      const result = await runTrainPipeline({
        outDir: flags.out,
        seed: flags.seed,
        trainSamples: quick ? 600 : flags.trainSamples,
        validationSamples: quick ? 200 : flags.validationSamples,
        testSamples: quick ? 200 : flags.testSamples,
        epochs: quick ? 2 : flags.epochs,
        batchSize: flags.batchSize,
        learningRate: flags.learningRate,
        temperature: flags.temperature,
        labelSets: flags.labels,
        disruptionCost: flags.disruptionCost,
        log,
      });
      log('\ntest split (exported ONNX models):');
      log(
        '| model | labels scored | accuracy | precision (macro) | recall (macro) | F1 (macro) | precision (weighted) | F1 (weighted) | magnitude MAE |',
      );
      log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const m of result.models) {
        for (const labels of LABEL_SETS) {
          const r = m.test[labels];
          log(
            `| ${m.labelSet} | ${labels} | ${pct(r.accuracy)} | ${pct(r.macroPrecision)} | ${pct(r.macroRecall)} | ${pct(r.macroF1)} | ${pct(r.weightedPrecision)} | ${pct(r.weightedF1)} | ${r.magnitudeMae.toFixed(4)} |`,
          );
        }
      }
    });
}

/** Argument and action of `talon model reexport`. */
export function configureReexport(reexport: Command): void {
  reexport
    .argument('<models...>', 'ONNX files, each with its .json metadata next to it')
    .action(async (paths: string[]) => {
      for (const path of paths) {
        const r = await reexportModel(path);
        log(
          `${r.path}: ${r.before.bytes} → ${r.after.bytes} bytes, sha256 ${r.before.sha256.slice(0, 12)}… → ${r.after.sha256.slice(0, 12)}…, ` +
            `max output difference ${r.maxDifference.toExponential(2)} on ${r.windows} windows`,
        );
      }
    });
}

/** Options and action of `talon model evaluate`: the decision-quality report of bench/model.ts, without serving. */
export function configureEvaluate(evaluate: Command): void {
  const d = DEFAULT_REPORT_OPTIONS;
  evaluate
    .option('--models <dir>', 'folder with policy.onnx, policy-threshold.onnx, seeds/ and variants/', d.modelsDir)
    .option('--incidents <n>', 'SLO incidents drawn per simulator family', positiveInt('incidents'), d.incidents)
    .option('--seed <n>', 'seed of the incident sets', nonNegativeInt, d.seed)
    .option(
      '--families <names>',
      `simulator families, comma-separated, or all (${SIM_FAMILIES.map((f) => f.name).join(', ')})`,
      families,
      [...d.families],
    )
    .option(
      '--tuning-incidents <n>',
      'incidents of the rule-tuning split',
      positiveInt('tuning incidents'),
      d.tuningIncidents,
    )
    .option(
      '--linear-samples <n>',
      'training windows of the linear baseline',
      positiveInt('linear samples'),
      d.linearSamples,
    )
    .option('--resamples <n>', 'bootstrap resamples', positiveInt('resamples'), d.bootstrap.resamples ?? 2000)
    .option('--json', 'print the report as one JSON object (progress on stderr)');
  // Off-policy evaluation on the decision log instead of the simulator (./learn-commands.ts).
  addFromLogEvaluateOptions(evaluate);
  evaluate.action(async (flags: EvaluateFlags) => {
    if (flags.fromLog) {
      await runFromLogEvaluate(flags);
      return;
    }
    const json = flags.json === true;
    const report = await runModelReport({
      ...d,
      modelsDir: flags.models,
      incidents: flags.incidents,
      seed: flags.seed,
      families: flags.families,
      tuningIncidents: flags.tuningIncidents,
      linearSamples: flags.linearSamples,
      bootstrap: { ...d.bootstrap, resamples: flags.resamples },
      log: (line) => (json ? process.stderr : process.stdout).write(`  … ${line}\n`),
    });
    log(json ? JSON.stringify(report) : formatReport(report));
  });
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)} %`;
}
