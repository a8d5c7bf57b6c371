/**
 * The predictive watch's parts below the workflow: the predicted alert (it reaches the workload's own remediation),
 * when predicted alerts fire and resolve, the forecast round activity over a scripted usage reader, the usage
 * reader over a scripted Prometheus, a workload remediation's members (a real alert outranks a forecast), and the
 * worker's starter.
 */
import type { Client } from '@temporalio/client';
import { createPredictiveActivities } from '../../activities/predictive';
import { parsePolicyFile } from '../../src/config/policy-file';
import { alertWorkflowId, alertWorkload, type TalonAlert } from '../../src/domain/alert';
import { AlertMembers } from '../../src/domain/alert-members';
import { isPredicted } from '../../src/domain/autonomy';
import { chooseCandidate, forecastCandidate } from '../../src/domain/escalation';
import type { PolicyDecision } from '../../src/domain/policy';
import {
  DEFAULT_PREDICTIVE,
  FORECAST_ANNOTATIONS,
  predictedAlert,
  predictedKey,
  reconcile,
  type ForecastBreach,
} from '../../src/domain/predictive';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/queries';
import {
  namespaceRegex,
  readUsage,
  usageQueries,
  type ContainerUsage,
  type UsageRequest,
} from '../../src/metrics/usage';
import { keepPredictiveWatch } from '../../workers/operator';

const AT = '2026-11-25T10:00:00.000Z';
const breach = (pod: string, over: Partial<ForecastBreach> = {}): ForecastBreach => ({
  namespace: 'shop',
  pod,
  container: 'app',
  resource: 'cpu',
  inSeconds: 120,
  probability: 0.93,
  thresholdShare: 0.8,
  lastShare: 0.71,
  peakShare: 0.9,
  model: 'holt',
  detail: 'usage at 71% of the limit will cross 80% in about 120s',
  ...over,
});
const settings = { confidence: 0.9, horizonSeconds: 300, resolveAfter: 2 };

describe('the predicted alert', () => {
  test('reads like the alert rule’s, marked predicted, with the forecast in its annotations', () => {
    const alert = predictedAlert(breach('web-7c9f8b6d4-x2x9z'), settings, AT);
    expect(alert).toMatchObject({
      source: 'api',
      alertName: 'TalonPredictedCpuSaturation',
      status: 'firing',
      target: { kind: 'pod', namespace: 'shop', pod: 'web-7c9f8b6d4-x2x9z', container: 'app' },
      labels: { talon_scope: 'pod', talon_resource: 'cpu', talon_predicted: 'true', severity: 'warning' },
      startsAt: AT,
    });
    expect(isPredicted(alert.labels)).toBe(true);
    expect(alert.annotations[FORECAST_ANNOTATIONS.inSeconds]).toBe('120');
    expect(alert.annotations[FORECAST_ANNOTATIONS.probability]).toBe('0.930');
    expect(alert.summary).toBe(
      'Forecast: container app of shop/web-7c9f8b6d4-x2x9z reaches 80% of its CPU limit in about 120s (P = 93%; now 71%)',
    );
    // The workload's own remediation: a real alert of the same pod joins the same workflow.
    expect(alertWorkflowId(alert)).toBe('remediate/shop/web');
    expect(alertWorkload(alert)).toBe('web');
    // The same container always has the same fingerprint, whatever the forecast says.
    expect(predictedAlert(breach('web-7c9f8b6d4-x2x9z', { inSeconds: 30 }), settings, AT).fingerprint).toBe(
      alert.fingerprint,
    );
    expect(alert.fingerprint).toBe(predictedKey(breach('web-7c9f8b6d4-x2x9z')));
    expect(predictedAlert(breach('db-0', { resource: 'memory' }), settings, AT).alertName).toBe(
      'TalonPredictedMemorySaturation',
    );
  });
});

describe('firing and resolving', () => {
  test('a new breach fires once; it resolves after resolveAfter rounds without one, or at once on a handover', () => {
    const a = breach('web-1');
    const b = breach('web-2');
    const first = reconcile({}, { breaches: [a, b], handovers: [] }, settings, AT);
    expect(first.fire.map((x) => x.target)).toEqual([
      expect.objectContaining({ pod: 'web-1' }),
      expect.objectContaining({ pod: 'web-2' }),
    ]);
    expect(first.resolve).toEqual([]);
    // Still forecast: nothing sent again.
    const second = reconcile(first.firing, { breaches: [a], handovers: [predictedKey(b)] }, settings, AT);
    expect(second.fire).toEqual([]);
    // web-2 is over its threshold now: the alert rule's case, resolved at once.
    expect(second.resolve).toEqual([
      expect.objectContaining({ status: 'resolved', endsAt: AT, fingerprint: predictedKey(b) }),
    ]);
    const quiet1 = reconcile(second.firing, { breaches: [], handovers: [] }, settings, AT);
    expect(quiet1.resolve).toEqual([]);
    expect(quiet1.firing[predictedKey(a)]!.quiet).toBe(1);
    // A breach again resets the count.
    const back = reconcile(quiet1.firing, { breaches: [a], handovers: [] }, settings, AT);
    expect(back.fire).toEqual([]);
    expect(back.firing[predictedKey(a)]!.quiet).toBe(0);
    const quiet2 = reconcile(
      reconcile(back.firing, { breaches: [], handovers: [] }, settings, AT).firing,
      { breaches: [], handovers: [] },
      settings,
      AT,
    );
    expect(quiet2.resolve.map((x) => x.target)).toEqual([expect.objectContaining({ pod: 'web-1' })]);
    expect(quiet2.firing).toEqual({});
    // A container already over its threshold never gets a predicted alert.
    expect(reconcile({}, { breaches: [a], handovers: [predictedKey(a)] }, settings, AT).fire).toEqual([]);
  });
});

describe('the policy a predicted alert tries first', () => {
  const rulesNow: PolicyDecision = {
    source: 'rules',
    ranked: [
      { policy: 'no_action', score: 0.6, magnitude: 1, reason: 'nothing breaches now' },
      { policy: 'memory_scale_up', score: 0.3, magnitude: 1.2, reason: 'memory at 70 %' },
    ],
  };
  const forecast = predictedAlert(breach('web-1'), settings, AT);

  test('the raise of the forecast resource, whatever the engine made of the window as it is now', () => {
    expect(chooseCandidate(rulesNow, forecast, new Set())?.candidate).toMatchObject({
      policy: 'cpu_scale_up',
      magnitude: 1.5,
    });
    const proposed: PolicyDecision = {
      ...rulesNow,
      ranked: [...rulesNow.ranked, { policy: 'cpu_scale_up', score: 0.1, magnitude: 1.25, reason: 'cpu at 72 %' }],
    };
    expect(chooseCandidate(proposed, forecast, new Set())?.candidate).toMatchObject({
      policy: 'cpu_scale_up',
      magnitude: 1.25,
    });
    // Tried already: the engine's next relevant one.
    expect(chooseCandidate(rulesNow, forecast, new Set(['cpu_scale_up']))?.candidate.policy).toBe('memory_scale_up');
    const memory = predictedAlert(breach('db-0', { resource: 'memory' }), settings, AT);
    expect(chooseCandidate(rulesNow, memory, new Set())?.candidate).toMatchObject({
      policy: 'memory_scale_up',
      magnitude: 1.2,
    });
  });

  test('a real alert is decided as before', () => {
    const real = { alertName: 'TalonPodCpuNearLimit', labels: { talon_resource: 'cpu' } };
    expect(forecastCandidate(real, rulesNow)).toBeUndefined();
    expect(chooseCandidate(rulesNow, real, new Set())?.candidate.policy).toBe('memory_scale_up');
  });
});

describe('a workload remediation’s members', () => {
  const realAlert = (pod: string): TalonAlert => ({
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint: `real-${pod}`,
    target: { kind: 'pod', namespace: 'shop', pod, container: 'app' },
    labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
    annotations: {},
    startsAt: AT,
  });

  test('a real alert is acted on before a forecast, even an older one', () => {
    const members = new AlertMembers(realAlert('web-1'));
    members.fired(predictedAlert(breach('web-2'), settings, AT));
    expect(members.target()?.pod.pod).toBe('web-1');
    expect(members.firingObserved).toBe(true);
    members.resolved(realAlert('web-1'));
    expect(members.firing).toBe(true);
    expect(members.firingObserved).toBe(false);
    expect(members.target()?.pod.pod).toBe('web-2');
  });
});

describe('the forecast round', () => {
  const policyText = (predictive: string) =>
    `apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: '1'\nprotectedNamespaces: [kube-system, 'infra-*']\n${predictive}`;
  const ramp = (from: number, per: number) => Array.from({ length: 60 }, (_, i) => from + per * i);

  function round(predictive: string, usage: ContainerUsage[]) {
    const requests: UsageRequest[] = [];
    const activities = createPredictiveActivities({
      policy: () => parsePolicyFile(policyText(predictive), 'policy.yaml'),
      usage: async (request) => {
        requests.push(request);
        return usage;
      },
      talonNamespace: 'talon-system',
    });
    return { activities, requests };
  }

  test('off by default: reads nothing and says so', async () => {
    const { activities, requests } = round('', []);
    await expect(activities.forecastBreaches({ at: 1_800_000_000 })).resolves.toMatchObject({
      enabled: false,
      breaches: [],
      intervalSeconds: DEFAULT_PREDICTIVE.intervalSeconds,
    });
    expect(requests).toEqual([]);
    const none = createPredictiveActivities({
      policy: () => undefined,
      usage: () => Promise.reject(new Error('read')),
      talonNamespace: 't',
    });
    await expect(none.forecastBreaches({ at: 1 })).resolves.toMatchObject({ enabled: false });
  });

  test('enabled: forecasts every series, reports breaches, handovers and refusals', async () => {
    const usage: ContainerUsage[] = [
      // 2 cores limit, from 0.8 cores up by 0.016 a step: 1.74 now, over 1.6 in a few steps' time.
      { namespace: 'shop', pod: 'web-1', container: 'app', resource: 'cpu', limit: 2, samples: ramp(0.6, 0.016) },
      { namespace: 'shop', pod: 'web-2', container: 'app', resource: 'cpu', limit: 2, samples: ramp(1, 0.02) },
      { namespace: 'shop', pod: 'web-3', container: 'app', resource: 'cpu', limit: 2, samples: ramp(0.5, 0) },
      { namespace: 'other', pod: 'x-1', container: 'app', resource: 'cpu', limit: 2, samples: ramp(0.6, 0.016) },
    ];
    const { activities, requests } = round('predictive:\n  enabled: true\n  namespaces: [shop]\n', usage);
    const tick = await activities.forecastBreaches({ at: 1_800_000_000 });
    expect(requests).toEqual([
      {
        namespaces: ['shop'],
        exclude: ['kube-system', 'infra-*', 'talon-system'],
        resources: ['cpu', 'memory'],
        end: 1_800_000_000,
        lookbackSeconds: 1800,
        stepSeconds: 30,
        rateSeconds: 60,
      },
    ]);
    expect(tick).toMatchObject({ enabled: true, forecast: 3, clear: 0, refused: { already_breaching: 1, flat: 1 } });
    expect(tick.policyVersion).toMatch(/^1@/);
    expect(tick.breaches).toEqual([expect.objectContaining({ pod: 'web-1', resource: 'cpu', thresholdShare: 0.8 })]);
    expect(tick.breaches[0]!.inSeconds).toBeLessThanOrEqual(300);
    expect(tick.handovers).toEqual([
      predictedKey({ namespace: 'shop', pod: 'web-2', container: 'app', resource: 'cpu' }),
    ]);
  });

  test('an invalid round is refused as invalid input', async () => {
    const { activities } = round('', []);
    await expect(activities.forecastBreaches({ at: -1 })).rejects.toMatchObject({ type: 'InvalidInput' });
  });
});

describe('the usage reader', () => {
  test('namespace patterns become one regex; the PromQL groups like the alert rules', () => {
    expect(namespaceRegex(['*'])).toBe('.+');
    expect(namespaceRegex(['shop', 'team-*', '*-prod'])).toBe('shop|team-.*|.*-prod');
    const q = usageQueries(DEFAULT_METRICS_CONFIG, { namespaces: ['shop'], exclude: ['kube-*'], rateSeconds: 60 });
    expect(q.usage.cpu).toBe(
      'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace=~"shop",namespace!~"kube-.*",container!~"|POD"}[60s]))',
    );
    expect(q.usage.memory).toContain('max by (namespace, pod, container) (container_memory_working_set_bytes{');
    expect(q.limits).toBe(
      'max by (namespace, pod, container, resource) (kube_pod_container_resource_limits{namespace=~"shop",namespace!~"kube-.*",resource=~"cpu|memory"}) > 0',
    );
  });

  test('puts each container with a limit on the grid, gaps as null', async () => {
    const end = 1_800_000_000;
    const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = input instanceof Request ? input.url : input.toString();
      const params = init?.body instanceof URLSearchParams ? init.body : new URLSearchParams();
      if (url.endsWith('/api/v1/query_range')) {
        expect(params.get('start')).toBe(String(end - 3 * 30));
        expect(params.get('end')).toBe(String(end));
        const row = (pod: string, values: [number, string][]) => ({
          metric: { namespace: 'shop', pod, container: 'app' },
          values,
        });
        return Response.json({
          status: 'success',
          data: {
            resultType: 'matrix',
            result: [
              row('web-1', [
                [end - 90, '0.1'],
                [end - 30, '0.3'],
                [end, '0.4'],
              ]),
              row('no-limit', [[end, '0.4']]),
            ],
          },
        });
      }
      expect(params.get('time')).toBe(String(end));
      return Response.json({
        status: 'success',
        data: {
          resultType: 'vector',
          result: [
            { metric: { namespace: 'shop', pod: 'web-1', container: 'app', resource: 'cpu' }, value: [end, '0.5'] },
          ],
        },
      });
    };
    const client = new PrometheusClient({ url: 'http://prometheus', fetch: fetchFn, retries: 0 });
    const usage = await readUsage(client, DEFAULT_METRICS_CONFIG, {
      namespaces: ['shop'],
      resources: ['cpu'],
      end: end + 7,
      lookbackSeconds: 120,
      stepSeconds: 30,
      rateSeconds: 60,
    });
    expect(usage).toEqual([
      {
        namespace: 'shop',
        pod: 'web-1',
        container: 'app',
        resource: 'cpu',
        limit: 0.5,
        samples: [0.1, null, 0.3, 0.4],
      },
    ]);
  });
});

describe('the worker’s starter', () => {
  test('starts the watch once per policy version that enables it, and again after a failed start', async () => {
    let text = `apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: '1'\n`;
    const store = { current: () => parsePolicyFile(text, 'p.yaml') };
    const starts: string[] = [];
    let fail = false;
    const start = async (_temporal: Client, queue: string): Promise<'started' | 'running'> => {
      starts.push(queue);
      if (fail) throw new Error('Temporal unavailable');
      return 'started';
    };
    const lines: string[] = [];
    const check = keepPredictiveWatch(store, {} as Client, 'q', (l) => lines.push(l), start);
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    check();
    await settle();
    expect(starts).toEqual([]);
    text += 'predictive:\n  enabled: true\n';
    fail = true;
    check();
    await settle();
    expect(starts).toEqual(['q']);
    expect(lines.at(-1)).toMatch(/not started, trying again: Temporal unavailable/);
    fail = false;
    check();
    await settle();
    check();
    await settle();
    expect(starts).toEqual(['q', 'q']);
    expect(lines.at(-1)).toMatch(/^predictive watch started \(policy 1@/);
  });
});
