/** The lab runner's pure parts: copies as objects, the wiring, the score, the report and the picture. */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { TimelinePoint } from '../../tools/lab/driver/driver';
import type { ObservedChange } from '../../tools/lab/driver/observer';
import { chaosSchedule, seededRandom, summariseChaos } from '../../tools/lab/runner/chaos';
import { seedActivity } from '../../tools/lab/runner/collect';
import { copyManifests, planCopy, POOL_TAINT_KEY, runId } from '../../tools/lab/runner/manifests';
import { renderMarkdown } from '../../tools/lab/runner/report';
import { rescore } from '../../tools/lab/runner/rescore';
import { talonEnv } from '../../tools/lab/runner/runner';
import { episodesFromSeries, remediationCovers, scoreCopy, type AlertEpisode } from '../../tools/lab/runner/score';
import { scenarioSvg } from '../../tools/lab/runner/svg';
import { copyRuleGroup, labAlertmanagerConfig } from '../../tools/lab/runner/wiring';
import { parseScenario } from '../../tools/lab/scenario/load';
import { loadStackConfig } from '../../src/config/local-stack';
import { parsePolicyFile } from '../../src/config/policy-file';
import { resolvePolicy, type AlertScope } from '../../src/domain/autonomy';
import { checkPolicyRules } from '../../src/policy/rules';
import { labPolicy } from '../../tools/lab/runner/predictive';

const YAML = `
name: unit-run
description: runner test
duration: 200s
cluster:
  nodes:
    - { name: edge-a, tier: edge }
    - { name: cloud-a, tier: cloud }
workloads:
  - name: web
    node: edge-a
    resources: { requests: { cpu: 500m, memory: 256Mi }, limits: { cpu: '1', memory: 512Mi } }
    demand: { curve: { type: constant, value: 0.5 } }
  - name: dns
    namespace: protected
    pinned: true
    node: edge-a
    resources: { requests: { cpu: 100m, memory: 64Mi }, limits: { cpu: 200m, memory: 128Mi } }
    demand: { curve: { type: constant, value: 0.1 } }
alerts: { rules: [cpu, node], for: 15s }
slo: { kind: latency_p95, threshold: 300ms, workloads: [web] }
`;
const scenario = parseScenario(YAML, 'unit.yaml', '/tmp');
const START = 2_000_000_000;

describe('copies', () => {
  const copy = planCopy('r1abc', scenario, 'talon-rules', START);

  it('names every object under the lab prefix, per run, scenario and engine', () => {
    expect(runId(() => 0)).toBe('aaaaa');
    expect(copy.id).toBe('r1abc-unit-run-rules');
    expect(copy.namespaces).toEqual({
      main: 'talon-lab-r1abc-unit-run-rules',
      protected: 'talon-lab-r1abc-unit-run-rules-p',
    });
    expect(copy.nodes['edge-a']).toBe('talon-lab-r1abc-unit-run-rules-edge-a');
  });

  it('labels Talon copies with the engine, taints the copy’s nodes and pins its pods to them', () => {
    const objects = copyManifests('r1abc', copy) as {
      kind: string;
      metadata: { name: string; labels?: Record<string, string> };
      spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    }[];
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/talon-lab-r1abc-unit-run-rules',
      'Namespace/talon-lab-r1abc-unit-run-rules-p',
      'Node/talon-lab-r1abc-unit-run-rules-edge-a',
      'Node/talon-lab-r1abc-unit-run-rules-cloud-a',
      'Deployment/web',
      'Deployment/dns',
    ]);
    expect(objects[0]!.metadata.labels!['talon.io/policy-engine']).toBe('rules');
    expect(objects[2]!.spec.taints).toEqual([{ key: POOL_TAINT_KEY, value: copy.id, effect: 'NoSchedule' }]);
    const web = objects[4]!.spec.template.spec;
    expect(web.nodeSelector).toEqual({ 'talon.io/lab-copy': copy.id });
    expect(web.tolerations[0]).toMatchObject({ key: POOL_TAINT_KEY, value: copy.id });
    expect(web.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(
      objects[5]!.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution,
    ).toBeDefined();
    expect(web.containers[0].resources).toEqual({
      requests: { cpu: '500m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
  });

  it('gives the run’s own Talon its task queue, port and the protected namespaces of every copy', () => {
    const env = talonEnv({ PATH: '/bin' }, 'r1abc', { webhook: 41000, metrics: 41001 }, [copy]);
    expect(env).toMatchObject({ TALON_TASK_QUEUE: 'talon-lab-r1abc', TALON_WEBHOOK_PORT: '41000', PATH: '/bin' });
    expect(env.TALON_PROTECTED_NAMESPACES!.split(',')).toEqual(
      expect.arrayContaining(['kube-system', 'talon-system', copy.namespaces.protected]),
    );
  });
});

describe('wiring', () => {
  const copy = planCopy('r1abc', scenario, 'seed-orchestrator', START);

  it("scopes Talon's own rules to the copy, with the scenario's for: and rules", () => {
    const group = copyRuleGroup('r1abc', copy);
    expect(group.rules.map((r) => r.alert)).toEqual(['TalonPodCpuNearLimit', 'TalonNodeOverloaded']);
    expect(group.rules[0]!.for).toBe('15s');
    expect(group.rules[0]!.expr).toContain(
      'namespace=~"talon-lab-r1abc-unit-run-seed|talon-lab-r1abc-unit-run-seed-p"',
    );
    expect(group.rules[1]!.expr).toContain(
      'node=~"talon-lab-r1abc-unit-run-seed-edge-a|talon-lab-r1abc-unit-run-seed-cloud-a"',
    );
    expect(group.rules[0]!.labels).toMatchObject({ talon_lab_copy: copy.id, talon_lab_engine: 'seed-orchestrator' });
  });

  it('routes each engine’s alerts to its receiver first and drops every other lab alert', () => {
    const config = loadStackConfig({});
    const am = labAlertmanagerConfig(config, 'r1abc', { talonUrl: 'http://t', seedUrl: 'http://s' }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const routes = am.route.routes as { receiver: string; matchers: string[] }[];
    expect(routes.map((r) => r.receiver)).toEqual([
      'lab-r1abc-talon',
      'lab-r1abc-seed',
      'lab-r1abc-drop',
      'lab-r1abc-drop',
      'lab-r1abc-drop',
    ]);
    expect(routes[0]!.matchers).toContain('talon_lab_engine=~"talon-model|talon-rules|talon-predictive"');
    const receivers = am.receivers as { name: string; webhook_configs?: { url: string }[] }[];
    expect(receivers.find((r) => r.name === 'lab-r1abc-seed')!.webhook_configs![0]!.url).toBe('http://s/api/alerts');
    expect(am.route.receiver).toBe('talon');
    expect(parse(JSON.stringify(am))).toBeTruthy();
  });
});

function point(
  t: number,
  violated: boolean,
  changes: ObservedChange[] = [],
  extra: Partial<TimelinePoint> = {},
): TimelinePoint {
  return {
    t,
    at: START + t,
    dt: 2,
    slo: { value: violated ? 1 : 0.1, violated },
    workloads: {
      web: {
        demand: 0.5,
        demandCores: 0.5,
        served: violated ? 0.3 : 0.5,
        used: 0.5,
        cpuLimit: 1,
        memoryLimit: 512,
        workingSet: 100,
        pods: 1,
        serving: 1,
        latency: violated ? 1 : 0.1,
        throttled: 0,
        watts: 5,
      },
    },
    watts: { containers: 5, nodes: 20 },
    oomKills: 0,
    changes,
    ...extra,
  };
}

/** 0–60 s fine, 60–100 s violated, a CPU limit change at 100 s, fine afterwards. */
function timeline(): TimelinePoint[] {
  const pts: TimelinePoint[] = [];
  for (let t = 0; t <= 200; t += 2) {
    const changes: ObservedChange[] =
      t === 100
        ? [
            { kind: 'cpu_limit', workload: 'web', detail: 'CPU limit 1 → 1.5' },
            { kind: 'pod_deleted', workload: 'web', detail: '1 pod(s) deleted' },
          ]
        : t === 104
          ? [{ kind: 'moved', workload: 'web', node: 'cloud-a', detail: 'now also on cloud-a' }]
          : [];
    pts.push(point(t, t >= 60 && t < 100, changes));
  }
  return pts;
}

describe('the score', () => {
  const episodes: AlertEpisode[] = [
    { alertname: 'TalonPodCpuNearLimit', target: 'ns/web-1', start: START + 70, end: START + 110 },
  ];

  it('SLO seconds, mitigation from the first alert, one action for one rollout, energy per served unit', () => {
    const s = scoreCopy({ copy: planCopy('r', scenario, 'none', START), timeline: timeline(), episodes });
    expect(s.sloViolationSeconds).toBe(40);
    expect(s.firstAlertSeconds).toBe(70);
    expect(s.timeToMitigateSeconds).toBe(30);
    expect(s.actions).toBe(1);
    expect(s.actionLog[0]).toMatchObject({ kind: 'cpu_limit', harmful: false });
    expect(s.podsDisrupted).toBe(1);
    expect(s.alertsLost).toBeNull();
    expect(s.energyJoules).toBe(5 * 2 * 101);
    expect(s.joulesPerServedUnit).toBeCloseTo(s.energyJoules / s.servedUnits);
  });

  it('an action after which the SLO got worse is harmful, and so is any change to a protected workload', () => {
    const pts: TimelinePoint[] = [];
    for (let t = 0; t <= 200; t += 2) {
      const changes: ObservedChange[] =
        t === 50 ? [{ kind: 'replicas', workload: 'web', detail: 'replicas 2 → 1' }] : [];
      if (t === 150) changes.push({ kind: 'cpu_limit', workload: 'dns', detail: 'CPU limit 0.2 → 0.3' });
      pts.push(point(t, t > 60 && t < 160, changes));
    }
    const s = scoreCopy({
      copy: planCopy('r', scenario, 'seed-orchestrator', START),
      timeline: pts,
      episodes,
      receipts: [],
    });
    expect(s.actionLog.map((a) => [a.kind, a.harmful])).toEqual([
      ['replicas', true],
      ['cpu_limit', true],
    ]);
    expect(s.actionLog[1]!.why).toMatch(/protected namespace/);
    expect(s.harmfulActions).toBe(2);
    expect(s.alertsLost).toBe(1);
    expect(s.timeToMitigateSeconds).toBe(90);
  });

  it('Talon: an episode without a workflow overlapping it is lost; one with a workflow is not', () => {
    const copy = planCopy('r', scenario, 'talon-rules', START);
    const handled = scoreCopy({
      copy,
      timeline: timeline(),
      episodes,
      remediations: [
        {
          id: 'w',
          alertname: 'TalonPodCpuNearLimit',
          target: 'ns/web-1',
          start: START + 72,
          policies: ['cpu_scale_up', 'task_offloading'],
          outcome: 'needs_human',
        },
      ],
    });
    expect(handled).toMatchObject({ alertsLost: 0, remediationsStarted: 1, escalationDepth: 2, needsHuman: 1 });
    const lost = scoreCopy({ copy, timeline: timeline(), episodes, remediations: [] });
    expect(lost.alertsLost).toBe(1);
    expect(lost.lostAlerts[0]!.target).toBe('ns/web-1');
  });

  it('Talon: a workload remediation covers the episodes of every pod of the workload, not only the first', () => {
    const copy = planCopy('r', scenario, 'talon-rules', START);
    // One remediation per workload: the first pod opened it, the rollout's new pod and a memory alert joined it.
    const workloadRun = {
      id: 'remediate/ns/web/0b6f5a52-3c1e-4f43-9d36-1f2f7e0c9a11',
      alertname: 'TalonPodCpuNearLimit',
      target: 'ns/web-fbd5cf85b-8k6nw',
      start: START + 10,
      policies: ['cpu_scale_up', 'task_offloading'],
    };
    const eps: AlertEpisode[] = [
      { alertname: 'TalonPodCpuNearLimit', target: 'ns/web-fbd5cf85b-8k6nw', start: START + 10, end: START + 14 },
      { alertname: 'TalonPodCpuNearLimit', target: 'ns/web-77cf95d599-c8fk8', start: START + 50, end: START + 54 },
      { alertname: 'TalonPodMemoryNearLimit', target: 'ns/web-77cf95d599-c8fk8', start: START + 90, end: START + 99 },
      // Another workload, and the same workload name in another namespace: not this remediation's.
      { alertname: 'TalonPodCpuNearLimit', target: 'ns/api-77cf95d599-c8fk8', start: START + 50, end: START + 54 },
      { alertname: 'TalonPodCpuNearLimit', target: 'other/web-77cf95d599-c8fk8', start: START + 50, end: START + 54 },
    ];
    const s = scoreCopy({ copy, timeline: timeline(), episodes: eps, remediations: [workloadRun] });
    expect(s.lostAlerts.map((l) => l.target)).toEqual(['ns/api-77cf95d599-c8fk8', 'other/web-77cf95d599-c8fk8']);
    expect(s.alertsLost).toBe(2);
    // The per-alert ids from before workload keying named one pod: they cover that pod's alert only.
    const legacy = {
      id: 'remediate/TalonPodCpuNearLimit/ns/web-fbd5cf85b-8k6nw/4180e0ec73d9d61e/0b6f5a52',
      alertname: 'TalonPodCpuNearLimit',
      target: 'ns/web-fbd5cf85b-8k6nw',
    };
    expect(remediationCovers(legacy, eps[0]!)).toBe(true);
    expect(remediationCovers(legacy, eps[1]!)).toBe(false);
    expect(remediationCovers({ ...workloadRun, id: 'seed/1' }, eps[1]!)).toBe(false);
  });

  it('counts re-fires within the cool-down and turns ALERTS samples into episodes', () => {
    const eps = episodesFromSeries(
      [
        {
          metric: { alertname: 'A', namespace: 'ns', pod: 'p' },
          samples: [0, 2, 4, 40, 42].map((t) => ({ t: START + t, v: 1 })),
        },
      ],
      12,
    );
    expect(eps.map((e) => [e.start - START, e.end - START])).toEqual([
      [0, 4],
      [40, 42],
    ]);
    const s = scoreCopy({ copy: planCopy('r', scenario, 'none', START), timeline: timeline(), episodes: eps });
    expect(s.refiresWithinCooldown).toBe(1);
    expect(s.alertsFired).toBe(2);
  });
});

describe('the seed’s log as remediations', () => {
  it('groups escalations with their decision and Rule 2 steps with their taint', () => {
    const copy = planCopy('r', scenario, 'seed-orchestrator', START);
    const ns = copy.namespaces.main;
    const node = copy.nodes['edge-a']!;
    const { receipts, remediations } = seedActivity(
      [
        { at: 1, kind: 'received', alert: 'A', target: `${ns}/web-1`, detail: 'firing' },
        {
          at: 2,
          kind: 'action',
          alert: 'A',
          target: `${ns}/web-1`,
          policy: 'cpu_scale_up',
          magnitude: 1.4,
          detail: 'x',
          rank: 0,
        },
        {
          at: 3,
          kind: 'action',
          alert: 'A',
          target: `${ns}/web-1`,
          policy: 'task_offloading',
          magnitude: 0.3,
          detail: 'x',
          rank: 1,
        },
        {
          at: 4,
          kind: 'action',
          alert: 'N',
          target: `node/${node}`,
          policy: 'node_overload',
          detail: 'Rule 2: tainted x',
        },
        {
          at: 5,
          kind: 'action',
          alert: 'N',
          target: `${ns}/web-1`,
          policy: 'node_overload',
          detail: 'Rule 2: deleted the heaviest pod on x',
        },
        { at: 6, kind: 'received', alert: 'A', target: 'other-ns/web-1', detail: 'firing' },
      ],
      copy,
    );
    expect(receipts).toHaveLength(1);
    expect(remediations.map((r) => r.policies)).toEqual([['cpu_scale_up', 'task_offloading'], ['node_overload']]);
  });
});

describe('report and picture', () => {
  const copies = (['talon-rules', 'none'] as const).map((e) => planCopy('r', scenario, e, START));
  const scores = copies.map((c) => ({
    ...scoreCopy({ copy: c, timeline: timeline(), episodes: [], remediations: [] }),
    repeat: 0,
  }));

  it('renders a summary table, a table per scenario and the picture link', () => {
    const md = renderMarkdown({
      run: 'r',
      command: 'talon lab run x.yaml',
      startedAt: '2030-01-01T00:00:00Z',
      wallSeconds: 300,
      engines: ['talon-rules', 'none'],
      repeat: 1,
      scenarios: [
        {
          name: 'unit-run',
          source: 'x.yaml',
          description: 'd',
          sloText: 'p95',
          wallSeconds: 280,
          copies: scores,
          picture: 'unit-run.svg',
        },
      ],
      notes: [],
    });
    expect(md).toContain('| [unit-run](#unit-run) | 40 (0) | 40 (0) | 280 |');
    expect(md).toContain('| SLO violated (s) | 40 | 40 |');
    expect(md).toContain('| alerts lost | 0 | – |');
    expect(md).toContain('![unit-run](unit-run.svg)');
  });

  it('draws one SVG with every engine, the threshold and the changes', () => {
    const svg = scenarioSvg(
      scenario,
      copies.map((c, i) => ({
        engine: c.engine,
        timeline: timeline(),
        actions: scores[i]!.actionLog,
        episodes: [],
        startAt: START,
      })),
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('threshold 300ms');
    expect(svg).toContain('talon-rules');
    expect(svg).toContain('CPU limit 1 → 1.5');
    expect(svg.match(/<path /g)!.length).toBeGreaterThan(5);
    expect(svg).not.toMatch(/NaN|undefined/);
  });
});

describe('applied twice', () => {
  it('a second new limit under the same Talon operation id is one operation applied twice', () => {
    const pts: TimelinePoint[] = [];
    for (let t = 0; t <= 100; t += 2) {
      const changes: ObservedChange[] =
        t === 20 || t === 50
          ? [{ kind: 'cpu_limit', workload: 'web', detail: 'CPU limit', operation: 'wf/run/1' }]
          : t === 80
            ? [{ kind: 'cpu_limit', workload: 'web', detail: 'CPU limit', operation: 'wf/run/2' }]
            : [];
      pts.push(point(t, false, changes));
    }
    const s = scoreCopy({
      copy: planCopy('r', scenario, 'talon-rules', START),
      timeline: pts,
      episodes: [],
      remediations: [],
    });
    expect(s.appliedTwice).toBe(1);
  });
});

describe('chaos schedule', () => {
  it('is seeded, in time order, inside the window and never closer than the gap', () => {
    const a = chaosSchedule(seededRandom(7), 10, 1000, 1200);
    const b = chaosSchedule(seededRandom(7), 10, 1000, 1200);
    expect(a).toEqual(b);
    expect(a).toHaveLength(10);
    for (let i = 1; i < a.length; i++) expect(a[i]!.at - a[i - 1]!.at).toBeGreaterThanOrEqual(8 - 1e-9);
    expect(a.every((s) => s.at >= 1000 && s.at <= 1200)).toBe(true);
    expect(new Set(chaosSchedule(seededRandom(1), 60, 0, 3600).map((s) => s.kind)).size).toBe(3);
    expect(chaosSchedule(seededRandom(7), 100, 0, 40)).toHaveLength(6);
    expect(summariseChaos([{ at: 1, kind: 'kill-worker', ok: true, recoveredSeconds: 2 }])).toMatchObject({
      total: 1,
      survived: 1,
      'kill-worker': 1,
    });
  });
});

describe('harm is judged against doing nothing', () => {
  it('a change followed by a fault’s own worsening is not harmful when none got as bad', () => {
    const worsening = (changes: boolean): TimelinePoint[] => {
      const pts: TimelinePoint[] = [];
      for (let t = 0; t <= 200; t += 2) {
        const c: ObservedChange[] =
          changes && t === 40 ? [{ kind: 'cpu_limit', workload: 'web', detail: 'CPU limit 1 → 1.4' }] : [];
        pts.push(point(t, t >= 60, c));
      }
      return pts;
    };
    const copy = planCopy('r', scenario, 'talon-rules', START);
    const alone = scoreCopy({ copy, timeline: worsening(true), episodes: [], remediations: [] });
    expect(alone.harmfulActions).toBe(1);
    const judged = scoreCopy({
      copy,
      timeline: worsening(true),
      baseline: worsening(false),
      episodes: [],
      remediations: [],
    });
    expect(judged.harmfulActions).toBe(0);
    const better = worsening(false).map((p) => ({ ...p, slo: { value: 0.1, violated: false } }));
    const blamed = scoreCopy({ copy, timeline: worsening(true), baseline: better, episodes: [], remediations: [] });
    expect(blamed.actionLog[0]!.why).toMatch(/0 % for none at the same time/);
  });
});

describe('changes as actions', () => {
  it('a new limit and a replica change at once are two actions; the rollout’s deletions and moves join them', () => {
    const pts = [0, 2, 4, 20].map((t) =>
      point(
        t,
        false,
        t === 2
          ? [
              { kind: 'pod_deleted', workload: 'web', detail: '3 pod(s) deleted' },
              { kind: 'cpu_limit', workload: 'web', detail: 'CPU limit 1 → 1.6' },
              { kind: 'replicas', workload: 'web', detail: 'replicas 3 → 2' },
            ]
          : t === 4
            ? [{ kind: 'moved', workload: 'web', node: 'edge-b', detail: 'now also on edge-b' }]
            : t === 20
              ? [{ kind: 'moved', workload: 'web', node: 'cloud-a', detail: 'now also on cloud-a' }]
              : [],
      ),
    );
    const s = scoreCopy({ copy: planCopy('r', scenario, 'none', START), timeline: pts, episodes: [] });
    expect(s.actionLog.map((a) => `${a.t} ${a.kind}`)).toEqual(['2 cpu_limit', '2 replicas', '20 moved']);
  });
});

describe('rescore', () => {
  it('recomputes scores, picture and report from the saved timelines and raw data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lab-rescore-'));
    await mkdir(join(dir, 'raw'));
    await mkdir(join(dir, 'timelines'));
    const copies = (['talon-rules', 'none'] as const).map((e) => planCopy('r', scenario, e, START));
    for (const c of copies) {
      await writeFile(
        join(dir, 'raw', `${c.id}.json`),
        JSON.stringify({ copy: c, episodes: [], remediations: [], repeat: 0 }),
      );
      await writeFile(
        join(dir, 'timelines', `${c.id}.jsonl`),
        `${timeline()
          .map((p) => JSON.stringify(p))
          .join('\n')}\n`,
      );
    }
    const stale = {
      run: 'r',
      command: 'x',
      startedAt: 'y',
      wallSeconds: 1,
      engines: ['talon-rules', 'none'],
      repeat: 1,
      notes: [],
      scenarios: [
        {
          name: 'unit-run',
          source: 's',
          description: 'd',
          sloText: 't',
          wallSeconds: 1,
          copies: [],
          picture: 'unit-run.svg',
        },
      ],
    };
    await writeFile(join(dir, 'report.json'), JSON.stringify(stale));
    const report = await rescore(dir);
    expect(report.scenarios[0]!.copies.map((c) => [c.engine, c.sloViolationSeconds])).toEqual([
      ['talon-rules', 40],
      ['none', 40],
    ]);
    expect(await readFile(join(dir, 'report.md'), 'utf8')).toContain('| SLO violated (s) | 40 | 40 |');
    expect((await readFile(join(dir, 'unit-run.svg'), 'utf8')).startsWith('<svg')).toBe(true);
  });
});

describe('talon-predictive', () => {
  const rules = planCopy('r1abc', scenario, 'talon-rules', START);
  const predictive = planCopy('r1abc', scenario, 'talon-predictive', START);

  it('is talon-rules plus a policy file: the watch on for its copies only, acting there, nothing else changed', () => {
    expect(predictive.id).toBe('r1abc-unit-run-pred');
    const namespaces = (
      copyManifests('r1abc', predictive) as { kind: string; metadata: { labels?: Record<string, string> } }[]
    )
      .filter((o) => o.kind === 'Namespace')
      .map((o) => o.metadata.labels?.['talon.io/policy-engine']);
    expect(namespaces).toEqual(['rules', 'rules']);
    expect(labPolicy('r1abc', [rules])).toBeUndefined();
    const text = labPolicy('r1abc', [rules, predictive])!;
    const policy = parsePolicyFile(text, 'lab-policy.yaml', checkPolicyRules);
    expect(policy.predictive).toMatchObject({
      enabled: true,
      namespaces: [predictive.namespaces.main],
      stepSeconds: 5,
      thresholds: { cpu: scenario.alerts.cpuLimitShare, memory: scenario.alerts.memoryLimitShare },
    });
    expect(policy.stormBrake.enabled).toBe(false);
    expect(policy.protectedNamespaces).toEqual(expect.arrayContaining([rules.namespaces.protected]));
    const scope = (namespace: string, predicted: boolean): AlertScope => ({
      alertName: predicted ? 'TalonPredictedCpuSaturation' : 'TalonPodCpuNearLimit',
      labels: predicted ? { talon_predicted: 'true' } : {},
      kind: 'pod',
      namespace,
    });
    expect(resolvePolicy(policy, scope(predictive.namespaces.main, true)).settings.autonomy).toBe('auto');
    expect(resolvePolicy(policy, scope(rules.namespaces.main, true)).settings.autonomy).toBe('recommend');
    expect(resolvePolicy(policy, scope(rules.namespaces.main, false)).settings.autonomy).toBe('auto');
  });

  it('refuses copies whose scenarios draw the alert line at different shares', () => {
    const other = parseScenario(YAML.replace('for: 15s', 'for: 15s, cpuLimitShare: 0.7'), 'other.yaml', '/tmp');
    expect(() => labPolicy('r1abc', [predictive, planCopy('r1abc', other, 'talon-predictive', START)])).toThrow(
      /different alert shares \(cpu\/memory\): 0\.8\/0\.85, 0\.7\/0\.85/,
    );
  });

  it('counts a remediation opened by a forecast as covering the alert it anticipated', () => {
    const t = START;
    const episodes: AlertEpisode[] = [
      { alertname: 'TalonPodCpuNearLimit', target: 'ns/web-1', start: t + 50, end: t + 80 },
    ];
    const score = scoreCopy({
      copy: predictive,
      timeline: [],
      episodes,
      remediations: [
        {
          id: 'remediate/ns/web',
          alertname: 'TalonPredictedCpuSaturation',
          target: 'ns/web-1',
          start: t + 20,
          policies: ['cpu_scale_up'],
        },
      ],
    });
    expect(score.alertsLost).toBe(0);
  });
});
