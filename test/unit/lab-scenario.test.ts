/** Scenario files of the incident lab: the schema, the normalisation, and what a bad file says. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, loadScenarios, parseScenario, ScenarioError } from '../../tools/lab/scenario/load';
import { parseTrace } from '../../tools/lab/scenario/normalise';
import { scenarioJsonSchema } from '../../tools/lab/scenario/schema';
import { simulate } from '../../tools/lab/simulate';

const GOOD = `name: good
description: a valid scenario
duration: 4m
cluster:
  nodes:
    - { name: edge-a, tier: edge }
    - { name: cloud-a, tier: cloud, cpu: 8 }
workloads:
  - name: web
    node: edge-a
    resources:
      requests: { cpu: 500m, memory: 256Mi }
      limits: { cpu: '1', memory: 512Mi }
    demand:
      unit: rps
      cpuPerRequest: 0.005
      curve: { type: ramp, from: 50, to: 150, start: 30s, end: 2m }
faults:
  - { type: cpu_spike, at: 90s, duration: 1m, workload: web, cores: 0.5 }
slo: { kind: latency_p95, threshold: 250ms }
`;

function issuesOf(text: string): { path: string; message: string; line?: number }[] {
  try {
    parseScenario(text, 'bad.yaml', tmpdir());
  } catch (err) {
    if (err instanceof ScenarioError) return [...err.issues];
    throw err;
  }
  throw new Error('expected the scenario to be refused');
}

describe('a valid scenario', () => {
  it('resolves units and fills the defaults', () => {
    const s = parseScenario(GOOD, 'good.yaml', tmpdir());
    expect(s.durationSeconds).toBe(240);
    expect(s.tickSeconds).toBe(2);
    expect(s.nodes).toEqual([
      { name: 'edge-a', tier: 'edge', cpuCores: 4, memoryBytes: 8 * 2 ** 30, networkMbps: 1000 },
      { name: 'cloud-a', tier: 'cloud', cpuCores: 8, memoryBytes: 64 * 2 ** 30, networkMbps: 10000 },
    ]);
    const web = s.workloads[0]!;
    expect(web.requests).toEqual({ cpuCores: 0.5, memoryBytes: 256 * 2 ** 20 });
    expect(web.demand).toEqual({
      unit: 'rps',
      cpuPerRequest: 0.005,
      curve: { type: 'ramp', from: 50, to: 150, start: 30, end: 120 },
    });
    expect(web.quantities.limits).toEqual({ cpu: '1', memory: '512Mi' });
    expect(s.faults[0]).toEqual({ type: 'cpu_spike', at: 90, duration: 60, workload: 'web', cores: 0.5 });
    expect(s.alerts).toEqual({
      rules: ['cpu', 'memory', 'node'],
      forSeconds: 10,
      rateWindowSeconds: 20,
      cpuLimitShare: 0.8,
      memoryLimitShare: 0.85,
      nodeCpuShare: 0.9,
    });
    expect(s.slo).toEqual({ kind: 'latency_p95', threshold: 0.25, workloads: ['web'] });
  });

  it('reads a CSV trace relative to the scenario file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-trace-'));
    writeFileSync(join(dir, 'load.csv'), 'seconds,cores\n0,0.2\n60,0.8\n');
    writeFileSync(
      join(dir, 's.yaml'),
      GOOD.replace(/curve: \{ type: ramp[^}]*\}/, 'curve: { type: trace, csv: load.csv }'),
    );
    const s = loadScenario(join(dir, 's.yaml'));
    expect(s.workloads[0]!.demand.curve).toEqual({
      type: 'trace',
      points: [
        [0, 0.2],
        [60, 0.8],
      ],
      loop: false,
    });
  });
});

describe('a bad scenario says which field and why, with its line', () => {
  it('a YAML syntax error', () => {
    const [issue] = issuesOf('name: x\nworkloads: [\n');
    expect(issue!.message).toMatch(/^YAML:/);
    expect(issue!.line).toBeGreaterThan(1);
  });

  it('an unknown field', () => {
    const issues = issuesOf(GOOD.replace('    node: edge-a\n', '    node: edge-a\n    replica: 2\n'));
    expect(issues).toEqual([
      expect.objectContaining({ path: 'workloads[0]', message: expect.stringMatching(/replica/) }),
    ]);
  });

  it('a duration without a unit it knows', () => {
    const issues = issuesOf(GOOD.replace('duration: 4m', 'duration: 4 minutes'));
    expect(issues[0]).toMatchObject({ path: 'duration', line: 3 });
    expect(issues[0]!.message).toMatch(/duration such as/);
  });

  it('a curve type that does not exist', () => {
    const issues = issuesOf(GOOD.replace('type: ramp', 'type: zigzag'));
    expect(issues[0]!.path).toMatch(/^workloads\[0\]\.demand\.curve/);
    expect(issues[0]!.line).toBe(17);
  });

  it('a fault naming a workload that does not exist, and a fault after the end', () => {
    const issues = issuesOf(
      GOOD.replace('at: 90s, duration: 1m, workload: web', 'at: 5m, duration: 1m, workload: api'),
    );
    expect(issues).toEqual([
      expect.objectContaining({ path: 'faults[0].at', message: expect.stringMatching(/not before the end/) }),
      expect.objectContaining({ path: 'faults[0].workload', message: 'no workload "api" (web)', line: 19 }),
    ]);
  });

  it('requests above limits, rps without a cost per request, a node that does not exist', () => {
    const issues = issuesOf(
      GOOD.replace('requests: { cpu: 500m', 'requests: { cpu: 1500m')
        .replace('      cpuPerRequest: 0.005\n', '')
        .replace('node: edge-a', 'node: edge-z'),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'workloads[0].resources.requests.cpu',
      'workloads[0].demand.cpuPerRequest',
      'workloads[0].node',
    ]);
  });

  it('an SLO threshold of the wrong kind and an SLO workload that does not exist', () => {
    const issues = issuesOf(
      GOOD.replace('threshold: 250ms', 'threshold: 250ms, workloads: [api]').replace('latency_p95', 'availability'),
    );
    expect(issues.map((i) => i.path)).toEqual(['slo.workloads[0]', 'slo.threshold']);
  });

  it('a CSV trace that cannot be read or parsed', () => {
    const missing = issuesOf(GOOD.replace(/curve: \{ type: ramp[^}]*\}/, 'curve: { type: trace, csv: nowhere.csv }'));
    expect(missing[0]).toMatchObject({ path: 'workloads[0].demand.curve.csv' });
    expect(() => parseTrace('0,1\n5,2\n3,4\n')).toThrow(/line 3: seconds must increase/);
    expect(() => parseTrace('0,1\nfive,2\n')).toThrow(/line 2/);
  });

  it('reports the problems of every file at once, and duplicate scenario names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-many-'));
    writeFileSync(join(dir, 'a.yaml'), GOOD.replace('duration: 4m', 'duration: 1s'));
    writeFileSync(join(dir, 'b.yaml'), GOOD.replace('tier: cloud', 'tier: moon'));
    expect(() => loadScenarios([join(dir, 'a.yaml'), join(dir, 'b.yaml')])).toThrow(
      /a\.yaml: duration[\s\S]*b\.yaml: cluster\.nodes\[1\]\.tier/,
    );
    writeFileSync(join(dir, 'c.yaml'), GOOD);
    writeFileSync(join(dir, 'd.yaml'), GOOD);
    expect(() => loadScenarios([join(dir, 'c.yaml'), join(dir, 'd.yaml')])).toThrow(/"good" is also the name of/);
    expect(() => loadScenario(join(dir, 'none.yaml'))).toThrow(/cannot read/);
  });
});

describe('the published JSON schema', () => {
  it('is the one generated from the zod schema (regenerate with `talon lab schema --out tools/lab/scenario.schema.json`)', () => {
    const committed = JSON.parse(readFileSync(join(__dirname, '../../tools/lab/scenario.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(scenarioJsonSchema())));
  });

  it('every committed scenario is valid', () => {
    const dir = join(__dirname, '../../tools/lab/scenarios');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(12);
    const scenarios = loadScenarios(files.map((f) => join(dir, f)));
    expect(scenarios.map((s) => `${s.name}.yaml`).sort()).toEqual([...files].sort());
  });
});

describe('the committed scenarios pose a problem (or, for traps, none)', () => {
  const dir = join(__dirname, '../../tools/lab/scenarios');
  const scenarios = loadScenarios(
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(dir, f)),
  );

  it.each(scenarios.map((s) => [s.name, s] as const))('%s', (_name, s) => {
    const sim = simulate(s);
    const trap = s.workloads.some((w) => w.trap || w.namespace === 'protected');
    // With nobody acting: a trap keeps its SLO and still fires an alert (the bait); every other scenario breaks it.
    if (trap) expect(sim.violationSeconds).toBe(0);
    else expect(sim.violationSeconds).toBeGreaterThan(0);
    expect(Object.keys(sim.firstCondition).length).toBeGreaterThan(0);
    expect(Number.isFinite(sim.energyJoules) && sim.energyJoules > 0).toBe(true);
  });
});
