/**
 * `talon model …`: check, train and evaluate the learned policy model. `check` loads a model the way a
 * worker does (runtime code); `train`, `reexport` and `evaluate` live in training/ and load tfjs, a dev
 * dependency, so they are loaded only when invoked (./dev-commands).
 */
import type { Command } from 'commander';
import { loadPolicyModel } from '../policy/model';
import { devCommand, loadDevExport, type Configure } from './dev-commands';
import { registerRegistryCommands } from './model-registry-commands';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** The outcome-labelled model `talon model train` writes, and the worker's default TALON_MODEL_PATH. */
const DEFAULT_MODEL_PATH = 'models/policy.onnx';

export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('the learned policy model (train, check, evaluate)');
  const training = (exportName: string, command: string): Configure =>
    loadDevExport<Configure>('training/commands', exportName, `model ${command}`);

  devCommand(
    model,
    'train',
    'generate simulated telemetry, train on threshold and outcome labels, export ONNX to models/',
    (cmd) => training('configureTrain', 'train')(cmd),
  );

  model
    .command('check')
    .description('load and validate a model file the way a worker does; print its metadata and load time')
    .option('--model <path>', 'ONNX file', DEFAULT_MODEL_PATH)
    .action(async (flags: { model: string }) => {
      const loaded = await loadPolicyModel(flags.model);
      try {
        const m = loaded.metadata;
        log(
          `${flags.model}: ${m.modelVersion}, ${m.labelSet} labels, ${loaded.fileBytes} bytes, loaded and validated in ${loaded.loadMs.toFixed(1)} ms`,
        );
        log(`features: ${m.features.join(', ')} × ${m.steps} steps of ${m.stepSeconds} s`);
        log(`policies: ${m.policies.join(', ')}`);
      } finally {
        await loaded.close();
      }
    });

  devCommand(
    model,
    'reexport',
    'rewrite model files with the current exporter from their own weights (no retraining)',
    (cmd) => training('configureReexport', 'reexport')(cmd),
  );

  devCommand(
    model,
    'evaluate',
    'decision quality on held-out simulated incidents (rules vs the models), or --from-log: off-policy on the decision log',
    (cmd) => training('configureEvaluate', 'evaluate')(cmd),
  );

  // Learning from real outcomes: the registry's runtime commands, and the training-side retrain and gated promote.
  registerRegistryCommands(model);
  const learning = (exportName: string, command: string): Configure =>
    loadDevExport<Configure>('training/learn-commands', exportName, `model ${command}`);
  devCommand(
    model,
    'retrain',
    'fine-tune the champion on the decision log (--from-log) plus simulator data; register the new version',
    (cmd) => learning('configureRetrain', 'retrain')(cmd),
  );
  devCommand(
    model,
    'promote',
    'make a version the champion if the gate passes (off-policy better, no new harmful action, lab when available)',
    (cmd) => learning('configurePromote', 'promote')(cmd),
  );
}
