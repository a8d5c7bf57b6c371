/**
 * Replays every recorded history (test/replay/histories/*.json) against the current workflow code. A
 * change that would make a running remediation take a different path fails here, before it ships.
 * New histories: `TALON_RECORD_HISTORIES=1 npm run test:workflows`, or `talon history export <id>`.
 */
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows, writeWorkflowBundle } from '../../workers/bundle';

jest.setTimeout(120_000);

const dir = join(__dirname, 'histories');
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await bundleWorkflows();
});

/** Remediation histories kept in both shapes: before (`.before-local-reads`) and after the in-task reads patch. */
const REMEDIATION_SHAPES = [
  'resolved-after-first-policy',
  'escalated-then-needs-human',
  'approval-granted',
  'approval-timed-out',
];
/** Histories of issue 14's paths, each behind its patch (the older histories above replay without it). */
const EFFECT_SHAPES = ['workload-two-pods-one-change', 'memory-refire-next-policy', 'memory-growth-cap-needs-human'];
const REQUIRED = [
  ...REMEDIATION_SHAPES,
  ...REMEDIATION_SHAPES.map((name) => `${name}.before-local-reads`),
  'node-overload-worker-killed-during-wait',
  // The storm path: two batches appended by signal, handed on by dispatchAlerts.
  'alert-intake',
  // Issue 14: one remediation per workload; escalation memory across episodes and its growth cap.
  ...EFFECT_SHAPES,
  // A task offload's release once its source node recovered (check, release, verify).
  'offload-release-recovered',
  // Issue 15 §3: the predictive watch's rounds, and a workload's recommendation on a forecast followed by the real
  // alert's own episode.
  'predictive-watch',
  'predicted-then-real-alert',
  // An I/O alert's change undone because the pod's I/O (not its CPU) was worse after the cool-down.
  'rollback-io-alert-own-signal',
];

it('has the histories the team agreed to keep', async () => {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  expect(names).toEqual(expect.arrayContaining(REQUIRED));
});

interface RecordedEvent {
  markerRecordedEventAttributes?: {
    markerName?: string;
    details?: Record<string, { payloads?: { data?: string }[] }>;
  };
  activityTaskScheduledEventAttributes?: { activityType?: { name: string } };
}

async function events(name: string): Promise<RecordedEvent[]> {
  return (JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as { events: RecordedEvent[] }).events;
}

const decode = (data: string | undefined): string => Buffer.from(data ?? '', 'base64').toString('utf8');

it.each(REMEDIATION_SHAPES)(
  'keeps %s both from before the in-task reads patch (ordinary activities) and after it (local activities)',
  async (name) => {
    const scheduled = (list: RecordedEvent[]) =>
      list.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    const patches = (list: RecordedEvent[]) =>
      list
        .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
        .map((e) => decode(e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data));
    const localTypes = (list: RecordedEvent[]) =>
      list
        .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
        .map(
          (e) =>
            (
              JSON.parse(decode(e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data)) as {
                activity_type: string;
              }
            ).activity_type,
        );

    const before = await events(`${name}.before-local-reads`);
    expect(patches(before)).toEqual([]);
    expect(scheduled(before)).toEqual(expect.arrayContaining(['readTarget', 'gatherWindow', 'decidePolicy']));

    const after = await events(name);
    expect(patches(after)).toEqual([expect.stringContaining('"id":"talon-local-reads-v1"')]);
    expect(scheduled(after)).not.toContain('readTarget');
    expect(localTypes(after).slice(0, 3)).toEqual(['readTarget', 'gatherWindow', 'decidePolicy']);
  },
);

it('replays every recorded history without non-determinism', async () => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  expect(files.length).toBeGreaterThanOrEqual(REQUIRED.length);
  const histories = await Promise.all(
    files.map(async (file) => ({
      workflowId: file,
      history: historyFromJSON(JSON.parse(await readFile(join(dir, file), 'utf8'))),
    })),
  );
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
});

it('replays them from a prebuilt bundle too (TALON_WORKFLOW_BUNDLE, written by talon bundle-workflows)', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'talon-bundle-')), 'workflow-bundle.js');
  const written = await writeWorkflowBundle(out);
  expect(written.bytes).toBeGreaterThan(100_000);
  const histories = await Promise.all(
    REMEDIATION_SHAPES.map(async (name) => ({
      workflowId: name,
      history: historyFromJSON(JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8'))),
    })),
  );
  const outcomes: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: out } }, histories)) {
    outcomes.push(`${result.workflowId}: ${result.error ? result.error.message : 'ok'}`);
  }
  expect(outcomes.sort()).toEqual(REMEDIATION_SHAPES.map((name) => `${name}: ok`).sort());
});

it('keeps zod out of the workflow bundle (every cached workflow evaluates its own copy of each module)', () => {
  // With zod in the graph a worker held ≈ 4 MiB per cached remediation; the schema lives in taxonomy-parse.ts.
  expect(bundle.code).not.toMatch(/node_modules\/zod\//);
  expect(bundle.code.length).toBeLessThan(3_000_000);
});

it('detects a history the workflow code does not match', async () => {
  const file = join(dir, 'escalated-then-needs-human.json');
  const json = JSON.parse(await readFile(file, 'utf8')) as {
    events: { activityTaskScheduledEventAttributes?: { activityType?: { name: string } } }[];
  };
  // Pretend the recorded run called a different first activity: replay must refuse it.
  const tampered = structuredClone(json);
  const scheduled = tampered.events.find((e) => e.activityTaskScheduledEventAttributes);
  scheduled!.activityTaskScheduledEventAttributes!.activityType = { name: 'somethingElse' };
  const results: { error?: Error }[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle }, [
    { workflowId: 'tampered', history: historyFromJSON(tampered) },
  ])) {
    results.push(r);
  }
  expect(results[0]?.error).toBeDefined();
});

it('keeps a node-overload history whose wait outlived the worker that started it', async () => {
  const json = JSON.parse(await readFile(join(dir, 'node-overload-worker-killed-during-wait.json'), 'utf8')) as {
    events: Record<string, unknown>[];
  };
  const identities = new Set<string>();
  for (const event of json.events)
    for (const value of Object.values(event)) {
      const identity = (value as { identity?: unknown } | null)?.identity;
      if (typeof identity === 'string' && identity) identities.add(identity);
    }
  // Started by one worker process, finished (untaint) by its replacement.
  expect(identities.size).toBeGreaterThanOrEqual(2);
  const untaints = json.events.filter(
    (e) =>
      (e.activityTaskScheduledEventAttributes as { activityType?: { name?: string } } | undefined)?.activityType
        ?.name === 'untaintNode',
  );
  expect(untaints).toHaveLength(1);
});

it('keeps issue 14’s paths: two pods in one remediation, a re-fire continuing down the ranking, the growth cap', async () => {
  const scheduled = (list: RecordedEvent[]) =>
    list.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
  const patches = (list: RecordedEvent[]) =>
    list
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
      .map((e) => decode(e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data));
  const signals = (list: RecordedEvent[]) =>
    list.filter(
      (e) => (e as { workflowExecutionSignaledEventAttributes?: unknown }).workflowExecutionSignaledEventAttributes,
    ).length;
  const pods = await events('workload-two-pods-one-change');
  expect(scheduled(pods).filter((t) => t === 'applyPolicy')).toHaveLength(1);
  expect(signals(pods)).toBeGreaterThanOrEqual(4); // two pods fired, two resolved
  const refire = await events('memory-refire-next-policy');
  expect(patches(refire)).toEqual(expect.arrayContaining([expect.stringContaining('"id":"talon-target-memory-v1"')]));
  expect(scheduled(refire).filter((t) => t === 'applyPolicy')).toHaveLength(2);
  const capped = await events('memory-growth-cap-needs-human');
  expect(scheduled(capped).filter((t) => t === 'applyPolicy')).toHaveLength(1);
  for (const name of ['rollback-after-failed-verification', 'rollback-after-worse-signal']) {
    const undone = await events(name);
    expect(patches(undone)).toEqual(expect.arrayContaining([expect.stringContaining('"id":"talon-rollback-v1"')]));
    expect(scheduled(undone).filter((t) => t === 'rollbackPolicy')).toHaveLength(1);
    expect(scheduled(undone).filter((t) => t === 'applyPolicy')).toHaveLength(2);
  }
  const node = await events('node-overload-evicts-until-relieved');
  expect(patches(node)).toEqual([expect.stringContaining('"id":"talon-node-verify-v1"')]);
  expect(scheduled(node).filter((t) => t === 'evictPod')).toHaveLength(2);
  expect(scheduled(node).filter((t) => t === 'rankNodes').length).toBeGreaterThanOrEqual(2);
  expect(scheduled(node).filter((t) => t === 'untaintNode')).toHaveLength(1);
  expect(scheduled(await events('node-overload-by-address'))).toContain('resolveNode');
  // The node-overload history from before usage verification has no such patch and evicts once.
  const legacy = await events('node-overload-worker-killed-during-wait');
  expect(patches(legacy)).toEqual([]);
  // Recorded before rollback existed: they replay without its patch.
  expect(patches(refire)).not.toEqual(expect.arrayContaining([expect.stringContaining('talon-rollback-v1')]));
  // An I/O alert judged on its own signal carries that patch; the CPU-alert rollbacks from before do not.
  const io = await events('rollback-io-alert-own-signal');
  expect(patches(io)).toEqual(expect.arrayContaining([expect.stringContaining('"id":"talon-rollback-own-signal-v1"')]));
  expect(scheduled(io).filter((t) => t === 'rollbackPolicy')).toHaveLength(1);
  const worse = await events('rollback-after-worse-signal');
  expect(patches(worse)).not.toEqual(expect.arrayContaining([expect.stringContaining('talon-rollback-own-signal')]));
});
