/**
 * `talon model list | register | shadow | rollback`: the model registry's runtime commands, available wherever
 * Talon is installed (rollback is the emergency lever and must not need a clone). Promotion runs the gate and
 * lives with training (`talon model promote`, a development command); workers follow the pointers these move.
 */
import type { Command } from 'commander';
import { learningConfigFromEnv } from '../config/learning';
import {
  champion,
  readRegistry,
  readVersion,
  registerModel,
  rollbackChampion,
  setChallenger,
} from '../policy/model-registry';
import { CliError } from './errors';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** The registry folder: --registry, else TALON_MODEL_REGISTRY, else models/registry. */
export function registryDir(flag: string | undefined): string {
  return flag ?? learningConfigFromEnv(process.env).registry?.dir ?? 'models/registry';
}

const by = (): string => process.env.USER ?? 'unknown';

export function registerRegistryCommands(model: Command): void {
  model
    .command('list')
    .description('the registry: versions, the champion (served), the challenger (shadow), the last events')
    .option('--registry <dir>', 'registry folder (default TALON_MODEL_REGISTRY, else models/registry)')
    .action(async (flags: { registry?: string }) => {
      const dir = registryDir(flags.registry);
      const state = await readRegistry(dir);
      const versions = [...new Set(state.history.filter((e) => e.action === 'register').map((e) => e.version))];
      log(`registry ${dir}`);
      log(
        `champion:   ${champion(state) ?? '(none)'}${state.champions.length > 1 ? `  (previous: ${state.champions.at(-2)})` : ''}`,
      );
      log(`challenger: ${state.challenger ?? '(none)'}`);
      for (const v of versions) {
        const { metadata } = await readVersion(dir, v);
        log(
          `  ${v}  ${metadata.labelSet} labels, ${metadata.onnx.bytes} bytes, sha256 ${metadata.onnx.sha256.slice(0, 12)}…`,
        );
      }
      for (const e of state.history.slice(-10)) {
        log(`  ${e.at} ${e.action} ${e.version}${e.from ? ` (from ${e.from})` : ''}${e.reason ? `: ${e.reason}` : ''}`);
      }
    });

  model
    .command('register')
    .description('copy a model (ONNX + metadata) into the registry under its version; the first one becomes champion')
    .argument('<model>', 'ONNX file with its .json metadata next to it')
    .option('--registry <dir>', 'registry folder (default TALON_MODEL_REGISTRY, else models/registry)')
    .action(async (path: string, flags: { registry?: string }) => {
      const dir = registryDir(flags.registry);
      const r = await registerModel(dir, path, { by: by() });
      log(
        `${r.version}: ${r.alreadyRegistered ? 'already registered' : 'registered'} in ${dir}${r.champion ? ' (champion)' : ''}`,
      );
    });

  model
    .command('shadow')
    .description('run a version in shadow on every decision (logged, never applied); --off stops it')
    .argument('[version]', 'a registered version')
    .option('--off', 'no challenger')
    .option('--registry <dir>', 'registry folder (default TALON_MODEL_REGISTRY, else models/registry)')
    .action(async (version: string | undefined, flags: { off?: boolean; registry?: string }) => {
      if ((version === undefined) === (flags.off !== true)) throw new CliError('give a version, or --off');
      const dir = registryDir(flags.registry);
      const state = await setChallenger(dir, flags.off ? undefined : version, by());
      log(`challenger: ${state.challenger ?? '(none)'}; workers pick it up at their next registry read`);
    });

  model
    .command('rollback')
    .description('the champion goes back to the version promoted before it (workers reload without restart)')
    .option('--reason <text>', 'why, for the registry history', 'manual rollback')
    .option('--registry <dir>', 'registry folder (default TALON_MODEL_REGISTRY, else models/registry)')
    .action(async (flags: { reason: string; registry?: string }) => {
      const dir = registryDir(flags.registry);
      const before = champion(await readRegistry(dir));
      const state = await rollbackChampion(dir, flags.reason, by());
      log(`champion: ${before} → ${champion(state)}; workers pick it up at their next registry read`);
    });
}
