/**
 * Where the embedded local stack lives: ports, node layout, state and cache folders, and the endpoints
 * clients use. Runtime code, not a stack tool: Talon's configuration falls back to these addresses when
 * none is set, and the stack tools (tools/stack) start their servers on them. Parsed once from the
 * environment by the CLI and passed inward; everything has a default so `npm start` needs nothing.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** Cache of built tools, outside the repository so a fresh clone reuses it. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.TALON_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'talon'));
}

/** Runtime state of a running stack: pid files, logs, data directories, rendered configs. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.TALON_STATE_DIR ?? join(defaultCacheDir(env), 'stack'));
}

const port = z.coerce.number().int().min(1024).max(65535);
const count = z.coerce.number().int().min(0).max(5000);

export const stackEnvSchema = z.object({
  TALON_STACK_HOST: z.literal('127.0.0.1').default('127.0.0.1'),
  TALON_TEMPORAL_PORT: port.default(7233),
  TALON_TEMPORAL_UI_PORT: port.default(8233),
  TALON_KUBE_APISERVER_PORT: port.default(16443),
  TALON_KWOK_PORT: port.default(10247),
  TALON_ETCD_PORT: port.default(12379),
  TALON_PROMETHEUS_PORT: port.default(9090),
  TALON_ALERTMANAGER_PORT: port.default(9093),
  TALON_INFLUXDB_PORT: port.default(8086),
  TALON_WEBHOOK_PORT: port.default(8080),
  TALON_EDGE_NODES: count.default(2),
  TALON_CLOUD_NODES: count.default(2),
  TALON_CLUSTER_NAME: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label')
    .max(40)
    .default('talon'),
});

export interface StackConfig {
  readonly host: '127.0.0.1';
  readonly cacheDir: string;
  readonly stateDir: string;
  readonly clusterName: string;
  readonly ports: {
    readonly temporal: number;
    readonly temporalUi: number;
    readonly kubeApiserver: number;
    readonly kwok: number;
    readonly etcd: number;
    readonly prometheus: number;
    readonly alertmanager: number;
    readonly influxdb: number;
    readonly webhook: number;
  };
  readonly nodes: { readonly edge: number; readonly cloud: number };
}

/** Parses the stack's environment variables; a bad value names the variable and what was wrong. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const parsed = stackEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid stack configuration: ${problems}`);
  }
  const e = parsed.data;
  const ports = {
    temporal: e.TALON_TEMPORAL_PORT,
    temporalUi: e.TALON_TEMPORAL_UI_PORT,
    kubeApiserver: e.TALON_KUBE_APISERVER_PORT,
    kwok: e.TALON_KWOK_PORT,
    etcd: e.TALON_ETCD_PORT,
    prometheus: e.TALON_PROMETHEUS_PORT,
    alertmanager: e.TALON_ALERTMANAGER_PORT,
    influxdb: e.TALON_INFLUXDB_PORT,
    webhook: e.TALON_WEBHOOK_PORT,
  };
  const seen = new Map<number, string>();
  for (const [name, value] of Object.entries(ports)) {
    const other = seen.get(value);
    if (other) throw new Error(`invalid stack configuration: ${name} and ${other} both use port ${value}`);
    seen.set(value, name);
  }
  return {
    host: e.TALON_STACK_HOST,
    cacheDir: defaultCacheDir(env),
    stateDir: defaultStateDir(env),
    clusterName: e.TALON_CLUSTER_NAME,
    ports,
    nodes: { edge: e.TALON_EDGE_NODES, cloud: e.TALON_CLOUD_NODES },
  };
}

/** Addresses of a running stack, as clients (Talon, tests, benchmarks) need them. */
export interface StackEndpoints {
  readonly temporalAddress: string;
  readonly temporalUiUrl: string;
  readonly kubeconfigPath: string;
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  readonly influx: { readonly url: string; readonly token: string; readonly org: string; readonly bucket: string };
  readonly webhookUrl: string;
}

/** The InfluxDB 1.x database Talon writes to; the v2 API addresses it as bucket `talon/autogen`. */
export const INFLUX_DATABASE = 'talon';

export function stackEndpoints(config: StackConfig): StackEndpoints {
  const h = config.host;
  return {
    temporalAddress: `${h}:${config.ports.temporal}`,
    temporalUiUrl: `http://${h}:${config.ports.temporalUi}`,
    kubeconfigPath: join(config.stateDir, 'kubeconfig.yaml'),
    prometheusUrl: `http://${h}:${config.ports.prometheus}`,
    alertmanagerUrl: `http://${h}:${config.ports.alertmanager}`,
    influx: {
      url: `http://${h}:${config.ports.influxdb}`,
      token: 'talon:talon',
      org: 'talon',
      bucket: `${INFLUX_DATABASE}/autogen`,
    },
    webhookUrl: `http://${h}:${config.ports.webhook}`,
  };
}

/** The bearer token the local Alertmanager sends and the webhook accepts (written by `stack up`). */
export function webhookTokenPath(config: StackConfig): string {
  return join(config.stateDir, 'alertmanager', 'webhook-token');
}

/** What Talon's configuration takes from the local stack for every endpoint the environment leaves unset. */
export interface LocalFallbacks {
  readonly temporalAddress: string;
  readonly kubeconfigPath: string;
  readonly prometheusUrl: string;
  readonly influx: { readonly url: string; readonly token: string; readonly org: string; readonly bucket: string };
  /** The webhook listens here (TALON_WEBHOOK_PORT, validated with the stack's other ports). */
  readonly webhookPort: number;
  /** Where `stack up` writes the bearer token the local Alertmanager sends; used when the file exists. */
  readonly webhookTokenFile: string;
}

/**
 * The one source of the local stack's addresses as fallbacks (under `env`: its TALON_*_PORT variables, its state
 * directory). A parameter of loadTalonConfig, so a caller (a test, an embedding application) can hand in others.
 */
export function localStackFallbacks(env: NodeJS.ProcessEnv = process.env): LocalFallbacks {
  const stack = loadStackConfig(env);
  const local = stackEndpoints(stack);
  return {
    temporalAddress: local.temporalAddress,
    kubeconfigPath: local.kubeconfigPath,
    prometheusUrl: local.prometheusUrl,
    influx: local.influx,
    webhookPort: stack.ports.webhook,
    webhookTokenFile: webhookTokenPath(stack),
  };
}
