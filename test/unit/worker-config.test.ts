/**
 * Talon's environment configuration: guardrails are configurable and a bad value stops the process at start
 * with a message naming the variable, rather than at the first remediation.
 */
import { DEFAULT_WEBHOOK_SETTINGS, webhookSettings } from '../../src/config/defaults';
import type { LocalFallbacks } from '../../src/config/local-stack';
import { loadTalonConfig } from '../../src/config/talon-config';
import { guardConfig } from '../../src/domain/guards';

const base = { TALON_TEMPORAL_ADDRESS: '127.0.0.1:1' };

describe('guardrail configuration', () => {
  it('defaults to the built-in guards with Talon’s namespace protected and dry-run off', () => {
    const guards = guardConfig(loadTalonConfig({ ...base, TALON_NAMESPACE: 'talon-x' }).guards);
    expect(guards.protectedNamespaces).toEqual(expect.arrayContaining(['kube-system', 'talon-x']));
    expect(guards.writeBudget).toEqual({ maxWrites: 10, windowSeconds: 600 });
    expect(guards.dryRun).toBe(false);
  });

  it('reads every guard from the environment', () => {
    const guards = guardConfig(
      loadTalonConfig({
        ...base,
        TALON_PROTECTED_NAMESPACES: 'kube-system, payments ,',
        TALON_CONTAINER_CPU_MAX: '4',
        TALON_CONTAINER_MEMORY_MIN: '64Mi',
        TALON_REPLICAS_MAX: '12',
        TALON_WRITE_BUDGET: '3/120s',
        TALON_DRY_RUN: 'true',
      }).guards,
    );
    expect(guards.protectedNamespaces).toEqual(['kube-system', 'payments', 'talon-system']);
    expect(guards.containerCpu).toEqual({ min: '10m', max: '4' });
    expect(guards.containerMemory).toEqual({ min: '64Mi', max: '64Gi' });
    expect(guards.replicas).toEqual({ min: 1, max: 12 });
    expect(guards.writeBudget).toEqual({ maxWrites: 3, windowSeconds: 120 });
    expect(guards.dryRun).toBe(true);
  });

  it('bounds the workflow cache and serves the worker HTTP face only when asked', () => {
    const worker = loadTalonConfig({
      ...base,
      TALON_WORKER_MAX_CACHED_WORKFLOWS: '200',
      TALON_WORKER_METRICS_PORT: '0',
    }).worker;
    expect(worker.maxCachedWorkflows).toBe(200);
    // Bounded by default: the SDK's own default grows with the heap limit (gigabytes of RSS under load).
    expect(loadTalonConfig(base).worker.maxCachedWorkflows).toBe(100);
    expect(loadTalonConfig(base).worker.workflowBundlePath).toBeUndefined();
    expect(worker.http).toBeUndefined();
    expect(loadTalonConfig({ ...base, TALON_WORKER_METRICS_HOST: '0.0.0.0' }).worker.http).toEqual({
      host: '0.0.0.0',
      port: 9464,
    });
  });

  it('bounds webhook hand-offs: defaults, and values read from the environment', () => {
    expect(loadTalonConfig(base).webhook).toMatchObject({
      handoffTimeoutMs: 5_000,
      maxInflightAlerts: 64,
      overloadRetryAfterSeconds: 2,
    });
    expect(
      loadTalonConfig({
        ...base,
        TALON_WEBHOOK_HANDOFF_TIMEOUT_MS: '2500',
        TALON_WEBHOOK_MAX_INFLIGHT_ALERTS: '1',
        TALON_WEBHOOK_OVERLOAD_RETRY_AFTER_SECONDS: '10',
      }).webhook,
    ).toMatchObject({ handoffTimeoutMs: 2_500, maxInflightAlerts: 1, overloadRetryAfterSeconds: 10 });
  });

  it('configures the alert intake: spill by default, every knob from the environment', () => {
    expect(loadTalonConfig(base).webhook.intake).toEqual({
      mode: 'spill',
      shards: 4,
      maxBatch: 500,
      maxPending: 20_000,
    });
    expect(
      loadTalonConfig({
        ...base,
        TALON_WEBHOOK_INTAKE: 'always',
        TALON_WEBHOOK_INTAKE_SHARDS: '2',
        TALON_WEBHOOK_INTAKE_MAX_BATCH: '50',
        TALON_WEBHOOK_INTAKE_MAX_PENDING: '500',
      }).webhook.intake,
    ).toEqual({ mode: 'always', shards: 2, maxBatch: 50, maxPending: 500 });
  });

  it.each([
    [{ TALON_WEBHOOK_MAX_INFLIGHT_ALERTS: '0' }, /TALON_WEBHOOK_MAX_INFLIGHT_ALERTS/],
    [{ TALON_WEBHOOK_MAX_INFLIGHT_ALERTS: '-5' }, /TALON_WEBHOOK_MAX_INFLIGHT_ALERTS/],
    [{ TALON_WEBHOOK_MAX_INFLIGHT_ALERTS: '2.5' }, /TALON_WEBHOOK_MAX_INFLIGHT_ALERTS/],
    [{ TALON_WEBHOOK_MAX_INFLIGHT_ALERTS: 'many' }, /TALON_WEBHOOK_MAX_INFLIGHT_ALERTS/],
    [{ TALON_WEBHOOK_MAX_INFLIGHT_ALERTS: '' }, /TALON_WEBHOOK_MAX_INFLIGHT_ALERTS/],
    [{ TALON_WEBHOOK_HANDOFF_TIMEOUT_MS: '10' }, /TALON_WEBHOOK_HANDOFF_TIMEOUT_MS/],
    [{ TALON_WEBHOOK_OVERLOAD_RETRY_AFTER_SECONDS: '0' }, /TALON_WEBHOOK_OVERLOAD_RETRY_AFTER_SECONDS/],
    [{ TALON_WEBHOOK_INTAKE: 'sometimes' }, /TALON_WEBHOOK_INTAKE/],
    [{ TALON_WEBHOOK_INTAKE_SHARDS: '0' }, /TALON_WEBHOOK_INTAKE_SHARDS/],
    [{ TALON_WEBHOOK_INTAKE_SHARDS: '65' }, /TALON_WEBHOOK_INTAKE_SHARDS/],
    [{ TALON_WEBHOOK_INTAKE_MAX_BATCH: '1001' }, /TALON_WEBHOOK_INTAKE_MAX_BATCH/],
    [{ TALON_WEBHOOK_INTAKE_MAX_PENDING: 'lots' }, /TALON_WEBHOOK_INTAKE_MAX_PENDING/],
  ])('refuses webhook setting %j with a message naming it', (env, message) => {
    expect(() => loadTalonConfig({ ...base, ...env })).toThrow(message);
  });

  it.each([
    [{ TALON_WRITE_BUDGET: '10 per hour' }, /TALON_WRITE_BUDGET: writes per window, such as 10\/600s/],
    [{ TALON_CONTAINER_CPU_MAX: 'lots' }, /guardrails: .*cpu/i],
    [{ TALON_CONTAINER_CPU_MIN: '8', TALON_CONTAINER_CPU_MAX: '2' }, /guardrails: .*min <= max/],
    [{ TALON_REPLICAS_MAX: '0' }, /TALON_REPLICAS_MAX/],
    [{ TALON_DRY_RUN: 'yes' }, /TALON_DRY_RUN/],
    [{ TALON_WORKER_METRICS_PORT: '70000' }, /TALON_WORKER_METRICS_PORT/],
    [{ TALON_WORKER_MAX_CACHED_WORKFLOWS: '-1' }, /TALON_WORKER_MAX_CACHED_WORKFLOWS/],
    [
      { TALON_WORKFLOW_BUNDLE: '/nonexistent/workflow-bundle.js' },
      /TALON_WORKFLOW_BUNDLE: \/nonexistent\/workflow-bundle.js does not exist/,
    ],
    [{ TALON_FAULT_HOLD: 'applyPolicy:during:10' }, /TALON_FAULT_HOLD entry "applyPolicy:during:10"/],
  ])('refuses %j with a message naming it', (env, message) => {
    expect(() => loadTalonConfig({ ...base, ...env })).toThrow(message);
  });
});

describe('endpoint fallbacks', () => {
  const elsewhere: LocalFallbacks = {
    temporalAddress: 'temporal.test:7233',
    kubeconfigPath: '/cfg/kubeconfig.yaml',
    prometheusUrl: 'http://prom.test:9090',
    influx: { url: 'http://influx.test:8086', token: 't', org: 'o', bucket: 'b/autogen' },
    webhookPort: 18080,
    webhookTokenFile: '/nonexistent/webhook-token',
  };

  it('fills what the environment leaves unset from the fallbacks the caller passes', () => {
    const config = loadTalonConfig({}, elsewhere);
    expect(config.temporal.address).toBe('temporal.test:7233');
    expect(config.kube.kubeconfigPath).toBe('/cfg/kubeconfig.yaml');
    expect(config.prometheusUrl).toBe('http://prom.test:9090');
    expect(config.influx).toEqual(elsewhere.influx);
    expect(config.webhook.port).toBe(18080);
    expect(config.webhook.bearerToken).toBeUndefined(); // the token file does not exist
  });

  it('lets the environment win over every fallback', () => {
    const config = loadTalonConfig(
      {
        TALON_TEMPORAL_ADDRESS: 'a:1',
        TALON_KUBECONFIG: '/k',
        TALON_PROMETHEUS_URL: 'http://p',
        TALON_INFLUX_URL: 'http://i',
        TALON_WEBHOOK_TOKEN: 'tok',
      },
      elsewhere,
    );
    expect(config.temporal.address).toBe('a:1');
    expect(config.kube.kubeconfigPath).toBe('/k');
    expect(config.prometheusUrl).toBe('http://p');
    expect(config.influx.url).toBe('http://i');
    expect(config.webhook.bearerToken).toBe('tok');
    // The local stack scrapes every 5 s; a configured Prometheus is a real cluster's (30 s).
    expect(config.windowStepSeconds).toBe(30);
    expect(loadTalonConfig({}, elsewhere).windowStepSeconds).toBe(5);
  });

  it('falls back to the local stack under the same environment when no fallbacks are passed', () => {
    const config = loadTalonConfig({ HOME: '/home/x', TALON_TEMPORAL_PORT: '17233', TALON_WEBHOOK_PORT: '18081' });
    expect(config.temporal.address).toBe('127.0.0.1:17233');
    expect(config.kube.kubeconfigPath).toBe('/home/x/.cache/talon/stack/kubeconfig.yaml');
    expect(config.webhook.port).toBe(18081);
  });
});

describe('webhook settings without the environment', () => {
  it('are the environment defaults, each override replacing one field', () => {
    const env = loadTalonConfig(base).webhook;
    expect(webhookSettings()).toEqual({
      bodyLimit: env.bodyLimit,
      handoffTimeoutMs: env.handoffTimeoutMs,
      maxInflightAlerts: env.maxInflightAlerts,
      overloadRetryAfterSeconds: env.overloadRetryAfterSeconds,
      intake: env.intake,
    });
    expect(webhookSettings({ maxInflightAlerts: 3, handoffTimeoutMs: undefined, intake: { shards: 1 } })).toEqual({
      ...DEFAULT_WEBHOOK_SETTINGS,
      maxInflightAlerts: 3,
      intake: { ...DEFAULT_WEBHOOK_SETTINGS.intake, shards: 1 },
    });
  });
});
