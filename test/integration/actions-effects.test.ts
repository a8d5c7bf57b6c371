/**
 * Data offloading and network QoS on the live stack, verified by their effect on the pod's own series, never
 * by the annotation Talon wrote. The pod's usage comes from its KWOK annotations; a cooperating stand-in plays
 * the other party of each contract (the application for data offloading, Kube-OVN for the rate annotations,
 * test/support/contract-standins.ts). Each action is also run with nobody honouring it (and with an
 * application that refuses, or claims without doing): verification fails, and in the workflow the episode
 * escalates to the next policy. The rules choose each action from the gathered window (network and I/O
 * signals), and network QoS is reached through the REST face (an Alertmanager payload posted to the webhook).
 */
import { createMetricsActivities } from '../../activities/metrics';
import { createPolicyActivities } from '../../activities/policy';
import type { FeatureWindow } from '../../src/domain/window';
import { PrometheusRateProbe } from '../../src/metrics/effects';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG } from '../../src/metrics/queries';
import { readWorkloadContext } from '../../src/kube/workload-context';
import { enforceOvnRates, honourDataOffload, type StandIn } from '../support/contract-standins';
import {
  actuatorFixture,
  addNode,
  applyInput,
  createPod,
  expectationOf,
  remediationActivities,
  waitUntil,
  type ActuatorFixture,
} from '../support/kube-actuator';
import { podAlert, startRealWorker, startRemediation, stateWhen, type RealWorker } from '../support/real-worker';
import { loadTalonConfig } from '../../src/config/talon-config';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
/** Half of their CPU and memory limits: nothing but the I/O or the network calls for an action. */
const CALM = {
  cpu: { request: '1', limit: '1' },
  memory: { request: '256Mi', limit: '256Mi' },
  usageCpu: '500m',
  usageMemory: '128Mi',
};
const prometheus = new PrometheusClient({ url: loadTalonConfig(process.env).prometheusUrl });
const probe = new PrometheusRateProbe(prometheus, DEFAULT_METRICS_CONFIG);
const metrics = createMetricsActivities({ prometheus, gather: { stepSeconds: 5 } });

let f: ActuatorFixture;
let tier: string;
const standIns: StandIn[] = [];
/** Pods of the running test: deleted after it, so their real alerts resolve before a webhook listens. */
const pods: string[] = [];

beforeAll(async () => {
  f = await actuatorFixture('it-effects');
  tier = `${f.id}-t`;
  await addNode(f, 'n1', tier);
  await addNode(f, 'n2', tier);
});

afterEach(async () => {
  await Promise.all(standIns.splice(0).map((s) => s.stop()));
  await Promise.all(
    pods
      .splice(0)
      .map((name) =>
        f.clients.core
          .deleteNamespacedPod({ name, namespace: f.namespace, gracePeriodSeconds: 0 })
          .catch(() => undefined),
      ),
  );
});

afterAll(async () => {
  await f?.cleanup();
});

function activities(deadlineSeconds = 60) {
  return remediationActivities(f, {
    guards: { writeBudget: { maxWrites: 100, windowSeconds: 60 } },
    effects: { probe, scrapeSeconds: 5, deadlineSeconds },
  });
}

const policy = createPolicyActivities({
  workloadContext: (t) => readWorkloadContext(f.clients, t.namespace, t.pod),
});

/** The pod's window once Prometheus holds enough of it, signals included. */
async function windowOf(pod: string, signal: keyof NonNullable<FeatureWindow['signals']>): Promise<FeatureWindow> {
  return waitUntil(`a window with ${signal} for ${pod}`, 120_000, async () => {
    const g = await metrics.gatherWindow({ target: { namespace: f.namespace, pod }, withHistory: false });
    const column = g.kind === 'window' ? g.signals?.[signal] : undefined;
    // Wait until the newest steps carry the configured rate (the first steps of a counter read as 0).
    return g.kind === 'window' && column && column.slice(-3).every((v) => v > 0) ? g : undefined;
  });
}

async function ioPod(name: string): Promise<void> {
  pods.push(name);
  await createPod(f, name, {
    tier,
    ...CALM,
    annotations: { 'kwok.x-k8s.io/usage-fs-write': '200Mi', 'kwok.x-k8s.io/usage-fs-read': '20Mi' },
  });
}

async function congestedPod(name: string): Promise<void> {
  pods.push(name);
  await createPod(f, name, {
    tier,
    ...CALM,
    // 960 Mbit/s in, 80 Mbit/s out, 300 packets dropped per second: congesting a 1000 Mbit/s link.
    annotations: {
      'kwok.x-k8s.io/usage-network-receive': '120M',
      'kwok.x-k8s.io/usage-network-transmit': '10M',
      'kwok.x-k8s.io/usage-network-receive-drops': '300',
    },
  });
}

const ioNow = (pod: string) =>
  probe.podRate(
    { namespace: f.namespace, pod },
    { signals: ['fs_read_bytes', 'fs_write_bytes'] },
    Date.now() / 1000,
    11,
  );

describe('data offloading (the contract of docs/ACTUATOR.md)', () => {
  it('the rules choose it on heavy I/O; the application honours it; verified because the I/O dropped', async () => {
    await ioPod('store');
    const decision = await policy.decidePolicy(await windowOf('store', 'fs_write_bytes'));
    expect(decision.ranked[0]).toMatchObject({ policy: 'data_offloading' });
    const share = Math.round(decision.ranked[0]!.magnitude * 100) / 100;
    expect(share).toBeCloseTo(1 - (0.7 * 100) / 220, 1);

    standIns.push(honourDataOffload(f.clients.core, f.namespace, 'store'));
    const a = activities();
    const applied = await a.applyPolicy(applyInput(f, 'data_offloading', 'store', share, `${f.id}-do-1`));
    expect(expectationOf(applied)).toMatchObject({ kind: 'io-drop', share, requestId: `${f.id}-do-1` });
    const verified = await a.verifyPolicy({ applied });
    expect(verified.ok).toBe(true);
    expect(verified.observed).toMatch(
      /data offload .* took effect: disk I\/O \d+\.\d+ MiB\/s → \d+\.\d+ MiB\/s .*application says done/,
    );
    // The effect, read independently: the pod's I/O is now at most what the contract asked.
    expect((await ioNow('store'))!).toBeLessThanOrEqual(220 * MiB * (1 - share) * 1.1);
    const pod = await f.clients.core.readNamespacedPod({ name: 'store', namespace: f.namespace });
    expect(pod.metadata!.annotations).toMatchObject({
      'talon.io/data-offload-ack': `${f.id}-do-1`,
      'talon.io/data-offload-state': 'done',
    });
  });

  it('nobody honours it: the annotation is there, the I/O is not lower, verification fails at the deadline', async () => {
    await ioPod('ignored');
    await windowOf('ignored', 'fs_write_bytes');
    const a = activities(25);
    const applied = await a.applyPolicy(applyInput(f, 'data_offloading', 'ignored', 0.5, `${f.id}-do-2`));
    const verified = await a.verifyPolicy({ applied });
    expect(verified.ok).toBe(false);
    expect(verified.observed).toMatch(
      /^no effect within 25 s: disk I\/O \d+\.\d+ MiB\/s before, 2[12]\d\.\d+ MiB\/s now .*no acknowledgement/,
    );
  });

  it('an application that refuses fails at once with its reason; one that claims without moving data fails too', async () => {
    await ioPod('refuser');
    await ioPod('boaster');
    await windowOf('boaster', 'fs_write_bytes');
    standIns.push(honourDataOffload(f.clients.core, f.namespace, 'refuser', { refuse: 'no remote store configured' }));
    standIns.push(honourDataOffload(f.clients.core, f.namespace, 'boaster', { claimOnly: true }));
    const a = activities(25);
    const started = Date.now();
    const refused = await a.verifyPolicy({
      applied: await a.applyPolicy(applyInput(f, 'data_offloading', 'refuser', 0.5, `${f.id}-do-3`)),
    });
    expect(refused).toEqual({
      ok: false,
      observed: `the application refused the data offload ${f.id}-do-3: no remote store configured`,
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    const boasted = await a.verifyPolicy({
      applied: await a.applyPolicy(applyInput(f, 'data_offloading', 'boaster', 0.5, `${f.id}-do-4`)),
    });
    expect(boasted.ok).toBe(false);
    expect(boasted.observed).toMatch(/no effect within 25 s: .*application says done/);
  });
});

describe('network QoS (Kube-OVN rate annotations)', () => {
  it('the rules choose it on a congested link; Kube-OVN enforces it; verified because the rates are under the caps', async () => {
    await congestedPod('gateway');
    const decision = await policy.decidePolicy(await windowOf('gateway', 'network_receive_bytes'));
    expect(decision.ranked[0]).toMatchObject({ policy: 'network_qos' });
    const share = Math.round(decision.ranked[0]!.magnitude * 100) / 100;
    expect(share).toBeCloseTo(0.67, 1); // 70 % of 960 Mbit/s, of a 1000 Mbit/s ceiling

    standIns.push(enforceOvnRates(f.clients.core, f.namespace, 'gateway'));
    const a = activities();
    const applied = await a.applyPolicy(applyInput(f, 'network_qos', 'gateway', share, `${f.id}-qos-1`));
    const cap = Math.round(share * 1000);
    expect(expectationOf(applied)).toMatchObject({ kind: 'rate-cap', ingressMbps: cap, egressMbps: cap });
    const verified = await a.verifyPolicy({ applied });
    expect(verified.ok).toBe(true);
    expect(verified.observed).toMatch(new RegExp(`rates under the caps: in \\d+\\.\\d Mbit/s \\(cap ${cap}\\)`));
    const rx = await probe.podRate(
      { namespace: f.namespace, pod: 'gateway' },
      { signals: ['network_receive_bytes'] },
      Date.now() / 1000,
      11,
    );
    expect((rx! * 8) / 1e6).toBeLessThanOrEqual(cap * 1.05);
  });

  it('nobody enforces the annotations: the pod still floods the link, verification fails at the deadline', async () => {
    await congestedPod('unshaped');
    await windowOf('unshaped', 'network_receive_bytes');
    const a = activities(25);
    const applied = await a.applyPolicy(applyInput(f, 'network_qos', 'unshaped', 0.5, `${f.id}-qos-2`));
    const verified = await a.verifyPolicy({ applied });
    expect(verified.ok).toBe(false);
    expect(verified.observed).toMatch(/^no effect within 25 s: in 9\d\d\.\d Mbit\/s \(cap 500\)/);
  });
});

describe('in the workflow', () => {
  let w: RealWorker;
  beforeAll(async () => {
    w = await startRealWorker({ TALON_MODEL_PATH: '', TALON_EFFECT_DEADLINE_SECONDS: '25' });
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('a data offload nobody honours ends in a failed verification, and the episode escalates to the next policy', async () => {
    await ioPod('hoarder');
    await windowOf('hoarder', 'fs_write_bytes');
    const handle = await startRemediation(
      w,
      podAlert('TalonPodIoHigh', f.namespace, 'hoarder', { talon_resource: 'io' }),
      {
        maxAttempts: 2,
        cooldown: { defaultSeconds: 2, minSeconds: 1, maxSeconds: 5, historyFactor: 1 },
      },
    );
    const state = await stateWhen(handle, 'a second attempt', (s) => s.attempts.length >= 2);
    expect(state.attempts[0]).toMatchObject({ policy: 'data_offloading', applied: true, verified: false });
    expect(state.attempts[0]!.detail).toMatch(/^no effect within 25 s/);
    // The request nobody honoured is withdrawn before the next policy, and the withdrawal verified on the pod
    // (read before the next policy recreates it).
    expect(state.attempts[0]!.rolledBack).toMatch(
      /rolled back data_offloading on Pod .*annotation talon\.io\/data-offload 0\.\d+→∅.*\(pod .*: annotations match\)$/,
    );
    expect(state.attempts[0]!.fallbackReason ?? '').not.toMatch(/too little data|metrics unavailable/);
    expect(state.attempts[1]!.policy).toBe('task_offloading');
    // A workload's remediation outlives its episode (it watches for a re-fire): end it here.
    await w.client.cancel(handle.workflowId, 'test', 'done');
    await handle.result().catch(() => undefined);
  });

  it('network QoS through the REST face: an Alertmanager payload posted to the webhook reaches network_qos, verified by effect', async () => {
    await congestedPod('edge-proxy');
    await windowOf('edge-proxy', 'network_receive_bytes');
    standIns.push(enforceOvnRates(f.clients.core, f.namespace, 'edge-proxy'));
    const hook = await w.startWebhook();
    const labels = {
      alertname: 'TalonPodNetworkCongested',
      namespace: f.namespace,
      pod: 'edge-proxy',
      talon_scope: 'pod',
      talon_resource: 'network',
      severity: 'warning',
    };
    const response = await fetch(`${hook.url}/api/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.config.webhook.bearerToken!}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        version: '4',
        groupKey: 'it',
        status: 'firing',
        receiver: 'talon',
        groupLabels: {},
        commonLabels: labels,
        commonAnnotations: {},
        externalURL: 'http://it',
        alerts: [
          { status: 'firing', labels, annotations: {}, startsAt: new Date().toISOString(), fingerprint: `${f.id}qos` },
        ],
      }),
    });
    expect(response.status).toBeLessThan(300);
    const started = await waitUntil('the remediation the webhook started', 60_000, async () =>
      (await w.client.list(`TalonNamespace = "${f.namespace}"`)).find(
        (s) => s.alertName === 'TalonPodNetworkCongested' && s.target === `${f.namespace}/edge-proxy`,
      ),
    );
    const handle = w.client.temporal.workflow.getHandle(started.workflowId);
    const state = await stateWhen(handle, 'the first attempt verified', (s) => s.attempts[0]?.verified !== undefined);
    expect(state.attempts[0]).toMatchObject({ policy: 'network_qos', applied: true, verified: true });
    expect(state.attempts[0]!.detail).toMatch(/^rates under the caps/);
    expect(state.attempts[0]!.fallbackReason ?? '').not.toMatch(/too little data|metrics unavailable/);
    await w.client.cancel(started.workflowId, 'test', 'done');
    await handle.result().catch(() => undefined);
  });
});
