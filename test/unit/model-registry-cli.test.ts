/**
 * `talon model register | list | shadow | rollback` (runtime commands) and the argument checks of the training
 * side's `retrain` and `promote`, through the real command tree.
 */
import { Command } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerModelCommands } from '../../src/cli/model';
import { champion, readRegistry } from '../../src/policy/model-registry';

jest.setTimeout(60_000);

function program(): { cmd: Command; errors: string[] } {
  const errors: string[] = [];
  const cmd = new Command('talon').exitOverride().configureOutput({
    writeErr: (s) => errors.push(s),
    writeOut: () => undefined,
  });
  registerModelCommands(cmd);
  return { cmd, errors };
}

describe('talon model registry commands', () => {
  let dir: string;
  let stdout: jest.SpyInstance;
  let out: string[];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'talon-registry-cli-'));
    out = [];
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
  });
  afterEach(async () => {
    stdout.mockRestore();
    await rm(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) => program().cmd.parseAsync(['node', 'talon', 'model', ...args]);

  it('register, shadow, list, and a rollback that has nothing to roll back to', async () => {
    await run('register', 'models/policy.onnx', '--registry', dir);
    await run('register', 'models/seeds/seed-2/policy.onnx', '--registry', dir);
    expect(out.join('')).toContain(`outcome-s0-n12000-e16: registered in ${dir} (champion)`);
    await run('shadow', 'outcome-s2-n12000-e16', '--registry', dir);
    expect((await readRegistry(dir)).challenger).toBe('outcome-s2-n12000-e16');
    out.length = 0;
    await run('list', '--registry', dir);
    const listed = out.join('');
    expect(listed).toContain('champion:   outcome-s0-n12000-e16');
    expect(listed).toContain('challenger: outcome-s2-n12000-e16');
    expect(listed).toMatch(/outcome-s2-n12000-e16 {2}outcome labels, \d+ bytes/);
    await expect(run('rollback', '--registry', dir)).rejects.toThrow(/only champion so far/);
    await run('shadow', '--off', '--registry', dir);
    expect((await readRegistry(dir)).challenger).toBeUndefined();
    expect(champion(await readRegistry(dir))).toBe('outcome-s0-n12000-e16');
  });

  it('checks arguments before doing any work', async () => {
    for (const [args, message] of [
      [['shadow', '--registry', dir], /give a version, or --off/],
      [['retrain', '--registry', dir], /pass --from-log/],
      [['retrain', '--from-log', '--no-register', '--registry', dir], /--no-register needs --out/],
      [['retrain', '--from-log', '--epochs', '0'], /epochs must be a positive integer/],
      [['promote', 'v1', '--min-support', '2'], /must be a number in \[0, 1\]/],
      [['evaluate', '--from-log', '--registry', dir], /--from-log needs --challenger/],
    ] as const) {
      const { cmd, errors } = program();
      // Option errors go through commander's error output; an action's own checks reject with the message.
      const rejected = await cmd.parseAsync(['node', 'talon', 'model', ...args]).then(
        () => 'resolved',
        (e: Error) => e.message,
      );
      expect(rejected).not.toBe('resolved');
      expect(`${errors.join('')} ${rejected}`).toMatch(message);
    }
  });
});
