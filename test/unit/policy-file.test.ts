/**
 * The operator policy file: the shipped example and schema, defaults, overrides by namespace / alert / label
 * selector, clear refusals, and reloads that keep the last good version in force.
 */
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicyFile, policyJsonSchema, PolicyFileError, PolicyStore } from '../../src/config/policy-file';
import {
  actionFor,
  brakeTrips,
  DEFAULT_OPERATOR_SETTINGS,
  DEFAULT_STORM_BRAKE,
  describeBrake,
  disallowedPolicies,
  isApprover,
  latchApplies,
  resolvePolicy,
  type AlertScope,
} from '../../src/domain/autonomy';
import { checkPolicyRules } from '../../src/policy/rules';

const root = join(__dirname, '..', '..');
const example = readFileSync(join(root, 'deploy/policy/talon-policy.example.yaml'), 'utf8');
const minimal = `apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: '1'\n`;
const parse = (text: string) => parsePolicyFile(text, 'policy.yaml', checkPolicyRules);
const pod = (
  namespace: string,
  alertName = 'TalonPodCpuNearLimit',
  labels: Record<string, string> = {},
): AlertScope => ({
  alertName,
  labels: { alertname: alertName, ...labels },
  kind: 'pod',
  namespace,
});

describe('policy file', () => {
  it("a minimal file gives Talon's built-in behaviour, versioned with a hash of the content", () => {
    const policy = parse(minimal);
    expect(policy.version).toMatch(/^1@[0-9a-f]{12}$/);
    expect(policy.defaults).toEqual(DEFAULT_OPERATOR_SETTINGS);
    expect(policy.stormBrake).toEqual(DEFAULT_STORM_BRAKE);
    expect(parse(`${minimal}# a comment\n`).version).not.toBe(policy.version);
  });

  it('the shipped example parses, and its overrides apply in order by namespace, alert and labels', () => {
    const policy = parse(example);
    expect(policy.version).toMatch(/^2026-05-17\.1@/);
    const payments = resolvePolicy(policy, pod('payments'));
    expect(payments.settings.autonomy).toBe('approve');
    expect(payments.settings.approvers).toEqual(['mtls:CN=payments-oncall']);
    expect(payments.matched).toEqual(['payments-needs-approval']);
    expect(resolvePolicy(policy, pod('team-blue')).settings.autonomy).toBe('observe');
    expect(resolvePolicy(policy, pod('teams')).settings.autonomy).toBe('auto');
    const grafana = resolvePolicy(policy, pod('shop', 'High memory usage', { team: 'blue' }));
    expect(grafana.settings.allowedPolicies).toEqual(['memory_scale_up']);
    // Objects merge (the other caps stay), lists replace.
    expect(grafana.settings.growth.maxFactor).toEqual({ cpu_scale_up: 2, memory_scale_up: 1.5, replica_scale_up: 2 });
    expect(grafana.settings.growth.containerMemoryMax).toBe('8Gi');
    expect(resolvePolicy(policy, pod('shop', 'High memory usage', { team: 'red' })).matched).toEqual([]);
    expect(resolvePolicy(policy, pod('shop', 'X', { severity: 'critical' })).settings.autonomy).toBe('recommend');
    expect(resolvePolicy(policy, pod('openshift-monitoring')).protectedBy).toBe('openshift-*');
    expect(resolvePolicy(policy, pod('shop')).protectedBy).toBeUndefined();
  });

  it.each([
    ['not YAML', `${minimal}defaults: [a\n`, /not valid YAML/],
    ['a typo in a key', `${minimal}defaults:\n  autonmy: observe\n`, /defaults: Unrecognized key: "autonmy"/],
    ['an unknown autonomy', `${minimal}defaults:\n  autonomy: yolo\n`, /defaults\.autonomy/],
    ['an unknown policy', `${minimal}defaults:\n  allowedPolicies: [rm_rf]\n`, /defaults\.allowedPolicies\.0/],
    [
      'a bad quantity',
      `${minimal}defaults:\n  growth: { containerCpuMax: lots }\n`,
      /containerCpuMax: a positive Kubernetes quantity/,
    ],
    ['another apiVersion', minimal.replace('v1alpha1', 'v2'), /apiVersion/],
    ['no version', 'apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\n', /version/],
    [
      'a cool-down with min above max',
      `${minimal}defaults:\n  cooldown: { minSeconds: 600, maxSeconds: 60 }\n`,
      /defaults\.cooldown/,
    ],
    [
      'approval without approvers',
      `${minimal}overrides:\n  - match: { namespaces: [shop] }\n    set: { autonomy: approve, approvers: [] }\n`,
      /overrides\[0\]\.set\.approvers: approval can be required here/,
    ],
    [
      'inconsistent rule thresholds',
      `${minimal}defaults:\n  rules: { cpu: { high: 0.5 } }\n`,
      /defaults\.rules: cpu thresholds must satisfy/,
    ],
    [
      'an override breaking the thresholds it merges onto',
      `${minimal}overrides:\n  - name: hot\n    match: { namespaces: [shop] }\n    set: { rules: { memory: { low: 0.95 } } }\n`,
      /overrides\[0\] \(hot\)\.set\.rules: memory thresholds/,
    ],
    [
      'In without values',
      `${minimal}overrides:\n  - match: { labelExpressions: [{ key: a, operator: In }] }\n    set: {}\n`,
      /In and NotIn need values/,
    ],
    ['a bad namespace pattern', `${minimal}protectedNamespaces: ['Kube System']\n`, /protectedNamespaces\.0/],
    ['maxWait below recheck', `${minimal}stormBrake: { recheckSeconds: 60, maxWaitSeconds: 10 }\n`, /maxWaitSeconds/],
  ])('refuses %s with an error naming the place', (_name, text, message) => {
    expect(() => parse(text)).toThrow(PolicyFileError);
    expect(() => parse(text)).toThrow(message);
  });

  it('publishes a JSON Schema that is the one shipped in deploy/policy', () => {
    const shipped = JSON.parse(readFileSync(join(root, 'deploy/policy/talon-policy.schema.json'), 'utf8')) as unknown;
    expect(shipped).toEqual(JSON.parse(JSON.stringify(policyJsonSchema())));
    const schema = policyJsonSchema() as { required: string[]; additionalProperties: boolean };
    expect(schema.required).toEqual(['apiVersion', 'kind', 'version']);
    expect(schema.additionalProperties).toBe(false);
  });
});

describe('autonomy and selectors', () => {
  const policy = parse(
    `${minimal}overrides:\n` +
      `  - name: nodes\n    match: { kinds: [node] }\n    set: { untaintAfterSeconds: 30 }\n` +
      `  - name: exists\n    match: { labelExpressions: [{ key: team, operator: Exists }] }\n    set: { maxAttempts: 5 }\n` +
      `  - name: notin\n    match: { labelExpressions: [{ key: env, operator: NotIn, values: [prod] }] }\n    set: { approvalTimeoutSeconds: 60 }\n` +
      `  - name: absent\n    match: { labelExpressions: [{ key: owner, operator: DoesNotExist }] }\n    set: { requireApproval: [cpu_scale_up] }\n`,
  );

  it('matches kinds and Kubernetes-style label expressions (an empty label is an absent one)', () => {
    const node = resolvePolicy(policy, { alertName: 'N', labels: {}, kind: 'node' });
    expect(node.matched).toEqual(['nodes', 'notin', 'absent']);
    expect(node.settings.untaintAfterSeconds).toBe(30);
    expect(resolvePolicy(policy, pod('a', 'A', { team: 'x', env: 'prod', owner: 'me' })).matched).toEqual(['exists']);
    expect(resolvePolicy(policy, pod('a', 'A', { team: '', owner: '' })).matched).toEqual(['notin', 'absent']);
  });

  it('approvers: exact, anyone, prefix and suffix; never an empty identity', () => {
    expect(isApprover(['alice'], 'alice')).toBe(true);
    expect(isApprover(['alice'], 'mallory')).toBe(false);
    expect(isApprover(['*'], 'anyone')).toBe(true);
    expect(isApprover(['*'], ' ')).toBe(false);
    expect(isApprover(['mtls:CN=*'], 'mtls:CN=bob')).toBe(true);
    expect(isApprover(['*@sre.example.com'], 'carol@sre.example.com')).toBe(true);
    expect(isApprover(['*@sre.example.com'], 'carol@evil.example.com')).toBe(false);
  });

  it('actions by autonomy level and requireApproval; disallowed policies are skipped', () => {
    const s = DEFAULT_OPERATOR_SETTINGS;
    expect(actionFor({ ...s, autonomy: 'observe' }, 'cpu_scale_up')).toBe('observe');
    expect(actionFor({ ...s, autonomy: 'recommend' }, 'cpu_scale_up')).toBe('recommend');
    expect(actionFor({ ...s, autonomy: 'approve' }, 'cpu_scale_up')).toBe('approve');
    expect(actionFor({ ...s, requireApproval: ['task_offloading'] }, 'task_offloading')).toBe('approve');
    expect(actionFor(s, 'cpu_scale_up')).toBe('apply');
    expect(disallowedPolicies({ ...s, allowedPolicies: ['cpu_scale_up', 'node_overload'] })).toContain(
      'memory_scale_up',
    );
    expect(disallowedPolicies(s)).toEqual([]);
  });
});

describe('storm brake', () => {
  const config = {
    ...DEFAULT_STORM_BRAKE,
    maxAlerts: 20,
    maxNamespacePodsPercent: 30,
    maxClusterNodesPercent: 25,
    minRemediations: 3,
  };

  it("engages on more than N alerts, or more than X% of a namespace's pods or of the nodes", () => {
    expect(brakeTrips(config, { remediations: 20 })).toEqual([]);
    expect(brakeTrips(config, { remediations: 21 }).map((t) => t.scope)).toEqual(['cluster']);
    const ns = (underRemediation: number, pods: number) =>
      brakeTrips(config, { remediations: underRemediation, namespace: { name: 'shop', underRemediation, pods } });
    expect(ns(12, 40)).toEqual([]); // exactly 30%
    expect(ns(13, 40).map((t) => t.scope)).toEqual(['namespace/shop']);
    expect(ns(2, 4)).toEqual([]); // 50%, but fewer than minRemediations
    expect(ns(13, 40)[0]!.reason).toBe('13 of 40 pods of namespace shop under remediation (33%), more than 30%');
    expect(
      brakeTrips(config, { remediations: 3, nodes: { underRemediation: 3, total: 10 } }).map((t) => t.scope),
    ).toEqual(['nodes']);
    expect(brakeTrips({ ...config, enabled: false }, { remediations: 1000 })).toEqual([]);
  });

  it('latches apply by scope', () => {
    expect(latchApplies('cluster', 'shop', 'pod')).toBe(true);
    expect(latchApplies('nodes', undefined, 'node')).toBe(true);
    expect(latchApplies('nodes', 'shop', 'pod')).toBe(false);
    expect(latchApplies('namespace/shop', 'shop', 'pod')).toBe(true);
    expect(latchApplies('namespace/shop', 'web', 'pod')).toBe(false);
  });

  it('describes itself for histories, Events and the CLI', () => {
    const trips = brakeTrips(config, { remediations: 25 });
    const line = describeBrake({
      engaged: true,
      trips,
      latched: [{ scope: 'namespace/shop', since: '2026-01-01T00:00:00Z', reason: 'by hand' }],
      counts: { remediations: 25 },
      release: 'auto',
      action: 'wait',
    });
    expect(line).toContain('25 alert remediations running, more than maxAlerts 20');
    expect(line).toContain('talon brake release --scope namespace/shop');
  });
});

describe('PolicyStore', () => {
  it('reloads a changed file, refuses a bad one (once) and keeps the last good version', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'talon-policy-'));
    const path = join(dir, 'policy.yaml');
    await writeFile(path, minimal);
    const events: string[] = [];
    const store = await PolicyStore.open({
      path,
      reloadMs: 0,
      check: checkPolicyRules,
      onLoad: (e) => events.push(e.result === 'loaded' ? `loaded ${e.version.split('@')[0]}` : 'refused'),
    });
    expect(store.current().defaults.autonomy).toBe('auto');
    expect(await store.reload()).toBe('unchanged');
    // ConfigMap volumes swap a symlink: a new file renamed over the old one.
    await writeFile(join(dir, 'next'), minimal.replace("'1'", "'2'") + 'defaults: { autonomy: observe }\n');
    await rename(join(dir, 'next'), path);
    expect(await store.reload()).toBe('loaded');
    expect(store.current().defaults.autonomy).toBe('observe');
    await writeFile(path, minimal.replace("'1'", "'3'") + 'defaults: { autonomy: maybe }\n');
    expect(await store.reload()).toBe('refused');
    expect(await store.reload()).toBe('unchanged');
    expect(store.current().version).toMatch(/^2@/);
    expect(store.refusal()).toMatch(/defaults\.autonomy/);
    expect(events).toEqual(['loaded 1', 'loaded 2', 'refused']);
    store.close();
  });

  it('refuses to open a missing or invalid file', async () => {
    await expect(PolicyStore.open({ path: '/nonexistent/policy.yaml' })).rejects.toThrow(/cannot read the policy file/);
    const dir = await mkdtemp(join(tmpdir(), 'talon-policy-'));
    await writeFile(join(dir, 'p.yaml'), 'kind: Nope\n');
    await expect(PolicyStore.open({ path: join(dir, 'p.yaml') })).rejects.toThrow(PolicyFileError);
  });

  it('reloads by itself when a reload interval is set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'talon-policy-'));
    const path = join(dir, 'policy.yaml');
    await writeFile(path, minimal);
    const store = await PolicyStore.open({ path, reloadMs: 20 });
    await writeFile(path, minimal.replace("'1'", "'9'"));
    const deadline = Date.now() + 5_000;
    while (!store.current().version.startsWith('9@') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(store.current().version).toMatch(/^9@/);
    store.close();
  });
});

describe('shipped policy', () => {
  it('the ConfigMap the kustomize base mounts holds a valid policy', () => {
    const manifest = readFileSync(join(root, 'deploy/kustomize/base/policy.yaml'), 'utf8');
    const data = /policy\.yaml: \|\n((?: {4}.*\n?)+)/.exec(manifest)?.[1]?.replace(/^ {4}/gm, '');
    expect(data).toBeDefined();
    const policy = parse(data!);
    expect(policy.version).toMatch(/^1@/);
    expect(policy.stormBrake.enabled).toBe(true);
  });
});
