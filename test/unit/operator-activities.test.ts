/**
 * The operator activities over fake sources: the policy resolved with Talon's namespace always protected, the
 * storm brake counted from visibility queries and the Kubernetes API (cached through a storm, latched under
 * release: manual), Events written once per decision; the per-change guards built from a policy's limits.
 */
import { createOperatorActivities, brakeQueries, type BrakeSources } from '../../activities/operator';
import { guardsWithLimits } from '../../activities/remediation';
import { parsePolicyFile } from '../../src/config/policy-file';
import { remediationWorkload } from '../../src/domain/alert';
import {
  DEFAULT_STORM_BRAKE,
  podsUnderRemediation,
  type BrakeScope,
  type OperatorPolicy,
} from '../../src/domain/autonomy';
import { guardConfig } from '../../src/domain/guards';
import { EventRecorder, eventName } from '../../src/kube/events';
import type { BrakeLatch } from '../../src/kube/storm-brake';
import { brakeScopes } from '../../workers/operator';

const minimal = `apiVersion: talon.io/v1alpha1\nkind: TalonPolicy\nversion: '7'\n`;

class FakeSources implements BrakeSources {
  queries: string[] = [];
  running = new Map<string, number>();
  /** 20 StatefulSets of 2 pods (w0-0, w0-1, …): a remediation of w<i> covers two pods. */
  pods = Array.from({ length: 40 }, (_, i) => `w${Math.floor(i / 2)}-${i % 2}`);
  nodes = 10;
  stored: BrakeLatch[] = [];
  private matching(query: string): number {
    this.queries.push(query);
    for (const [needle, n] of this.running) if (query.includes(needle)) return n;
    return 0;
  }
  async countWorkflows(query: string) {
    return this.matching(query);
  }
  async listWorkflowIds(query: string, limit: number) {
    return Array.from({ length: Math.min(limit, this.matching(query)) }, (_, i) => `remediate/shop/w${i}`);
  }
  async namespacePods() {
    return this.pods;
  }
  async countNodes() {
    return this.nodes;
  }
  readonly latches = {
    read: async () => [...this.stored],
    latch: async (l: readonly BrakeLatch[]) => {
      this.stored.push(...l.filter((x) => !this.stored.some((s) => s.scope === x.scope)));
      return [...this.stored];
    },
  };
}

function setup(policy: OperatorPolicy | undefined, sources = new FakeSources(), clock = () => 1_000_000) {
  const seen: string[] = [];
  const activities = createOperatorActivities({
    policy: () => policy,
    talonNamespace: 'talon-x',
    taskQueue: 'q"1',
    brake: sources,
    onBrake: (state, input) => seen.push(`${input.namespace ?? input.kind}:${state.engaged}`),
    clock,
  });
  return { activities, sources, seen };
}

describe('resolveOperatorPolicy', () => {
  it('answers null without a policy file, so the workflow keeps its input settings', async () => {
    const { activities } = setup(undefined);
    expect(
      await activities.resolveOperatorPolicy({ alertName: 'A', labels: {}, kind: 'pod', namespace: 'shop' }),
    ).toBeNull();
  });

  it("protects Talon's own namespace whatever the file lists", async () => {
    const { activities } = setup(parsePolicyFile(`${minimal}protectedNamespaces: [kube-system]\n`, 'p'));
    const own = await activities.resolveOperatorPolicy({
      alertName: 'A',
      labels: {},
      kind: 'pod',
      namespace: 'talon-x',
    });
    expect(own?.protectedBy).toBe('talon-x');
    expect(own?.protectedNamespaces).toEqual(['kube-system', 'talon-x']);
    const shop = await activities.resolveOperatorPolicy({ alertName: 'A', labels: {}, kind: 'pod', namespace: 'shop' });
    expect(shop?.protectedBy).toBeUndefined();
    expect(shop?.version).toMatch(/^7@/);
  });

  it('refuses a malformed scope as a permanent failure', async () => {
    const { activities } = setup(parsePolicyFile(minimal, 'p'));
    await expect(
      activities.resolveOperatorPolicy({ alertName: 'A', labels: {}, kind: 'pod', namespace: 'Not A Namespace' }),
    ).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  });
});

describe('checkStormBrake', () => {
  const config = { ...DEFAULT_STORM_BRAKE, maxAlerts: 20, maxNamespacePodsPercent: 30 };

  it('counts remediations with an open episode on the task queue (quoted safely) and the pods of their workloads', async () => {
    const { activities, sources } = setup(undefined);
    sources.running.set('TalonNamespace = "shop"', 7);
    sources.running.set('WorkflowType IN (', 7);
    const state = await activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config });
    expect(state.engaged).toBe(true);
    expect(state.trips.map((t) => t.scope)).toEqual(['namespace/shop']);
    // 7 workloads of 2 pods: 14 of 40 pods (35 %) under remediation.
    expect(state.counts).toEqual({
      remediations: 7,
      namespace: { name: 'shop', remediations: 7, underRemediation: 14, pods: 40 },
    });
    expect(state.trips[0]!.reason).toBe(
      '14 of 40 pods of namespace shop under remediation (35%, 7 remediations), more than 30%',
    );
    expect(sources.queries.every((q) => q.includes('TaskQueue = "q\\"1"'))).toBe(true);
    // A remediation watching for a re-fire has its outcome set: it is not under remediation.
    expect(brakeQueries('q', 'shop').namespace).toBe(
      'WorkflowType = "remediateAlert" AND ExecutionStatus = "Running" AND TaskQueue = "q" AND TalonOutcome IS NULL AND TalonNamespace = "shop"',
    );
  });

  it('one remediation of a large workload is one incident, not a storm (minRemediations)', async () => {
    const { activities, sources } = setup(undefined);
    sources.pods = Array.from({ length: 30 }, (_, i) => `w0-${i}`).concat(['other-0', 'other-1']);
    sources.running.set('TalonNamespace = "shop"', 1);
    const state = await activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config });
    expect(state.counts.namespace).toEqual({ name: 'shop', remediations: 1, underRemediation: 30, pods: 32 });
    expect(state.engaged).toBe(false);
  });

  it('asks once per second however many remediations check at once', async () => {
    let now = 0;
    const { activities, sources } = setup(undefined, new FakeSources(), () => now);
    await Promise.all(
      Array.from({ length: 30 }, () => activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config })),
    );
    expect(sources.queries).toHaveLength(2); // all, namespace
    now = 1_500;
    await activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config });
    expect(sources.queries).toHaveLength(4);
  });

  it('releases by itself once the counts are back under the limits (release: auto)', async () => {
    let now = 0;
    const { activities, sources } = setup(undefined, new FakeSources(), () => now);
    sources.running.set('TalonNamespace = "shop"', 13);
    expect((await activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config })).engaged).toBe(true);
    // 5 workloads: 10 of 40 pods (25 %).
    sources.running.set('TalonNamespace = "shop"', 5);
    now = 5_000;
    const after = await activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config });
    expect(after.engaged).toBe(false);
    expect(sources.stored).toEqual([]);
  });

  it('latches under release: manual and holds until the latch is released', async () => {
    let now = 0;
    const { activities, sources } = setup(undefined, new FakeSources(), () => now);
    const manual = { ...config, release: 'manual' as const };
    sources.running.set('TalonNamespace = "shop"', 13);
    await activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config: manual });
    expect(sources.stored.map((l) => [l.scope, l.by])).toEqual([['namespace/shop', 'talon']]);
    sources.running.set('TalonNamespace = "shop"', 0);
    now = 5_000;
    const held = await activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config: manual });
    expect(held.engaged).toBe(true);
    expect(held.trips).toEqual([]);
    expect(held.latched.map((l) => l.scope)).toEqual(['namespace/shop']);
    // Other namespaces are not held by shop's latch.
    expect((await activities.checkStormBrake({ kind: 'pod', namespace: 'web', config: manual })).engaged).toBe(false);
    sources.stored = [];
    now = 10_000;
    expect((await activities.checkStormBrake({ kind: 'pod', namespace: 'shop', config: manual })).engaged).toBe(false);
  });

  it('a latch engaged by hand holds even with the automatic brake disabled', async () => {
    const { activities, sources } = setup(undefined);
    sources.stored = [{ scope: 'cluster', since: 'now', reason: 'maintenance', by: 'alice' }];
    const state = await activities.checkStormBrake({ kind: 'node', config: { ...config, enabled: false } });
    expect(state.engaged).toBe(true);
    expect(brakeScopes(state, { kind: 'node' })).toEqual(
      new Map<BrakeScope, boolean>([
        ['cluster', true],
        ['nodes', false],
      ]),
    );
  });
});

describe('pods under remediation', () => {
  it('reads the workload from both workflow id shapes, and nothing from other ids', () => {
    expect(remediationWorkload('remediate/shop/web')).toBe('web');
    expect(remediationWorkload('remediate/TalonPodCpuNearLimit/shop/web-7c9f8b6d4-x2x9z/abc')).toBe('web');
    expect(remediationWorkload('node-overload/NodeHot/node-1/abc')).toBeUndefined();
    expect(remediationWorkload('remediate/shop')).toBeUndefined();
  });

  it('counts every pod of each remediated workload once, at least one per remediation, at most the namespace', () => {
    const pods = ['web-0', 'web-1', 'web-2', 'db-0'];
    const byOrdinal = (pod: string) => pod.replace(/-\d+$/, '');
    expect(podsUnderRemediation(['web'], pods, byOrdinal)).toBe(3);
    expect(podsUnderRemediation(['web', 'web', 'db'], pods, byOrdinal)).toBe(4);
    expect(podsUnderRemediation(['gone'], pods, byOrdinal)).toBe(1);
    expect(podsUnderRemediation(['a', 'b', 'c', 'd', 'e'], pods, byOrdinal)).toBe(4);
    expect(podsUnderRemediation(['a', 'b'], [], byOrdinal)).toBe(2);
  });
});

describe('recordEvent and EventRecorder', () => {
  it('writes one core/v1 Event per decision on the target, idempotent by name, with the workflow link', async () => {
    const created: { namespace: string; body: Record<string, any> }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    const core = {
      createNamespacedEvent: async (req: { namespace: string; body: Record<string, unknown> }) => {
        if (created.some((c) => c.body.metadata.name === (req.body.metadata as { name: string }).name))
          throw Object.assign(new Error('exists'), { code: 409 });
        created.push(req);
        return req.body;
      },
    };
    const recorder = new EventRecorder({ core } as never, {
      temporalUiUrl: 'http://ui:8233/',
      temporalNamespace: 'default',
      clock: () => new Date('2026-05-17T10:00:00Z'),
    });
    const { activities } = setup(undefined);
    const withEvents = createOperatorActivities({
      policy: () => undefined,
      talonNamespace: 'talon-x',
      taskQueue: 'q',
      brake: new FakeSources(),
      events: recorder,
    });
    const input = {
      target: { kind: 'Pod' as const, namespace: 'shop', name: 'web-1', uid: 'u-1' },
      reason: 'TalonObserved',
      message: 'observe: would apply cpu_scale_up ×1.5 on shop/web-1',
      type: 'Normal' as const,
      workflowId: 'remediate/A/shop/web-1/f',
      key: 'run/1/observe',
      policyVersion: '7@abc',
    };
    expect(await withEvents.recordEvent(input)).toEqual({ written: true });
    expect(await withEvents.recordEvent(input)).toEqual({ written: false });
    expect(await activities.recordEvent(input)).toEqual({ written: false }); // no recorder configured
    expect(created).toHaveLength(1);
    const event = created[0]!.body;
    expect(created[0]!.namespace).toBe('shop');
    expect(event.metadata.name).toBe(eventName(input));
    expect(event.involvedObject).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      name: 'web-1',
      namespace: 'shop',
      uid: 'u-1',
    });
    expect(event.reason).toBe('TalonObserved');
    expect(event.message).toBe(
      'observe: would apply cpu_scale_up ×1.5 on shop/web-1 (workflow remediate/A/shop/web-1/f, policy 7@abc)',
    );
    expect(event.metadata.annotations).toEqual({
      'talon.io/workflow-id': 'remediate/A/shop/web-1/f',
      'talon.io/policy-version': '7@abc',
      'talon.io/workflow-url': 'http://ui:8233/namespaces/default/workflows/remediate%2FA%2Fshop%2Fweb-1%2Ff',
    });
    await expect(withEvents.recordEvent({ ...input, reason: 'not camel case' })).rejects.toMatchObject({
      type: 'InvalidInput',
    });
  });
});

describe("guards with the policy's limits", () => {
  const limits = {
    policyVersion: '7@abc',
    protectedNamespaces: ['payments'],
    writeBudget: { maxWrites: 3, windowSeconds: 60 },
    clusterWriteBudget: { maxWrites: 20, windowSeconds: 60 },
    containerCpuMax: '2',
    containerMemoryMax: '128Gi',
    replicasMax: 8,
    maxFactor: { cpu_scale_up: 1.5, replica_scale_up: 9 },
  };

  it('add protected namespaces, set the budgets and only narrow the bounds', () => {
    const g = guardConfig(
      guardsWithLimits({ talonNamespace: 'talon-x', protectedNamespaces: ['kube-system'] }, limits),
    );
    expect(g.protectedNamespaces).toEqual(['kube-system', 'talon-x', 'payments']);
    expect(g.writeBudget).toEqual({ maxWrites: 3, windowSeconds: 60 });
    expect(g.clusterWriteBudget).toEqual({ maxWrites: 20, windowSeconds: 60 });
    expect(g.containerCpu).toEqual({ min: '10m', max: '2' });
    expect(g.containerMemory).toEqual({ min: '16Mi', max: '64Gi' }); // 128Gi would widen 64Gi
    expect(g.replicas).toEqual({ min: 1, max: 8 });
    expect(g.magnitudeBounds.cpu_scale_up).toEqual({ min: 1.05, max: 1.5 });
    expect(g.magnitudeBounds.replica_scale_up).toEqual({ min: 1.05, max: 4 });
  });

  it("leave the worker's guards alone without limits", () => {
    const base = { talonNamespace: 'talon-x' };
    expect(guardsWithLimits(base, undefined)).toBe(base);
  });
});
