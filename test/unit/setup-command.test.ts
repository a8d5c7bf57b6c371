/** `talon setup` builds what the local stack runs; the test-only servers only with --all or --only. */
import { Command } from 'commander';
import { configureSetup } from '../../tools/stack/commands';
import type * as setupModule from '../../tools/stack/setup';
import { setupTools } from '../../tools/stack/setup';

jest.mock('../../tools/stack/setup', () => ({
  ...jest.requireActual<typeof setupModule>('../../tools/stack/setup'),
  setupTools: jest.fn(async () => []),
}));

async function toolsBuiltBy(...args: string[]): Promise<string[]> {
  const setup = jest.mocked(setupTools);
  setup.mockClear();
  const program = new Command('talon').exitOverride();
  configureSetup(program.command('setup'));
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'talon', 'setup', ...args]);
  } finally {
    jest.restoreAllMocks();
  }
  expect(setup).toHaveBeenCalledTimes(1);
  return setup.mock.calls[0]![0].tools.map((t) => t.name);
}

describe('talon setup', () => {
  it('builds the stack tools and skips the servers only tests use', async () => {
    const built = await toolsBuiltBy();
    expect(built).toContain('temporal');
    expect(built).toContain('kubernetes');
    expect(built).not.toContain('temporal-server');
    expect(built).not.toContain('postgresql');
  });

  it('builds the test-only servers too with --all, or any tool named with --only', async () => {
    expect(await toolsBuiltBy('--all')).toEqual(expect.arrayContaining(['temporal', 'temporal-server', 'postgresql']));
    expect(await toolsBuiltBy('--only', 'temporal-server')).toEqual(['temporal-server']);
  });
});
