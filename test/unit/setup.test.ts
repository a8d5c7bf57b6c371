import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectTool, parseManifest, recipeHash, setupTools, toolDir } from '../../tools/stack/setup';
import { findTool, renderKubernetesWrapperGoMod, STACK_TOOLS, TOOLS, type ToolSpec } from '../../tools/stack/tools';
import { ToolSetupError } from '../../tools/stack/errors';

/** A tool whose "build" is a shell script, so the runner is exercised without compiling anything. */
function fakeTool(overrides: Partial<ToolSpec> = {}): ToolSpec {
  return {
    name: 'fake',
    version: '1.0.0',
    registry: 'nowhere (test)',
    needs: ['sh'],
    files: [
      {
        path: 'build.sh',
        mode: 0o755,
        content:
          '#!/bin/sh\nmkdir -p bin\nprintf "#!/bin/sh\\necho fake version 1.0.0\\n" > bin/fake\nchmod +x bin/fake\necho built >> builds.txt\n',
      },
    ],
    commands: [{ title: 'run build.sh', command: './build.sh', args: [] }],
    binaries: ['fake'],
    checks: [{ binary: 'fake', args: ['--version'], expect: /fake version 1\.0\.0/ }],
    ...overrides,
  };
}

describe('tool setup runner', () => {
  let cache: string;
  const lines: string[] = [];
  const log = (line: string): void => {
    lines.push(line);
  };

  beforeEach(async () => {
    cache = await mkdtemp(join(tmpdir(), 'talon-setup-'));
    lines.length = 0;
  });
  afterEach(async () => {
    await rm(cache, { recursive: true, force: true });
  });

  it('builds once, then reports the cache as valid without rebuilding', async () => {
    const tool = fakeTool();
    const first = await setupTools({ cacheDir: cache, tools: [tool], log });
    expect(first[0]?.action).toBe('built');
    const second = await setupTools({ cacheDir: cache, tools: [tool], log });
    expect(second[0]?.action).toBe('cached');
    const builds = await readFile(join(toolDir(cache, tool), 'builds.txt'), 'utf8');
    expect(builds.trim().split('\n')).toHaveLength(1);
    expect(lines.some((l) => l.includes('fake 1.0.0: cached'))).toBe(true);
  });

  it('detects a damaged binary and rebuilds it', async () => {
    const tool = fakeTool();
    await setupTools({ cacheDir: cache, tools: [tool], log });
    await writeFile(join(toolDir(cache, tool), 'bin', 'fake'), '#!/bin/sh\necho tampered\n');
    const state = await inspectTool(cache, tool);
    expect(state).toEqual({ kind: 'corrupt', reason: 'fake does not match its recorded sha256' });
    const again = await setupTools({ cacheDir: cache, tools: [tool], log });
    expect(again[0]?.action).toBe('built');
    expect((await inspectTool(cache, tool)).kind).toBe('ready');
  });

  it('resumes after an interrupted build: no manifest means build again', async () => {
    const tool = fakeTool();
    await mkdir(join(toolDir(cache, tool), 'bin'), { recursive: true });
    await writeFile(join(toolDir(cache, tool), 'bin', 'fake'), 'half written');
    expect((await inspectTool(cache, tool)).kind).toBe('missing');
    const result = await setupTools({ cacheDir: cache, tools: [tool], log });
    expect(result[0]?.action).toBe('built');
  });

  it('treats a changed recipe as stale', async () => {
    const tool = fakeTool();
    await setupTools({ cacheDir: cache, tools: [tool], log });
    const changed = fakeTool({ commands: [{ title: 'run build.sh again', command: './build.sh', args: [] }] });
    expect(recipeHash(changed)).not.toBe(recipeHash(tool));
    expect(await inspectTool(cache, changed)).toEqual({ kind: 'stale', reason: 'recipe changed' });
  });

  it('names the tool, the step and the registry when a step fails', async () => {
    const tool = fakeTool({
      commands: [{ title: 'compile things', command: 'sh', args: ['-c', 'echo boom >&2; exit 3'] }],
    });
    const failure = setupTools({ cacheDir: cache, tools: [tool], log });
    await expect(failure).rejects.toBeInstanceOf(ToolSetupError);
    await expect(failure).rejects.toThrow(/setup of fake failed at "compile things" \(needs nowhere \(test\)\).*boom/s);
  });

  it('fails clearly when a needed host program is absent', async () => {
    const tool = fakeTool({ needs: ['definitely-not-a-program-talon'] });
    await expect(setupTools({ cacheDir: cache, tools: [tool], log })).rejects.toThrow(
      /find definitely-not-a-program-talon.*not on PATH/s,
    );
  });

  it('fails when the built binary does not pass its version check', async () => {
    const tool = fakeTool({ checks: [{ binary: 'fake', args: ['--version'], expect: /version 2\.0/ }] });
    await expect(setupTools({ cacheDir: cache, tools: [tool], log })).rejects.toThrow(/version check/);
  });

  it('rejects a manifest without its required fields', () => {
    expect(() => parseManifest('{"name":"x"}')).toThrow(/manifest lacks/);
    expect(() => parseManifest('not json')).toThrow();
  });
});

describe('tool catalogue', () => {
  it('pins every tool the stack needs', () => {
    expect(TOOLS.map((t) => t.name).sort()).toEqual([
      'etcd',
      'influxdb',
      'kubernetes',
      'kwok',
      'postgresql',
      'prometheus',
      'temporal',
      'temporal-server',
    ]);
    expect(findTool('temporal').version).toBe('1.5.1');
    // The full server is the one the CLI embeds (its go.mod requires go.temporal.io/server v1.29.1).
    expect(findTool('temporal-server').version).toBe('1.29.1');
    expect(() => findTool('nope')).toThrow(/unknown tool "nope"/);
  });

  it('marks the servers only tests use, which the stack (npm start, talon setup) leaves out', () => {
    expect(TOOLS.filter((t) => t.testOnly === true).map((t) => t.name)).toEqual(['temporal-server', 'postgresql']);
    expect(STACK_TOOLS.map((t) => t.name)).toEqual([
      'temporal',
      'kwok',
      'etcd',
      'prometheus',
      'kubernetes',
      'influxdb',
    ]);
  });

  it('renders the Kubernetes wrapper go.mod from upstream staging replaces', () => {
    const upstream =
      'module k8s.io/kubernetes\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/kubectl => ./staging/src/k8s.io/kubectl\n)\n';
    const rendered = renderKubernetesWrapperGoMod(upstream, '1.34.4');
    expect(rendered).toContain('require k8s.io/kubernetes v1.34.4');
    expect(rendered).toContain('\tk8s.io/api => k8s.io/api v0.34.4\n');
    expect(rendered).toContain('\tk8s.io/kubectl => k8s.io/kubectl v0.34.4\n');
    expect(() => renderKubernetesWrapperGoMod('module x\n', '1.34.4')).toThrow(/no staging replace block/);
  });
});
