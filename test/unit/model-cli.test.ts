import { Command } from 'commander';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerModelCommands } from '../../src/cli/model';
import { loadPolicyModel } from '../../src/policy/model';

jest.setTimeout(120_000);

function program(): { cmd: Command; errors: string[] } {
  const errors: string[] = [];
  const cmd = new Command('talon').exitOverride().configureOutput({
    writeErr: (s) => errors.push(s),
    writeOut: () => undefined,
  });
  registerModelCommands(cmd);
  return { cmd, errors };
}

describe('talon model', () => {
  let dir: string;
  let stdout: jest.SpyInstance;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'talon-cli-'));
  });
  beforeEach(() => {
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => stdout.mockRestore());
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects bad arguments with a clear message before doing any work', async () => {
    for (const [args, message] of [
      [['model', 'train', '--epochs', '0'], /epochs must be a positive integer/],
      [['model', 'train', '--labels', 'outcome,vibes'], /unknown label set "vibes"/],
      [['model', 'train', '--learning-rate', '-1'], /must be a positive number/],
      [['model', 'evaluate', '--incidents', 'many'], /incidents must be a positive integer/],
      [['model', 'evaluate', '--families', 'base,moon'], /unknown simulator family "moon"/],
    ] as const) {
      const { cmd, errors } = program();
      await expect(cmd.parseAsync(['node', 'talon', ...args])).rejects.toThrow();
      expect(errors.join('')).toMatch(message);
    }
  });

  it('train --quick writes a model that a worker can load, and prints progress per epoch', async () => {
    const { cmd } = program();
    await cmd.parseAsync(['node', 'talon', 'model', 'train', '--quick', '--labels', 'outcome', '--out', dir]);
    const printed = stdout.mock.calls.map((c) => String(c[0])).join('');
    expect(printed).toMatch(/\[outcome\] epoch {2}1\/2 .*val_acc/);
    expect(printed).toMatch(/\[outcome\] epoch {2}2\/2/);
    const model = await loadPolicyModel(join(dir, 'policy.onnx'));
    expect(model.metadata.training.trainSamples).toBe(600);
    await model.close();
    const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as { models: unknown[] };
    expect(metrics.models).toHaveLength(1);
  });

  it('check fails with the loader error for a missing model', async () => {
    const { cmd } = program();
    await expect(
      cmd.parseAsync(['node', 'talon', 'model', 'check', '--model', join(dir, 'nope.onnx')]),
    ).rejects.toThrow(/cannot load policy model/);
  });
});
