/**
 * The CLI's entry point and its development commands: `main()` answers, the runtime's module graph holds
 * none of tools/ or training/, every development command's code is found where the CLI looks for it, and
 * a missing one (published package) or a missing dev dependency (tfjs) is a clear error.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { CliError } from '../../src/cli/errors';
import { devCommand, loadDevExport, missingPackage, type Configure } from '../../src/cli/dev-commands';
import type * as ModelCommands from '../../src/cli/model';
import type { ConfigureMeasure } from '../../src/cli/task-taxonomy';
import { repoRoot } from '../../src/config/repo-root';
import * as labCommands from '../../tools/lab/commands';
import * as stackCommands from '../../tools/stack/commands';
import * as demo from '../../tools/stack/demo';
import * as taxonomyCommands from '../../tools/taxonomy/commands';
import * as trainingCommands from '../../training/commands';
import * as learnCommands from '../../training/learn-commands';

jest.setTimeout(120_000);

const run = promisify(execFile);

/** Each development command: where the CLI loads it from, and the function it expects (type-checked here). */
const DEV_EXPORTS: readonly { module: string; name: string; fn: Configure | ConfigureMeasure }[] = [
  { module: 'tools/stack/commands', name: 'configureSetup', fn: stackCommands.configureSetup },
  { module: 'tools/stack/commands', name: 'configureStack', fn: stackCommands.configureStack },
  { module: 'tools/stack/demo', name: 'configureDemo', fn: demo.configureDemo },
  { module: 'tools/lab/commands', name: 'configureLab', fn: labCommands.configureLab },
  { module: 'tools/taxonomy/commands', name: 'configureMeasure', fn: taxonomyCommands.configureMeasure },
  { module: 'training/commands', name: 'configureTrain', fn: trainingCommands.configureTrain },
  { module: 'training/commands', name: 'configureReexport', fn: trainingCommands.configureReexport },
  { module: 'training/commands', name: 'configureEvaluate', fn: trainingCommands.configureEvaluate },
  { module: 'training/learn-commands', name: 'configureRetrain', fn: learnCommands.configureRetrain },
  { module: 'training/learn-commands', name: 'configurePromote', fn: learnCommands.configurePromote },
];

function captured(): { program: Command; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('talon')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  return { program, out, err };
}

describe('talon entry point', () => {
  it('main() parses its argv and prints the command list (bin/talon calls it, from workers/main.ts)', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '-e', "require('./workers/main').main(['node', 'talon', '--help'])"],
      { cwd: repoRoot() },
    );
    expect(stdout).toMatch(/^Usage: talon /);
    for (const command of ['setup', 'stack', 'worker', 'webhook', 'demo', 'lab', 'taxonomy', 'model', 'status']) {
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('the CLI module graph holds nothing from tools/ or training/, nor tfjs', async () => {
    // A fresh process: what loading the CLI and building every command loads, as `talon worker` does.
    const script = [
      "require('./workers/main').buildProgram();",
      "const root = process.cwd() + '/';",
      'const files = Object.keys(require.cache).map((f) => f.replace(root, ""));',
      'process.stdout.write(JSON.stringify(files));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repoRoot() });
    const files = JSON.parse(stdout) as string[];
    expect(files).toContain('workers/services.ts');
    expect(files).toContain('workers/worker.ts');
    const offending = files.filter((f) => /^(tools|training)\/|node_modules\/@tensorflow\//.test(f));
    expect(offending).toEqual([]);
  });
});

describe('development commands', () => {
  it.each(DEV_EXPORTS)('$module exports $name where the CLI looks for it', ({ module, name, fn }) => {
    expect(loadDevExport(module, name, 'test')).toBe(fn);
  });

  it('are listed with their description and filled in when asked for help', async () => {
    const { program, out } = captured();
    devCommand(program, 'setup', 'build the tools', (cmd) => stackCommands.configureSetup(cmd));
    await expect(program.parseAsync(['node', 'talon', 'setup', '--help'])).rejects.toMatchObject({
      code: 'commander.helpDisplayed',
    });
    expect(out.join('')).toMatch(/--only <tools>/);
  });

  it('keep their option defaults when the program parses twice', async () => {
    const seen: number[] = [];
    const { program } = captured();
    devCommand(program, 'count', 'a counter', (cmd) =>
      cmd.option('--n <n>', 'how many', Number, 3).action((o: { n: number }) => void seen.push(o.n)),
    );
    await program.parseAsync(['node', 'talon', 'count', '--n', '5']);
    await program.parseAsync(['node', 'talon', 'count']);
    expect(seen).toEqual([5, 3]);
  });

  it('say they need a clone where their code is absent (the published package)', () => {
    expect(() => loadDevExport('tools/nowhere', 'configure', 'nowhere')).toThrow(CliError);
    expect(() => loadDevExport('tools/nowhere', 'configure', 'nowhere')).toThrow(
      /`talon nowhere` is a development command: it runs from a clone of the repository/,
    );
  });

  it('model train says tfjs is missing when the dev dependencies are not installed', async () => {
    jest.resetModules();
    jest.doMock('@tensorflow/tfjs-core', () => {
      throw Object.assign(new Error("Cannot find module '@tensorflow/tfjs-core' from 'training/train.ts'"), {
        code: 'MODULE_NOT_FOUND',
      });
    });
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { registerModelCommands } = require('../../src/cli/model') as typeof ModelCommands;
      const { program } = captured();
      registerModelCommands(program);
      await expect(program.parseAsync(['node', 'talon', 'model', 'train', '--quick'])).rejects.toThrow(
        /`talon model train` needs the development dependencies, and @tensorflow\/tfjs-core is not installed/,
      );
    } finally {
      jest.dontMock('@tensorflow/tfjs-core');
      jest.resetModules();
    }
  });

  it('name the missing npm package, not a missing file of ours', () => {
    const notFound = (message: string): Error => Object.assign(new Error(message), { code: 'MODULE_NOT_FOUND' });
    expect(missingPackage(notFound("Cannot find module '@tensorflow/tfjs-core/dist/x'"))).toBe('@tensorflow/tfjs-core');
    expect(missingPackage(notFound("Cannot find module 'tsx/cjs'\nRequire stack: ..."))).toBe('tsx');
    expect(missingPackage(notFound("Cannot find module './pipeline'"))).toBeUndefined();
    expect(missingPackage(new Error("Cannot find module 'tsx'"))).toBeUndefined();
  });
});
