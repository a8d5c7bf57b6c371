/**
 * Talon as shipped, not as the repository runs it: `npm pack` (its prepack runs `npm run build`), the
 * tarball installed into an empty folder with production dependencies only, then
 * - `talon --help` through the package's `bin` answers with the command list;
 * - the container image's command line, read from the Dockerfile (WORKDIR, ENV, ENTRYPOINT, CMD) and run
 *   here without a container runtime, starts a worker that polls the local stack's Temporal, and SIGTERM
 *   stops it with exit code 0.
 * The image copies exactly what the package ships (package.json `files`), so both are tested at once.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { repoRoot } from '../../src/config/repo-root';
import { localStack } from '../support/stack';

jest.setTimeout(20 * 60_000);

const exec = promisify(execFile);
const MiB = 1024 * 1024;

interface ImageStage {
  readonly workdir: string;
  readonly env: Record<string, string>;
  readonly command: string[];
  /** Destinations of COPY, relative to the working directory. */
  readonly copied: string[];
}

/** The final stage of the Dockerfile: what `docker run <image>` runs, where, with which environment. */
function readImageStage(dockerfile: string): ImageStage {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const last = lines.map((l) => /^FROM\b/i.test(l)).lastIndexOf(true);
  let workdir = '/';
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  const copied: string[] = [];
  for (const line of lines.slice(last + 1)) {
    const [, instruction = '', rest = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    switch (instruction.toUpperCase()) {
      case 'WORKDIR':
        workdir = posix.resolve(workdir, rest);
        break;
      case 'ENV':
        for (const m of rest.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
        break;
      case 'ENTRYPOINT':
        entrypoint = JSON.parse(rest) as string[];
        break;
      case 'CMD':
        cmd = JSON.parse(rest) as string[];
        break;
      case 'COPY': {
        const dest = rest
          .split(/\s+/)
          .filter((w) => !w.startsWith('--'))
          .at(-1)!;
        copied.push(posix.relative(workdir, posix.resolve(workdir, dest)));
        break;
      }
    }
  }
  return { workdir, env, command: [...entrypoint, ...cmd], copied };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function status(url: string): Promise<number | undefined> {
  try {
    return (await fetch(url)).status;
  } catch {
    return undefined;
  }
}

const root = repoRoot();
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  files: string[];
};
let dir: string;
/** The installed package: the image's working directory. */
let installed: string;
let packed: { path: string; size: number }[];
let worker: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'talon-shipped-'));
  // prepack builds dist/ from scratch, so the package holds exactly what the build makes of this checkout.
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: root,
    maxBuffer: 64 * MiB,
  });
  const [report] = JSON.parse(stdout.slice(stdout.lastIndexOf('[\n  {'))) as {
    filename: string;
    files: { path: string; size: number }[];
  }[];
  packed = report!.files;
  const app = join(dir, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'shipped-check', private: true }));
  // Production dependencies only, as the image has them; the npm cache serves what it already holds.
  await exec(
    'npm',
    ['install', join(dir, report!.filename), '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'],
    { cwd: app, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 64 * MiB },
  );
  installed = join(app, 'node_modules', packageJson.name);
});

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the published package', () => {
  it('holds the compiled runtime, its workflow bundle, the models and the taxonomy, and no development code', () => {
    const paths = packed.map((f) => f.path);
    for (const expected of [
      'bin/talon',
      'dist/workers/main.js',
      'dist/workers/worker.js',
      'dist/workflows/remediate-alert.js',
      'dist/activities/remediation.js',
      'dist/src/tasks/run.js',
      'dist/workflow-bundle.js',
      'models/policy.onnx',
      'models/policy.json',
      'data/taxonomy.json',
    ]) {
      expect(paths).toContain(expected);
    }
    const development = paths.filter((p) =>
      /^(src|training|tools|test|bench|deploy|docs)\/|^dist\/(training|tools|test|bench)\//.test(p),
    );
    expect(development).toEqual([]);
  });

  it('installs without tfjs: production dependencies only', async () => {
    expect(existsSync(join(installed, 'dist', 'workers', 'main.js'))).toBe(true);
    const { stdout } = await exec('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
      cwd: join(dir, 'app'),
      maxBuffer: 64 * MiB,
    });
    expect(stdout).toMatch(/node_modules\/onnxruntime-node$/m);
    expect(stdout).not.toMatch(/@tensorflow/);
    expect(existsSync(join(dir, 'app', 'node_modules', '@tensorflow'))).toBe(false);
  });

  it('`talon --help` answers through the package bin with the command list', async () => {
    const { stdout } = await exec(join(dir, 'app', 'node_modules', '.bin', 'talon'), ['--help'], { cwd: dir });
    expect(stdout).toMatch(/^Usage: talon /);
    for (const command of ['worker', 'webhook', 'run', 'task', 'model', 'status', 'list']) {
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('a development command says it needs a clone instead of failing obscurely', async () => {
    const talon = join(dir, 'app', 'node_modules', '.bin', 'talon');
    await expect(exec(talon, ['model', 'train', '--quick'], { cwd: dir })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/`talon model train` is a development command: it runs from a clone/),
    });
  });
});

describe('the container image', () => {
  const image = readImageStage(readFileSync(join(root, 'Dockerfile'), 'utf8'));

  it('copies what the package ships, plus its manifest and production dependencies', () => {
    const shipped = packageJson.files.map((f) => f.replace(/\/$/, ''));
    expect([...image.copied].sort()).toEqual([...shipped, 'package.json', 'node_modules'].sort());
  });

  it('runs `talon worker` through bin/talon, which polls the local stack and stops on SIGTERM', async () => {
    expect(image.command).toEqual(['node', 'bin/talon', 'worker']);
    const stack = localStack();
    const port = await freePort();
    const taskQueue = `shipped-${Date.now()}`;
    // The image's own environment with its paths moved to the installed package, and what a deployment
    // sets: where Temporal, the cluster, Prometheus and InfluxDB are.
    const imageEnv = Object.fromEntries(
      Object.entries(image.env).map(([k, v]) => [k, v.split(image.workdir).join(installed)]),
    );
    const [program, ...args] = image.command;
    worker = spawn(program === 'node' ? process.execPath : program!, args, {
      cwd: installed,
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        ...imageEnv,
        TALON_TEMPORAL_ADDRESS: stack.temporalAddress,
        TALON_TASK_QUEUE: taskQueue,
        TALON_KUBECONFIG: stack.kubeconfigPath,
        TALON_PROMETHEUS_URL: stack.prometheusUrl,
        TALON_INFLUX_URL: stack.influx.url,
        TALON_INFLUX_TOKEN: stack.influx.token,
        TALON_INFLUX_ORG: stack.influx.org,
        TALON_INFLUX_BUCKET: stack.influx.bucket,
        TALON_WORKER_METRICS_PORT: String(port),
        TALON_WORKER_SHUTDOWN_GRACE_SECONDS: '5',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = worker;
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );

    const deadline = Date.now() + 120_000;
    while ((await status(`http://127.0.0.1:${port}/readyz`)) !== 200) {
      if (child.exitCode !== null) throw new Error(`the image's worker exited (${child.exitCode}):\n${out}`);
      if (Date.now() > deadline) throw new Error(`the image's worker was not ready in 120 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(out).toContain(`worker polling task queue ${taskQueue} at ${stack.temporalAddress}`);
    // Temporal itself sees the poller on the task queue.
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const described = await connection.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue },
      });
      expect(described.pollers?.length ?? 0).toBeGreaterThan(0);
    } finally {
      await connection.close();
    }

    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
