/**
 * Talon's own rules (src/policy/talon-rules.ts) through the rule policy and the policy engine as the worker
 * builds them: replica scaling (D3.6 Rule 1 and scale-out), network QoS on congestion, data offloading on
 * heavy disk I/O, restarting a malfunctioning container; thresholds from configuration; the model's answer
 * supplemented with what it cannot see; and the workflow's choice function picking them for their alerts.
 */
import { chooseCandidate, irrelevanceOf, policiesFromAlert } from '../../src/domain/escalation';
import type { PolicyDecision, PolicyName } from '../../src/domain/policy';
import { mbitToBytes, type WindowSignals } from '../../src/domain/signals';
import type { FeatureWindow } from '../../src/domain/window';
import type { WorkloadContext } from '../../src/domain/workload-context';
import { createPolicyEngine, withSupplement } from '../../src/policy/breaker';
import { RuleConfigError } from '../../src/policy/rule-errors';
import { createRulePolicy, evaluateRules, ruleConfig } from '../../src/policy/rules';
import { fixtureWindow } from '../support/windows';

const exact = ruleConfig({ recentSteps: 1 });
const calm = { cpu_usage: 0.5, memory_usage: 0.5, system_cpu_usage: 0.3 };

function window(
  values: Parameters<typeof fixtureWindow>[0]['values'],
  extra: { signals?: WindowSignals; workload?: WorkloadContext } = {},
): FeatureWindow {
  return { ...fixtureWindow({ values }), ...extra };
}

const deployment = (replicas: number, more: Partial<WorkloadContext> = {}): WorkloadContext => ({
  kind: 'Deployment',
  name: 'web',
  replicas,
  readyReplicas: replicas,
  containers: [{ name: 'app', restarts: 0, ready: true }],
  ...more,
});

const ranked = (d: PolicyDecision) => d.ranked.map((r) => r.policy);
const entry = (d: PolicyDecision, p: PolicyName) => d.ranked.find((r) => r.policy === p);

describe('replica rules', () => {
  it('scale-out ranks above the resize for a workload already scaled out, below it for a single replica', () => {
    const hot = { ...calm, cpu_usage: 0.98 };
    const many = evaluateRules(window(hot, { workload: deployment(3) }), exact);
    expect(ranked(many)[0]).toBe('replica_scale_up');
    expect(ranked(many)[1]).toBe('cpu_scale_up');
    expect(entry(many, 'replica_scale_up')!.magnitude).toBeCloseTo(0.98 / 0.7, 2);
    expect(entry(many, 'replica_scale_up')!.reason).toContain('Deployment web (3 replicas)');

    const one = evaluateRules(window(hot, { workload: deployment(1) }), exact);
    expect(ranked(one)[0]).toBe('cpu_scale_up');
    expect(ranked(one)).toContain('replica_scale_up');
    expect(entry(one, 'replica_scale_up')!.score).toBeLessThan(entry(one, 'cpu_scale_up')!.score);
  });

  it('never proposes replicas for pods without a Deployment or StatefulSet, or without a context', () => {
    const hot = { ...calm, cpu_usage: 0.98 };
    for (const workload of [
      undefined,
      { ...deployment(3), kind: 'DaemonSet' as const },
      { ...deployment(3), kind: 'Pod' as const },
    ]) {
      const d = evaluateRules(window(hot, workload ? { workload } : {}), exact);
      expect(ranked(d)).not.toContain('replica_scale_up');
      expect(ranked(d)).not.toContain('replica_scale_down');
    }
  });

  it('D3.6 Rule 1: a busy node and a redundant workload → remove one replica; not for a single replica', () => {
    const busy = { ...calm, system_cpu_usage: 0.95 };
    const d = evaluateRules(window(busy, { workload: deployment(4) }), exact);
    expect(ranked(d)[0]).toBe('replica_scale_down');
    expect(entry(d, 'replica_scale_down')).toMatchObject({ magnitude: 0.75 });
    expect(entry(d, 'replica_scale_down')!.reason).toContain('D3.6 Rule 1');
    expect(ranked(evaluateRules(window(busy, { workload: deployment(1) }), exact))).not.toContain('replica_scale_down');
    expect(
      ranked(evaluateRules(window({ ...calm, system_cpu_usage: 0.7 }, { workload: deployment(4) }), exact)),
    ).toEqual(['no_action']);
  });

  it('takes its thresholds from configuration', () => {
    const config = ruleConfig({ recentSteps: 1, replicas: { nodeBusyAbove: 0.5, scaleUpAbove: 0.6, preferFrom: 5 } });
    const d = evaluateRules(
      window({ ...calm, system_cpu_usage: 0.55, cpu_usage: 0.65 }, { workload: deployment(3) }),
      config,
    );
    expect(ranked(d)).toContain('replica_scale_down');
    // 3 replicas < preferFrom 5: scale-out is the alternative.
    expect(entry(d, 'replica_scale_up')!.score).toBeLessThan(0.6);
  });
});

describe('network, I/O and restart rules', () => {
  it('network_qos on packet drops: caps the pod at 70 % of its current rate, as a share of the ceiling', () => {
    const signals: WindowSignals = {
      network_receive_bytes: Array(10).fill(mbitToBytes(400)),
      network_transmit_bytes: Array(10).fill(mbitToBytes(100)),
      network_receive_drops: Array(10).fill(250),
    };
    const d = evaluateRules(window(calm, { signals }), exact);
    expect(ranked(d)[0]).toBe('network_qos');
    expect(entry(d, 'network_qos')!.magnitude).toBeCloseTo(0.28, 5);
    expect(entry(d, 'network_qos')!.reason).toMatch(/400\.0 Mbit\/s .*250\.0 drops\/s.*cap the pod at 280 Mbit\/s/);
  });

  it('network_qos on a pod using most of the ceiling; no cap when the pod uses too little for one to matter', () => {
    const high = { network_transmit_bytes: Array(10).fill(mbitToBytes(900)) };
    expect(ranked(evaluateRules(window(calm, { signals: high }), exact))[0]).toBe('network_qos');
    const tiny = { network_receive_bytes: Array(10).fill(mbitToBytes(50)), network_receive_drops: Array(10).fill(500) };
    const d = evaluateRules(window(calm, { signals: tiny }), exact);
    expect(ranked(d)).toEqual(['no_action']);
    expect(d.ranked[0]!.reason).toContain('too little for a cap to matter');
    const off = ruleConfig({ recentSteps: 1, network: null });
    expect(ranked(evaluateRules(window(calm, { signals: high }), off))).toEqual(['no_action']);
  });

  it('data_offloading on disk I/O above the threshold, moving the share above target', () => {
    const config = ruleConfig({ recentSteps: 1, io: { highBytesPerSecond: 10 * 1024 * 1024 } });
    const signals = { fs_write_bytes: Array(10).fill(20 * 1024 * 1024) };
    const d = evaluateRules(window(calm, { signals }), config);
    expect(ranked(d)[0]).toBe('data_offloading');
    expect(entry(d, 'data_offloading')!.magnitude).toBeCloseTo(1 - (0.7 * 10) / 20, 5);
    expect(ranked(evaluateRules(window(calm, { signals: { fs_write_bytes: Array(10).fill(1024) } }), config))).toEqual([
      'no_action',
    ]);
  });

  it('container_restart for a crash-looping or stuck container, never for an image that cannot be pulled', () => {
    const looping = deployment(2, {
      containers: [{ name: 'app', restarts: 5, ready: false, waitingReason: 'CrashLoopBackOff' }],
    });
    const d = evaluateRules(window(calm, { workload: looping }), exact);
    expect(d.ranked[0]).toMatchObject({ policy: 'container_restart', score: 0.9, magnitude: 1 });
    expect(d.ranked[0]!.reason).toContain('container app is in CrashLoopBackOff after 5 restarts');
    const stuck = deployment(2, { containers: [{ name: 'app', restarts: 0, ready: false, notReadySeconds: 600 }] });
    expect(ranked(evaluateRules(window(calm, { workload: stuck }), exact))[0]).toBe('container_restart');
    const pull = deployment(2, {
      containers: [{ name: 'app', restarts: 9, ready: false, waitingReason: 'ImagePullBackOff' }],
    });
    expect(ranked(evaluateRules(window(calm, { workload: pull }), exact))).toEqual(['no_action']);
  });

  it('rejects inconsistent thresholds', () => {
    expect(() => ruleConfig({ replicas: { nodeBusyAbove: 1.5 } })).toThrow(RuleConfigError);
    expect(() => ruleConfig({ replicas: { redundantFrom: 1 } })).toThrow(/redundantFrom must be an integer ≥ 2/);
    expect(() => ruleConfig({ network: { ceilingMbps: 0 } })).toThrow(/ceilingMbps/);
    expect(() => ruleConfig({ io: { targetShare: 0 } })).toThrow(/io.targetShare/);
  });
});

describe('the model’s answer supplemented with what it cannot see', () => {
  const modelAnswer: PolicyDecision = {
    source: 'model',
    modelVersion: 'm1',
    ranked: [
      { policy: 'no_action', score: 0.7, magnitude: 1, reason: 'model: calm' },
      { policy: 'cpu_scale_down', score: 0.2, magnitude: 0.8, reason: 'model' },
      { policy: 'data_offloading', score: 0.1, magnitude: 0.3, reason: 'model' },
    ],
  };

  it('adds Talon-only candidates and keeps the better entry of a policy both propose', () => {
    const merged = withSupplement(modelAnswer, [
      { policy: 'network_qos', score: 0.8, magnitude: 0.3, reason: 'congested' },
      { policy: 'data_offloading', score: 0.65, magnitude: 0.5, reason: 'I/O' },
    ]);
    expect(ranked(merged)).toEqual(['network_qos', 'no_action', 'data_offloading', 'cpu_scale_down']);
    expect(entry(merged, 'data_offloading')).toMatchObject({ magnitude: 0.5, reason: 'I/O; model: model' });
    expect(merged.source).toBe('model');
    expect(withSupplement(modelAnswer, [])).toBe(modelAnswer);
  });

  it('the engine asks the rules for the supplement whenever the model answers', async () => {
    const engine = createPolicyEngine({ model: { decide: () => modelAnswer }, rules: createRulePolicy(exact) });
    const looping = deployment(2, {
      containers: [{ name: 'app', restarts: 4, ready: false, waitingReason: 'CrashLoopBackOff' }],
    });
    const d = await engine.decide(window(calm, { workload: looping }));
    expect(d.source).toBe('model');
    expect(ranked(d)[0]).toBe('container_restart');
  });
});

describe('the workflow’s choice picks them for their alerts', () => {
  const alert = (resource: string | undefined, extra: Record<string, string> = {}) => ({
    alertName: 'Any',
    labels: { ...(resource ? { talon_resource: resource } : {}), ...extra },
  });
  const decision = (...policies: PolicyName[]): PolicyDecision => ({
    source: 'rules',
    ranked: policies.map((policy, i) => ({ policy, score: 1 - i / 10, magnitude: 1, reason: policy })),
  });

  it('a node-cpu (Rule 1) alert takes replica_scale_down, which a cpu alert keeps too', () => {
    const d = decision('cpu_scale_down', 'replica_scale_down', 'cpu_scale_up');
    expect(chooseCandidate(d, alert('node-cpu'), new Set())?.candidate.policy).toBe('replica_scale_down');
    expect(chooseCandidate(d, alert('cpu'), new Set())?.candidate.policy).toBe('replica_scale_down');
    expect(irrelevanceOf('cpu_scale_down', alert('cpu'))).toBe('scaling down never relieves a resource near its limit');
    expect(chooseCandidate(d, alert('memory'), new Set())?.candidate.policy).toBe('cpu_scale_up');
  });

  it('network, io and health alerts take their own action first, whatever the engine ranked above it', () => {
    const d = decision('cpu_scale_up', 'task_offloading', 'network_qos', 'data_offloading', 'container_restart');
    expect(chooseCandidate(d, alert('network'), new Set())?.candidate.policy).toBe('network_qos');
    expect(chooseCandidate(d, alert('io'), new Set())?.candidate.policy).toBe('data_offloading');
    expect(chooseCandidate(d, alert('health'), new Set())?.candidate.policy).toBe('container_restart');
    // Escalation goes on within what is relevant, then to the alert's own defaults.
    expect(chooseCandidate(d, alert('io'), new Set(['data_offloading']))?.candidate.policy).toBe('task_offloading');
    expect(chooseCandidate(decision('no_action'), alert('network'), new Set())).toMatchObject({
      candidate: { policy: 'network_qos', magnitude: 0.5 },
      fromAlert: true,
    });
  });

  it('without a window, each alert kind has its own default list', () => {
    expect(policiesFromAlert(alert('network')).map((r) => r.policy)).toEqual([
      'network_qos',
      'replica_scale_up',
      'task_offloading',
    ]);
    expect(policiesFromAlert(alert('io')).map((r) => r.policy)).toEqual(['data_offloading', 'task_offloading']);
    expect(policiesFromAlert(alert('health')).map((r) => r.policy)).toEqual(['container_restart', 'task_offloading']);
    expect(policiesFromAlert(alert('node-cpu'))[0]).toMatchObject({ policy: 'replica_scale_down', magnitude: 0.75 });
  });

  it('an alert may name the policy to try first (talon_policy, talon_magnitude), once', () => {
    const d = decision('cpu_scale_up');
    const asked = alert('cpu', { talon_policy: 'network_qos', talon_magnitude: '0.3' });
    expect(chooseCandidate(d, asked, new Set())?.candidate).toMatchObject({ policy: 'network_qos', magnitude: 0.3 });
    expect(chooseCandidate(d, asked, new Set(['network_qos']))?.candidate.policy).toBe('cpu_scale_up');
    // Not a pod policy, or out of the guide's range: ignored or clamped.
    expect(chooseCandidate(d, alert('cpu', { talon_policy: 'node_overload' }), new Set())?.candidate.policy).toBe(
      'cpu_scale_up',
    );
    expect(
      chooseCandidate(d, alert(undefined, { talon_policy: 'network_qos', talon_magnitude: '7' }), new Set())?.candidate,
    ).toMatchObject({
      policy: 'network_qos',
      magnitude: 1,
    });
  });
});
