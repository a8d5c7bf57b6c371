import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { alertmanagerConfig } from '../../tools/stack/alertmanager';
import { LOCAL_RULE_OPTIONS, PRODUCTION_RULE_OPTIONS, talonAlertRules } from '../../tools/stack/alert-rules';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { kwokctlConfig, nodeManifests } from '../../tools/stack/kube';
import {
  isDaemonAlive,
  isPortFree,
  listDaemons,
  readDaemon,
  startDaemon,
  stopDaemon,
} from '../../tools/stack/processes';
import { prometheusConfig } from '../../tools/stack/prometheus';
import { binDir } from '../../tools/stack/setup';
import { missingBinaries, stackUp } from '../../tools/stack/stack';
import { temporalArgs, temporalEnv } from '../../tools/stack/temporal';
import { STACK_TOOLS, TOOLS } from '../../tools/stack/tools';

describe('stack configuration', () => {
  it('has working defaults', () => {
    const config = loadStackConfig({ HOME: '/home/x' });
    expect(config.ports.temporal).toBe(7233);
    expect(config.nodes).toEqual({ edge: 2, cloud: 2 });
    expect(config.cacheDir).toBe('/home/x/.cache/talon');
    expect(stackEndpoints(config).kubeconfigPath).toBe('/home/x/.cache/talon/stack/kubeconfig.yaml');
  });

  it.each([
    [{ TALON_TEMPORAL_PORT: 'seventy' }, /TALON_TEMPORAL_PORT/],
    [{ TALON_PROMETHEUS_PORT: '80' }, /TALON_PROMETHEUS_PORT/],
    [{ TALON_EDGE_NODES: '-1' }, /TALON_EDGE_NODES/],
    [{ TALON_CLUSTER_NAME: 'Bad Name' }, /TALON_CLUSTER_NAME: must be a DNS label/],
    [{ TALON_STACK_HOST: '0.0.0.0' }, /TALON_STACK_HOST/],
    [{ TALON_PROMETHEUS_PORT: '7233' }, /prometheus and temporal both use port 7233/],
  ])('rejects %j with a message naming the variable', (env, message) => {
    expect(() => loadStackConfig({ HOME: '/h', ...env })).toThrow(message);
  });

  it('lays out nodes by tier with the tier label', () => {
    const config = loadStackConfig({ HOME: '/h', TALON_EDGE_NODES: '1', TALON_CLOUD_NODES: '2' });
    const nodes = nodeManifests(config) as { metadata: { name: string; labels: Record<string, string> } }[];
    expect(nodes.map((n) => n.metadata.name)).toEqual(['edge-0', 'cloud-0', 'cloud-1']);
    expect(nodes.map((n) => n.metadata.labels['talon.io/tier'])).toEqual(['edge', 'cloud', 'cloud']);
  });

  it('points kwokctl only at cached binaries, so nothing is downloaded', () => {
    const config = loadStackConfig({ HOME: '/h' });
    const options = (kwokctlConfig(config) as { options: Record<string, unknown> }).options;
    for (const key of [
      'kubeApiserverBinary',
      'kubeControllerManagerBinary',
      'kubeSchedulerBinary',
      'kubectlBinary',
      'etcdBinary',
      'kwokControllerBinary',
    ]) {
      expect(String(options[key])).toMatch(new RegExp(`^${binDir(config.cacheDir)}/`));
    }
    expect(options.runtime).toBe('binary');
  });

  it('registers every Talon search attribute with the dev server', () => {
    const args = temporalArgs(loadStackConfig({ HOME: '/h' }));
    expect(args).toEqual(
      expect.arrayContaining(['--search-attribute', 'TalonOutcome=Keyword', 'TalonPolicy=KeywordList']),
    );
    expect(args).toEqual(expect.arrayContaining(['--db-filename', '/h/.cache/talon/stack/temporal/temporal.db']));
    expect(args.join(' ')).toContain('--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal');
  });

  it('keeps the dev server cheap per remediation: search-attribute cache on, eager activity dispatch on', () => {
    const args = temporalArgs(loadStackConfig({ HOME: '/h' })).join(' ');
    expect(args).toContain('--dynamic-config-value system.forceSearchAttributesCacheRefreshOnRead=false');
    expect(args).toContain('--dynamic-config-value system.enableActivityEagerExecution=true');
  });

  it('runs the dev server with GOGC=200 unless the caller set its own collector limits', () => {
    expect(temporalEnv({})).toEqual({ GOGC: '200' });
    expect(temporalEnv({ GOGC: '100' })).toEqual({});
    expect(temporalEnv({ GOMEMLIMIT: '1GiB' })).toEqual({});
  });
});

/** The real Prometheus/Alertmanager tools judge the configs Talon renders. */
describe('rendered Prometheus and Alertmanager configuration', () => {
  const bin = binDir(loadStackConfig().cacheDir);
  const haveTools = existsSync(join(bin, 'promtool')) && existsSync(join(bin, 'amtool'));
  let dir: string;
  beforeAll(async () => {
    if (!haveTools) throw new Error(`promtool/amtool missing in ${bin}: run \`talon setup\` first`);
    dir = await mkdtemp(join(tmpdir(), 'talon-prom-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['local', LOCAL_RULE_OPTIONS],
    ['production', PRODUCTION_RULE_OPTIONS],
  ])('%s alert rules pass promtool', async (_name, options) => {
    const path = join(dir, `rules-${_name}.yml`);
    await writeFile(path, stringify(talonAlertRules(options)));
    const result = spawnSync(join(bin, 'promtool'), ['check', 'rules', path], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('SUCCESS: 7 rules found');
    expect(result.status).toBe(0);
  });

  it('each action’s alert fires on the series it is about, for the pod it is about (promtool test rules)', async () => {
    await writeFile(join(dir, 'rules-actions.yml'), stringify(talonAlertRules(LOCAL_RULE_OPTIONS)));
    const pod = (name: string, extra: Record<string, string> = {}) =>
      ({ severity: 'warning', talon_scope: 'pod', namespace: 'ns', pod: name, ...extra }) as Record<string, string>;
    const test = {
      rule_files: ['rules-actions.yml'],
      evaluation_interval: '5s',
      tests: [
        {
          interval: '5s',
          input_series: [
            // Rule 1: node n1 is 75 % busy (3 of 4 cores), `heavy` uses 97 % of that, `light` 2 %.
            {
              series: 'container_cpu_usage_seconds_total{container="app",namespace="ns",pod="heavy",node="n1"}',
              values: '0+14.5x40',
            },
            {
              series: 'container_cpu_usage_seconds_total{container="app",namespace="ns",pod="light",node="n1"}',
              values: '0+0.25x40',
            },
            { series: 'node_cpu_usage_seconds_total{node="n1"}', values: '0+15x40' },
            { series: 'kube_node_status_allocatable{node="n1",resource="cpu"}', values: '4x40' },
            {
              series:
                'container_network_receive_packets_dropped_total{container="app",namespace="ns",pod="net",interface="eth0"}',
              values: '0+1000x40',
            },
            {
              series:
                'container_network_receive_bytes_total{container="app",namespace="ns",pod="calm",interface="eth0"}',
              values: '0+50000000x40',
            },
            {
              series: 'container_fs_writes_bytes_total{container="app",namespace="ns",pod="io"}',
              values: '0+1048576000x40',
            },
            {
              series:
                'kube_pod_container_status_waiting_reason{container="app",namespace="ns",pod="crash",reason="CrashLoopBackOff"}',
              values: '1x40',
            },
          ],
          alert_rule_test: [
            {
              eval_time: '2m',
              alertname: 'TalonPodNodeCpuHigh',
              exp_alerts: [
                {
                  exp_labels: pod('heavy', { talon_resource: 'node-cpu', node: 'n1' }),
                  exp_annotations: { summary: 'ns/heavy uses 96.67% of the busy CPU of node n1' },
                },
              ],
            },
            {
              eval_time: '2m',
              alertname: 'TalonPodNetworkCongested',
              exp_alerts: [
                {
                  exp_labels: pod('net', { talon_resource: 'network' }),
                  exp_annotations: { summary: 'ns/net is on a congested link (200)' },
                },
              ],
            },
            {
              eval_time: '2m',
              alertname: 'TalonPodIoHigh',
              exp_alerts: [
                {
                  exp_labels: pod('io', { talon_resource: 'io' }),
                  exp_annotations: { summary: 'ns/io reads and writes 200MiB/s' },
                },
              ],
            },
            {
              eval_time: '2m',
              alertname: 'TalonContainerCrashLooping',
              exp_alerts: [
                {
                  exp_labels: pod('crash', { talon_resource: 'health', container: 'app' }),
                  exp_annotations: { summary: 'Container app of ns/crash is crash-looping' },
                },
              ],
            },
          ],
        },
      ],
    };
    const path = join(dir, 'actions-test.yml');
    await writeFile(path, stringify(test));
    const result = spawnSync(join(bin, 'promtool'), ['test', 'rules', path], { encoding: 'utf8', cwd: dir });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('the Prometheus config passes promtool', async () => {
    const config = loadStackConfig();
    const rules = join(dir, 'rules.yml');
    await writeFile(rules, stringify(talonAlertRules(LOCAL_RULE_OPTIONS)));
    const path = join(dir, 'prometheus.yml');
    await writeFile(path, stringify(prometheusConfig(config, rules)));
    const result = spawnSync(join(bin, 'promtool'), ['check', 'config', path], { encoding: 'utf8' });
    expect(result.status).toBe(0);
  });

  it('the Alertmanager config passes amtool', async () => {
    const config = loadStackConfig();
    const token = join(dir, 'token');
    await writeFile(token, 'abc');
    const path = join(dir, 'alertmanager.yml');
    await writeFile(path, stringify(alertmanagerConfig(config, token)));
    const result = spawnSync(join(bin, 'amtool'), ['check-config', path], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});

describe('background processes', () => {
  let state: string;
  beforeEach(async () => {
    state = await mkdtemp(join(tmpdir(), 'talon-proc-'));
  });
  afterEach(async () => {
    for (const d of await listDaemons(state)) await stopDaemon(state, d.name, 1_000);
    await rm(state, { recursive: true, force: true });
  });

  it('starts a detached process, finds it again, and stops its whole process group', async () => {
    // The parent leaves a child behind, as servers that fork do; stopping must take both.
    const script = 'sleep 300 & echo child=$! ; wait';
    const record = await startDaemon(state, { name: 'sleeper', command: '/bin/sh', args: ['-c', script] });
    expect(await isDaemonAlive(record)).toBe(true);
    expect((await readDaemon(state, 'sleeper'))?.pid).toBe(record.pid);
    const again = await startDaemon(state, { name: 'sleeper', command: '/bin/sh', args: ['-c', script] });
    expect(again.pid).toBe(record.pid);
    await new Promise((r) => setTimeout(r, 200));
    const child = Number(/child=(\d+)/.exec(await readFile(record.logPath, 'utf8'))?.[1]);
    expect(child).toBeGreaterThan(0);
    expect(await stopDaemon(state, 'sleeper', 2_000)).toBe(true);
    expect(await isDaemonAlive(record)).toBe(false);
    expect(await isDaemonAlive({ ...record, pid: child, command: 'sleep' })).toBe(false);
    expect(await readDaemon(state, 'sleeper')).toBeUndefined();
  });

  it('does not mistake a recycled pid running another program for its daemon', async () => {
    const record = {
      name: 'x',
      pid: process.pid,
      command: '/usr/bin/definitely-not-node',
      args: [],
      logPath: '',
      startedAt: '',
    };
    expect(await isDaemonAlive(record)).toBe(false);
  });

  it('reports a program that cannot start', async () => {
    await expect(startDaemon(state, { name: 'ghost', command: '/nonexistent/prog', args: [] })).rejects.toThrow(
      /could not start ghost/,
    );
  });
});

describe('ports', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('detects a busy port', async () => {
    expect(await isPortFree(port)).toBe(false);
  });

  it('refuses to start the stack on a port another program holds, naming port and component', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'talon-cache-'));
    const state = await mkdtemp(join(tmpdir(), 'talon-state-'));
    try {
      // A cache with every binary present (as empty files) so only the port check can fail.
      await mkdir(join(cache, 'bin'), { recursive: true });
      for (const b of TOOLS.flatMap((t) => t.binaries)) await writeFile(join(cache, 'bin', b), '');
      const config = loadStackConfig({
        HOME: '/h',
        TALON_CACHE_DIR: cache,
        TALON_STATE_DIR: state,
        TALON_TEMPORAL_PORT: String(port),
      });
      await expect(stackUp(config, () => undefined)).rejects.toThrow(
        `port ${port} (needed by temporal) is already in use`,
      );
    } finally {
      await rm(cache, { recursive: true, force: true });
      await rm(state, { recursive: true, force: true });
    }
  });

  it('starts without the test-only tools (npm start does not build them)', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'talon-cache-'));
    try {
      const config = loadStackConfig({ HOME: '/h', TALON_CACHE_DIR: cache });
      expect(missingBinaries(config)).toContain('temporal');
      expect(missingBinaries(config)).not.toContain('temporal-server');
      await mkdir(join(cache, 'bin'), { recursive: true });
      for (const b of STACK_TOOLS.flatMap((t) => t.binaries)) await writeFile(join(cache, 'bin', b), '');
      expect(missingBinaries(config)).toEqual([]);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });

  it('refuses to start the stack when tools are missing', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'talon-cache-'));
    try {
      const config = loadStackConfig({ HOME: '/h', TALON_CACHE_DIR: cache });
      await expect(stackUp(config, () => undefined)).rejects.toThrow(/missing tools: temporal.*run `talon setup`/);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
