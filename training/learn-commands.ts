/**
 * `talon model evaluate --from-log`, `talon model retrain --from-log` and `talon model promote`: learning from
 * the decision log. The log comes from InfluxDB (Talon's configuration, as the worker writes it) or from a JSONL
 * export (`talon decisions export`); models are registry versions or .onnx files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { learningConfigFromEnv } from '../src/config/learning';
import { loadTalonConfig } from '../src/config/talon-config';
import { parseTime } from '../src/metrics/decision-export';
import { champion, readRegistry, registerModel, setChallenger, versionModelPath } from '../src/policy/model-registry';
import { loadPolicyModel } from '../src/policy/model';
import { ruleConfig } from '../src/policy/rules';
import { modelEngine } from './evaluation';
import { loadLog, type LogSource } from './log-data';
import { DEFAULT_OPE_OPTIONS, evaluateFromLog, formatOpeReport, type OpeOptions } from './off-policy';
import { gatedPromote, runGate } from './promotion';
import { DEFAULT_RETRAIN_OPTIONS, retrainFromLog } from './retrain';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function share(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number in [0, 1]');
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
}

export interface LogFlags {
  logFile?: string;
  since: string;
  until: string;
  namespace?: string;
  registry?: string;
}

export interface OpeFlags {
  minDecisions: number;
  minEss: number;
  minSupport: number;
  magnitudeTolerance: number;
  resamples: number;
}

function addLogOptions(cmd: Command): Command {
  return cmd
    .option('--log-file <jsonl>', 'read the decision log from a `talon decisions export` file instead of InfluxDB')
    .option('--since <time>', 'log start: a duration back from now (24h, 7d), an ISO time or unix seconds', '30d')
    .option('--until <time>', 'log end (same forms)', '0s')
    .option('--namespace <ns>', 'only decisions in this namespace')
    .option('--registry <dir>', 'model registry (default TALON_MODEL_REGISTRY, else models/registry)');
}

function addOpeOptions(cmd: Command, withResamples = true): Command {
  const d = DEFAULT_OPE_OPTIONS;
  cmd
    .option(
      '--min-decisions <n>',
      'claim nothing below this many usable decisions',
      positiveInt('min decisions'),
      d.minDecisions,
    )
    .option('--min-ess <n>', 'claim nothing below this effective sample size', positive, d.minEss)
    .option(
      '--min-support <share>',
      'claim nothing when the challenger’s actions are possible under the logging policy on a smaller share',
      share,
      d.minSupport,
    )
    .option(
      '--magnitude-tolerance <share>',
      'relative magnitude difference still counted as the same action',
      share,
      d.magnitudeTolerance,
    );
  return withResamples
    ? cmd.option('--resamples <n>', 'bootstrap resamples', positiveInt('resamples'), d.bootstrap.resamples ?? 2000)
    : cmd;
}

function opeOptions(f: OpeFlags): OpeOptions {
  return {
    ...DEFAULT_OPE_OPTIONS,
    minDecisions: f.minDecisions,
    minEss: f.minEss,
    minSupport: f.minSupport,
    magnitudeTolerance: f.magnitudeTolerance,
    bootstrap: { ...DEFAULT_OPE_OPTIONS.bootstrap, resamples: f.resamples },
  };
}

export function registryOf(flag: string | undefined): string {
  return flag ?? learningConfigFromEnv(process.env).registry?.dir ?? 'models/registry';
}

export function logSource(f: LogFlags): LogSource {
  const now = Date.now() / 1000;
  const range = {
    start: parseTime(f.since, now),
    stop: parseTime(f.until, now),
    ...(f.namespace ? { namespace: f.namespace } : {}),
  };
  if (f.logFile) return { file: f.logFile, ...range };
  return { influx: loadTalonConfig().influx, ...range };
}

/** A model reference: an .onnx path, a registry version, or `champion` / `challenger`. */
export async function modelPathOf(ref: string, registry: string): Promise<string> {
  if (/\.onnx$/i.test(ref)) return ref;
  if (ref === 'champion' || ref === 'challenger') {
    const state = await readRegistry(registry);
    const version = ref === 'champion' ? champion(state) : state.challenger;
    if (!version) throw new Error(`the registry ${registry} has no ${ref}`);
    return versionModelPath(registry, version);
  }
  return versionModelPath(registry, ref);
}

/** The options `talon model evaluate` gains for `--from-log` (./commands.ts adds them). */
export function addFromLogEvaluateOptions(cmd: Command): void {
  cmd
    .option('--from-log', 'off-policy evaluation of --challenger against --champion on the decision log (IPS, DR)')
    .option('--challenger <model>', 'with --from-log: a registry version, `challenger`, or an .onnx file')
    .option('--champion <model>', 'with --from-log: the reference (default: the registry champion)', 'champion');
  addLogOptions(cmd);
  // `evaluate` already has --resamples (and --json) of its own: the same meaning here.
  addOpeOptions(cmd, false);
}

export interface FromLogEvaluateFlags extends LogFlags, OpeFlags {
  challenger?: string;
  champion: string;
  json?: boolean;
}

export async function runFromLogEvaluate(flags: FromLogEvaluateFlags): Promise<void> {
  if (!flags.challenger) throw new InvalidArgumentError('--from-log needs --challenger <model>');
  const registry = registryOf(flags.registry);
  const [challengerPath, championPath] = await Promise.all([
    modelPathOf(flags.challenger, registry),
    modelPathOf(flags.champion, registry),
  ]);
  const log = await loadLog(logSource(flags));
  const [c, b] = await Promise.all([loadPolicyModel(challengerPath), loadPolicyModel(championPath)]);
  try {
    const report = await evaluateFromLog(
      log,
      modelEngine('challenger', `challenger ${c.version}`, c, ruleConfig()),
      modelEngine('champion', `champion ${b.version}`, b, ruleConfig()),
      opeOptions(flags),
    );
    out(flags.json ? JSON.stringify(report) : formatOpeReport(report));
  } finally {
    await c.close();
    await b.close();
  }
}

interface RetrainFlags extends LogFlags {
  fromLog?: boolean;
  champion: string;
  out?: string;
  register: boolean;
  shadow?: boolean;
  simSamples: number;
  validationSamples: number;
  testSamples: number;
  epochs: number;
  learningRate: number;
  logWeight: number;
  temperature: number;
  minDecisions: number;
  seed: number;
  quick?: boolean;
}

/** Options and action of `talon model retrain`. */
export function configureRetrain(cmd: Command): void {
  const d = DEFAULT_RETRAIN_OPTIONS;
  cmd
    .option('--from-log', 'fine-tune on the decision log (the only source so far; required)')
    .option('--champion <model>', 'the model fine-tuned: a registry version, `champion`, or an .onnx file', 'champion')
    .option('--out <dir>', 'also keep the new model’s files here (default: only in the registry)')
    .option('--no-register', 'do not register the new version (needs --out)')
    .option('--shadow', 'make the new version the challenger workers run in shadow')
    .option(
      '--sim-samples <n>',
      'simulated training windows rehearsed alongside the log',
      positiveInt('sim samples'),
      d.simSamples,
    )
    .option(
      '--validation-samples <n>',
      'simulated validation windows',
      positiveInt('validation samples'),
      d.validationSamples,
    )
    .option(
      '--test-samples <n>',
      'simulated test windows for the forgetting check',
      positiveInt('test samples'),
      d.testSamples,
    )
    .option('--epochs <n>', 'epochs from the champion’s weights', positiveInt('epochs'), d.epochs)
    .option('--learning-rate <x>', 'Adam learning rate', positive, d.learningRate)
    .option(
      '--log-weight <n>',
      'times each logged decision is repeated among the simulated windows',
      positiveInt('log weight'),
      d.logWeight,
    )
    .option(
      '--temperature <seconds>',
      'softness of cost → probability, in seconds of cost',
      positive,
      d.temperatureSeconds,
    )
    .option(
      '--min-decisions <n>',
      'refuse with fewer usable logged decisions',
      positiveInt('min decisions'),
      d.minDecisions,
    )
    .option('--seed <n>', 'seed of the simulated data and training', (v) => Number(v), d.seed)
    .option('--quick', 'tiny sizes (seconds; for checks and tests)');
  addLogOptions(cmd);
  cmd.action(async (flags: RetrainFlags) => {
    if (!flags.fromLog) throw new InvalidArgumentError('retrain learns from the decision log: pass --from-log');
    if (!flags.register && !flags.out) throw new InvalidArgumentError('--no-register needs --out');
    const registry = registryOf(flags.registry);
    const championPath = await modelPathOf(flags.champion, registry);
    const source = logSource(flags);
    const log = await loadLog(source);
    const dir = flags.out ?? (await mkdtemp(join(tmpdir(), 'talon-retrain-')));
    const quick = flags.quick === true;
    try {
      const r = await retrainFromLog({
        ...d,
        championPath,
        log,
        outDir: dir,
        simSamples: quick ? 300 : flags.simSamples,
        validationSamples: quick ? 100 : flags.validationSamples,
        testSamples: quick ? 200 : flags.testSamples,
        epochs: quick ? 2 : flags.epochs,
        learningRate: flags.learningRate,
        logWeight: flags.logWeight,
        temperatureSeconds: flags.temperature,
        minDecisions: flags.minDecisions,
        seed: flags.seed,
        logDescription: source.file
          ? `JSONL export ${source.file}`
          : `InfluxDB ${source.influx?.url} bucket ${source.influx?.bucket}${source.namespace ? `, namespace ${source.namespace}` : ''}`,
        progress: out,
      });
      out(
        `${r.version}: fine-tuned from ${r.parent} on ${r.usable} logged decision(s) in ${r.totalSeconds.toFixed(1)} s ` +
          `(training ${r.trainSeconds.toFixed(1)} s); simulator outcome accuracy ${(100 * r.simulatorAccuracy.champion).toFixed(1)} % → ${(100 * r.simulatorAccuracy.retrained).toFixed(1)} %`,
      );
      if (flags.register) {
        const reg = await registerModel(registry, r.modelPath, {
          card: r.card,
          provenance: r.provenance,
          by: process.env.USER ?? 'unknown',
        });
        out(`registered ${reg.version} in ${registry}${reg.champion ? ' (champion: the registry had none)' : ''}`);
        if (flags.shadow && !reg.champion) {
          await setChallenger(registry, reg.version, process.env.USER ?? 'unknown');
          out(`${reg.version} is the challenger: workers run it in shadow from their next registry read`);
        }
      }
    } finally {
      if (!flags.out) await rm(dir, { recursive: true, force: true });
    }
  });
}

interface PromoteFlags extends LogFlags, OpeFlags {
  requireLab?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** Argument, options and action of `talon model promote`. */
export function configurePromote(cmd: Command): void {
  cmd.argument('<version>', 'the registered version to promote (usually the challenger)');
  addLogOptions(cmd);
  addOpeOptions(cmd);
  cmd
    .option('--require-lab', 'refuse unless the incident-lab suite ran and passed')
    .option('--dry-run', 'run the gate, promote nothing')
    .option('--json', 'print the gate result as JSON')
    .action(async (version: string, flags: PromoteFlags) => {
      const registry = registryOf(flags.registry);
      const log = await loadLog(logSource(flags));
      const options = { ope: opeOptions(flags), requireLab: flags.requireLab === true };
      const gate = flags.dryRun
        ? await runGate(registry, version, log, options)
        : await gatedPromote(registry, version, log, options, process.env.USER ?? 'unknown');
      if (flags.json) out(JSON.stringify(gate));
      else {
        out(formatOpeReport(gate.ope));
        out(
          `incident lab: ${typeof gate.lab === 'string' ? gate.lab : `${gate.lab.passed ? 'passed' : 'failed'}: ${gate.lab.summary}`}`,
        );
        out(
          gate.promote
            ? `${flags.dryRun ? 'would promote' : 'PROMOTED'} ${version} (was ${gate.champion}); workers reload it at their next registry read`
            : `REFUSED: ${version} stays out; ${gate.champion} remains champion. ${gate.reasons.join('; ')}`,
        );
      }
      if (!gate.promote) process.exitCode = 2;
    });
}
