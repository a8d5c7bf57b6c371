/**
 * Talon's runtime configuration: every TALON_* environment variable, read once per process (worker,
 * webhook, CLI), validated, and passed inward as typed options. Defaults come from defaults.ts; endpoints
 * the environment leaves unset fall back to the local stack's (local-stack.ts, or what the caller passes).
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../contracts/common';
import { DEFAULT_GUARD_CONFIG, guardConfig, type GuardConfigInput, type QuantityBounds } from '../domain/guards';
import {
  DEFAULT_ACTION_SETTINGS,
  DEFAULT_MODEL_PATH,
  DEFAULT_RESOLVE_WITHIN,
  DEFAULT_TALON_NAMESPACE,
  DEFAULT_TEMPORAL_NAMESPACE,
  DEFAULT_WEBHOOK_HOST,
  DEFAULT_WEBHOOK_SETTINGS,
  DEFAULT_WINDOW_STEP_SECONDS,
  DEFAULT_WORKER,
  type ActionSettings,
  type WebhookSettings,
} from './defaults';
import { parseFaultHolds, type FaultHold } from './fault-holds';
import { learningConfigFromEnv, type LearningConfig } from './learning';
import { localStackFallbacks, type LocalFallbacks } from './local-stack';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const envSchema = z.object({
  TALON_TEMPORAL_ADDRESS: optionalString,
  TALON_TEMPORAL_NAMESPACE: z.string().min(1).default(DEFAULT_TEMPORAL_NAMESPACE),
  TALON_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  TALON_TEMPORAL_TLS: z.enum(['true', 'false']).default('false'),
  TALON_TEMPORAL_TLS_CERT: optionalString,
  TALON_TEMPORAL_TLS_KEY: optionalString,
  TALON_TEMPORAL_TLS_CA: optionalString,
  TALON_TEMPORAL_API_KEY: optionalString,
  TALON_KUBECONFIG: optionalString,
  KUBERNETES_SERVICE_HOST: optionalString,
  TALON_WEBHOOK_HOST: z.string().default(DEFAULT_WEBHOOK_HOST),
  TALON_WEBHOOK_TOKEN: optionalString,
  TALON_WEBHOOK_TOKEN_FILE: optionalString,
  TALON_WEBHOOK_BASIC_USER: optionalString,
  TALON_WEBHOOK_BASIC_PASSWORD: optionalString,
  TALON_WEBHOOK_INSECURE: z.enum(['true', 'false']).default('false'),
  TALON_WEBHOOK_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'a size such as 512kb or 1mb')
    .default(DEFAULT_WEBHOOK_SETTINGS.bodyLimit),
  TALON_WEBHOOK_HANDOFF_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(DEFAULT_WEBHOOK_SETTINGS.handoffTimeoutMs),
  TALON_WEBHOOK_MAX_INFLIGHT_ALERTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(DEFAULT_WEBHOOK_SETTINGS.maxInflightAlerts),
  TALON_WEBHOOK_OVERLOAD_RETRY_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(DEFAULT_WEBHOOK_SETTINGS.overloadRetryAfterSeconds),
  TALON_WEBHOOK_INTAKE: z.enum(['off', 'spill', 'always']).default(DEFAULT_WEBHOOK_SETTINGS.intake.mode),
  TALON_WEBHOOK_INTAKE_SHARDS: z.coerce.number().int().min(1).max(64).default(DEFAULT_WEBHOOK_SETTINGS.intake.shards),
  TALON_WEBHOOK_INTAKE_MAX_BATCH: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(DEFAULT_WEBHOOK_SETTINGS.intake.maxBatch),
  TALON_WEBHOOK_INTAKE_MAX_PENDING: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(DEFAULT_WEBHOOK_SETTINGS.intake.maxPending),
  TALON_PROMETHEUS_URL: optionalString,
  TALON_INFLUX_URL: optionalString,
  TALON_INFLUX_TOKEN: optionalString,
  TALON_INFLUX_ORG: optionalString,
  TALON_INFLUX_BUCKET: optionalString,
  TALON_MODEL_PATH: z.string().default(DEFAULT_MODEL_PATH),
  TALON_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_WORKER.metricsPort),
  TALON_WORKER_METRICS_HOST: z.string().default(DEFAULT_WORKER.metricsHost),
  TALON_WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(DEFAULT_WORKER.maxCachedWorkflows),
  TALON_INTAKE_DISPATCH_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000)
    .default(DEFAULT_WORKER.intakeDispatchConcurrency),
  TALON_WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(DEFAULT_WORKER.shutdownGraceSeconds),
  TALON_FAULT_HOLD: optionalString,
  TALON_WORKFLOW_BUNDLE: optionalString,
  TALON_RESOLVE_WITHIN: z.string().default(DEFAULT_RESOLVE_WITHIN),
  TALON_WINDOW_STEP_SECONDS: z.coerce.number().int().min(1).max(3600).optional(),
  TALON_PROTECTED_NAMESPACES: optionalString,
  TALON_CONTAINER_CPU_MIN: optionalString,
  TALON_CONTAINER_CPU_MAX: optionalString,
  TALON_CONTAINER_MEMORY_MIN: optionalString,
  TALON_CONTAINER_MEMORY_MAX: optionalString,
  TALON_REPLICAS_MIN: z.coerce.number().int().min(0).optional(),
  TALON_REPLICAS_MAX: z.coerce.number().int().min(1).optional(),
  TALON_WRITE_BUDGET: z
    .string()
    .regex(/^\d+\/\d+s$/, 'writes per window, such as 10/600s')
    .optional(),
  TALON_DRY_RUN: z.enum(['true', 'false']).default('false'),
  TALON_POLICY_FILE: optionalString,
  TALON_POLICY_RELOAD_SECONDS: z.coerce.number().min(0).max(3600).default(5),
  TALON_TEMPORAL_UI_URL: optionalString,
  TALON_IDENTITY: optionalString,
  TALON_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name')
    .default(DEFAULT_TALON_NAMESPACE),
  TALON_RULES: optionalString,
  TALON_NETWORK_CEILING_MBPS: z.coerce
    .number()
    .positive()
    .max(1_000_000)
    .default(DEFAULT_ACTION_SETTINGS.networkCeilingMbps),
  TALON_EFFECT_DEADLINE_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(240)
    .default(DEFAULT_ACTION_SETTINGS.effectDeadlineSeconds),
  TALON_DATA_OFFLOAD_EFFECT_FRACTION: z.coerce
    .number()
    .gt(0)
    .max(1)
    .default(DEFAULT_ACTION_SETTINGS.dataOffloadEffectFraction),
  TALON_OFFLOAD_RELEASE_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .default(DEFAULT_ACTION_SETTINGS.offloadReleaseAfterSeconds),
  TALON_OFFLOAD_RECOVERED_BELOW: z.coerce.number().gt(0).max(1).default(DEFAULT_ACTION_SETTINGS.offloadRecoveredBelow),
  TALON_OFFLOAD_CHECK_EVERY_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(DEFAULT_ACTION_SETTINGS.offloadCheckEverySeconds),
});

/**
 * TALON_RULES: overrides of the rule thresholds as JSON, e.g. `{"replicas":{"nodeBusyAbove":0.8},"io":null}`.
 * Checked here for shape (numbers, objects, null to turn a rule off); the worker checks their consistency
 * (low < target ≤ warn ≤ high, shares in (0, 1]) when it builds the rule policy, before it polls.
 */
const thresholds = z
  .object({ high: z.number(), warn: z.number(), low: z.number(), target: z.number() })
  .partial()
  .strict();
const rulesSchema = z
  .object({
    cpu: thresholds,
    memory: thresholds,
    energyLimitWatts: z.number().nullable(),
    recentSteps: z.number().int(),
    minQualityForScaleDown: z.number(),
    replicas: z
      .object({
        scaleUpAbove: z.number(),
        preferFrom: z.number(),
        nodeBusyAbove: z.number(),
        redundantFrom: z.number(),
      })
      .partial()
      .strict(),
    network: z
      .object({ ceilingMbps: z.number(), dropsPerSecond: z.number(), highShare: z.number(), targetShare: z.number() })
      .partial()
      .strict()
      .nullable(),
    io: z.object({ highBytesPerSecond: z.number(), targetShare: z.number() }).partial().strict().nullable(),
    restart: z.object({ restartsAtLeast: z.number(), stuckAfterSeconds: z.number() }).partial().strict(),
  })
  .partial()
  .strict();

export type RuleOverridesInput = z.infer<typeof rulesSchema>;

function rulesFromEnv(text: string | undefined, ceilingMbps: number): RuleOverridesInput {
  let parsed: unknown = {};
  if (text !== undefined) {
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`invalid configuration: TALON_RULES: not JSON: ${(err as Error).message}`);
    }
  }
  const checked = rulesSchema.safeParse(parsed);
  if (!checked.success) {
    throw new Error(
      `invalid configuration: TALON_RULES: ${checked.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  const rules = checked.data;
  // One ceiling for the actuator and the rule that chooses QoS, unless TALON_RULES names another on purpose.
  return rules.network === null ? rules : { ...rules, network: { ceilingMbps, ...rules.network } };
}

export interface TalonConfig {
  readonly temporal: {
    readonly address: string;
    readonly namespace: string;
    readonly taskQueue: string;
    readonly tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer } | true;
    readonly apiKey?: string;
  };
  readonly kube: { readonly kubeconfigPath?: string; readonly inCluster: boolean };
  readonly webhook: WebhookSettings & {
    readonly host: string;
    readonly port: number;
    readonly bearerToken?: string;
    readonly basic?: { username: string; password: string };
    /** TALON_WEBHOOK_INSECURE=true: start without authentication when no secret is set (loud warning). */
    readonly insecure: boolean;
  };
  readonly prometheusUrl: string;
  readonly influx: { readonly url: string; readonly token: string; readonly org: string; readonly bucket: string };
  readonly modelPath: string;
  /** Model registry, shadow challenger, decision log and exploration (./learning.ts). */
  readonly learning: LearningConfig;
  readonly worker: {
    /** In-flight activities get this long to finish after SIGTERM before they are cancelled. */
    readonly shutdownGraceSeconds: number;
    /** Test-only holds inside activities (TALON_FAULT_HOLD), so a kill can land at a chosen point. */
    readonly faultHolds: readonly FaultHold[];
    /** Prebuilt workflow code (TALON_WORKFLOW_BUNDLE, written by `npm run build`); unset: bundle at start. */
    readonly workflowBundlePath?: string;
    /** Workflows kept in memory between tasks; bounds RSS when many remediations wait in cool-down. */
    readonly maxCachedWorkflows: number;
    /** Hand-offs the alert intake's dispatch runs at once on this worker: the pace of a storm's fan-out. */
    readonly intakeDispatchConcurrency: number;
    /** `/metrics`, `/healthz` and `/readyz` (Prometheus and Kubernetes probes); off when the port is 0. */
    readonly http?: { readonly host: string; readonly port: number };
  };
  readonly resolveWithin: string;
  /** Step of the metrics window (10 steps); the local stack scrapes every 5 s, real clusters every 30 s. */
  readonly windowStepSeconds: number;
  /** Talon's own namespace: protected from changes, home of the write-budget Leases. */
  readonly talonNamespace: string;
  /** Guardrails as configured (validated at load); the worker's actuator enforces them. */
  readonly guards: GuardConfigInput;
  /** Rule threshold overrides (TALON_RULES, with the network ceiling filled in). */
  readonly rules: RuleOverridesInput;
  readonly actions: ActionSettings;
  /**
   * The operator policy file (TALON_POLICY_FILE), read by the worker and the webhook and reloaded every
   * `reloadSeconds` (0: never) when its content changes; absent: Talon runs with its built-in behaviour.
   */
  readonly policy?: { readonly path: string; readonly reloadSeconds: number };
  /** The Temporal UI's base URL (TALON_TEMPORAL_UI_URL), for links in Kubernetes Events; none when unset. */
  readonly temporalUiUrl?: string;
  /**
   * Who this process is to Temporal (recorded on approvals, checked against the policy's approvers):
   * TALON_IDENTITY, else the mTLS client certificate's subject, else user@host.
   */
  readonly identity?: string;
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read ${what} from ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads and validates `env`. Endpoints it leaves unset come from `fallbacks`: by default the local stack's
 * under the same environment, so `npm start` and the tests need no variable at all.
 */
export function loadTalonConfig(env: NodeJS.ProcessEnv = process.env, fallbacks?: LocalFallbacks): TalonConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const e = parsed.data;
  const local = fallbacks ?? localStackFallbacks(env);
  let tls: TalonConfig['temporal']['tls'];
  if (e.TALON_TEMPORAL_TLS === 'true' || e.TALON_TEMPORAL_TLS_CERT) {
    if (e.TALON_TEMPORAL_TLS_CERT && !e.TALON_TEMPORAL_TLS_KEY)
      throw new Error('TALON_TEMPORAL_TLS_CERT needs TALON_TEMPORAL_TLS_KEY');
    tls =
      e.TALON_TEMPORAL_TLS_CERT || e.TALON_TEMPORAL_TLS_CA
        ? {
            ...(e.TALON_TEMPORAL_TLS_CERT && e.TALON_TEMPORAL_TLS_KEY
              ? {
                  clientCertPair: {
                    crt: readFileSync(e.TALON_TEMPORAL_TLS_CERT),
                    key: readFileSync(e.TALON_TEMPORAL_TLS_KEY),
                  },
                }
              : {}),
            ...(e.TALON_TEMPORAL_TLS_CA ? { serverRootCACertificate: readFileSync(e.TALON_TEMPORAL_TLS_CA) } : {}),
          }
        : true;
  }
  const tokenFile =
    e.TALON_WEBHOOK_TOKEN_FILE ?? (existsSync(local.webhookTokenFile) ? local.webhookTokenFile : undefined);
  const bearerToken = e.TALON_WEBHOOK_TOKEN ?? (tokenFile ? readSecretFile(tokenFile, 'the webhook token') : undefined);
  if ((e.TALON_WEBHOOK_BASIC_USER === undefined) !== (e.TALON_WEBHOOK_BASIC_PASSWORD === undefined)) {
    throw new Error('TALON_WEBHOOK_BASIC_USER and TALON_WEBHOOK_BASIC_PASSWORD go together');
  }
  const guards = guardsFromEnv(e);
  const inCluster = e.KUBERNETES_SERVICE_HOST !== undefined && e.TALON_KUBECONFIG === undefined;
  const kubeconfigPath = e.TALON_KUBECONFIG ?? (inCluster ? undefined : local.kubeconfigPath);
  return {
    temporal: {
      address: e.TALON_TEMPORAL_ADDRESS ?? local.temporalAddress,
      namespace: e.TALON_TEMPORAL_NAMESPACE,
      taskQueue: e.TALON_TASK_QUEUE,
      ...(tls !== undefined ? { tls } : {}),
      ...(e.TALON_TEMPORAL_API_KEY ? { apiKey: e.TALON_TEMPORAL_API_KEY } : {}),
    },
    kube: { inCluster, ...(kubeconfigPath ? { kubeconfigPath } : {}) },
    webhook: {
      host: e.TALON_WEBHOOK_HOST,
      port: local.webhookPort,
      ...(bearerToken ? { bearerToken } : {}),
      ...(e.TALON_WEBHOOK_BASIC_USER && e.TALON_WEBHOOK_BASIC_PASSWORD
        ? { basic: { username: e.TALON_WEBHOOK_BASIC_USER, password: e.TALON_WEBHOOK_BASIC_PASSWORD } }
        : {}),
      insecure: e.TALON_WEBHOOK_INSECURE === 'true',
      bodyLimit: e.TALON_WEBHOOK_BODY_LIMIT.toLowerCase(),
      handoffTimeoutMs: e.TALON_WEBHOOK_HANDOFF_TIMEOUT_MS,
      maxInflightAlerts: e.TALON_WEBHOOK_MAX_INFLIGHT_ALERTS,
      overloadRetryAfterSeconds: e.TALON_WEBHOOK_OVERLOAD_RETRY_AFTER_SECONDS,
      intake: {
        mode: e.TALON_WEBHOOK_INTAKE,
        shards: e.TALON_WEBHOOK_INTAKE_SHARDS,
        maxBatch: e.TALON_WEBHOOK_INTAKE_MAX_BATCH,
        maxPending: e.TALON_WEBHOOK_INTAKE_MAX_PENDING,
      },
    },
    prometheusUrl: e.TALON_PROMETHEUS_URL ?? local.prometheusUrl,
    influx: {
      url: e.TALON_INFLUX_URL ?? local.influx.url,
      token: e.TALON_INFLUX_TOKEN ?? local.influx.token,
      org: e.TALON_INFLUX_ORG ?? local.influx.org,
      bucket: e.TALON_INFLUX_BUCKET ?? local.influx.bucket,
    },
    modelPath: e.TALON_MODEL_PATH,
    learning: learningConfigFromEnv(env),
    worker: {
      shutdownGraceSeconds: e.TALON_WORKER_SHUTDOWN_GRACE_SECONDS,
      faultHolds: parseFaultHolds(e.TALON_FAULT_HOLD),
      ...(e.TALON_WORKFLOW_BUNDLE ? { workflowBundlePath: existingBundle(e.TALON_WORKFLOW_BUNDLE) } : {}),
      maxCachedWorkflows: e.TALON_WORKER_MAX_CACHED_WORKFLOWS,
      intakeDispatchConcurrency: e.TALON_INTAKE_DISPATCH_CONCURRENCY,
      ...(e.TALON_WORKER_METRICS_PORT > 0
        ? { http: { host: e.TALON_WORKER_METRICS_HOST, port: e.TALON_WORKER_METRICS_PORT } }
        : {}),
    },
    resolveWithin: e.TALON_RESOLVE_WITHIN,
    windowStepSeconds:
      e.TALON_WINDOW_STEP_SECONDS ??
      (e.TALON_PROMETHEUS_URL === undefined
        ? DEFAULT_WINDOW_STEP_SECONDS.localStack
        : DEFAULT_WINDOW_STEP_SECONDS.cluster),
    talonNamespace: e.TALON_NAMESPACE,
    guards,
    rules: rulesFromEnv(e.TALON_RULES, e.TALON_NETWORK_CEILING_MBPS),
    actions: {
      networkCeilingMbps: e.TALON_NETWORK_CEILING_MBPS,
      effectDeadlineSeconds: e.TALON_EFFECT_DEADLINE_SECONDS,
      dataOffloadEffectFraction: e.TALON_DATA_OFFLOAD_EFFECT_FRACTION,
      offloadReleaseAfterSeconds: e.TALON_OFFLOAD_RELEASE_AFTER_SECONDS,
      offloadRecoveredBelow: e.TALON_OFFLOAD_RECOVERED_BELOW,
      offloadCheckEverySeconds: e.TALON_OFFLOAD_CHECK_EVERY_SECONDS,
    },
    ...(e.TALON_POLICY_FILE
      ? { policy: { path: e.TALON_POLICY_FILE, reloadSeconds: e.TALON_POLICY_RELOAD_SECONDS } }
      : {}),
    ...(e.TALON_TEMPORAL_UI_URL ? { temporalUiUrl: e.TALON_TEMPORAL_UI_URL } : {}),
    ...(e.TALON_IDENTITY ? { identity: e.TALON_IDENTITY } : {}),
  };
}

function existingBundle(path: string): string {
  if (!existsSync(path)) {
    throw new Error(
      `TALON_WORKFLOW_BUNDLE: ${path} does not exist (build it with \`npm run build\` or \`talon bundle-workflows --out ${path}\`, or unset the variable to bundle at start)`,
    );
  }
  return path;
}

function guardsFromEnv(e: z.infer<typeof envSchema>): GuardConfigInput {
  const bounds = (min: string | undefined, max: string | undefined, fallback: QuantityBounds) =>
    min === undefined && max === undefined ? undefined : { min: min ?? fallback.min, max: max ?? fallback.max };
  const cpu = bounds(e.TALON_CONTAINER_CPU_MIN, e.TALON_CONTAINER_CPU_MAX, DEFAULT_GUARD_CONFIG.containerCpu);
  const memory = bounds(
    e.TALON_CONTAINER_MEMORY_MIN,
    e.TALON_CONTAINER_MEMORY_MAX,
    DEFAULT_GUARD_CONFIG.containerMemory,
  );
  const [writes, window] = e.TALON_WRITE_BUDGET ? e.TALON_WRITE_BUDGET.slice(0, -1).split('/').map(Number) : [];
  const input: GuardConfigInput = {
    talonNamespace: e.TALON_NAMESPACE,
    ...(e.TALON_PROTECTED_NAMESPACES !== undefined
      ? {
          protectedNamespaces: e.TALON_PROTECTED_NAMESPACES.split(',')
            .map((n) => n.trim())
            .filter(Boolean),
        }
      : {}),
    ...(cpu ? { containerCpu: cpu } : {}),
    ...(memory ? { containerMemory: memory } : {}),
    ...(e.TALON_REPLICAS_MIN !== undefined || e.TALON_REPLICAS_MAX !== undefined
      ? {
          replicas: {
            ...(e.TALON_REPLICAS_MIN !== undefined ? { min: e.TALON_REPLICAS_MIN } : {}),
            ...(e.TALON_REPLICAS_MAX !== undefined ? { max: e.TALON_REPLICAS_MAX } : {}),
          },
        }
      : {}),
    ...(writes !== undefined && window !== undefined
      ? { writeBudget: { maxWrites: writes, windowSeconds: window } }
      : {}),
    dryRun: e.TALON_DRY_RUN === 'true',
  };
  try {
    guardConfig(input); // refuse a bad configuration at start, not at the first remediation
  } catch (err) {
    throw new Error(`invalid configuration: guardrails: ${err instanceof Error ? err.message : String(err)}`);
  }
  return input;
}
