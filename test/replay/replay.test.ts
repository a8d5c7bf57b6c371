/**
 * Replays every recorded history (test/replay/histories/*.json) against the current workflow code. A
 * change that would make a running remediation take a different path fails here, before it ships.
 * New histories: `TALON_RECORD_HISTORIES=1 npm run test:workflows`, or `talon history export <id>`.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { workflowsPath } from '../../workers/worker';

jest.setTimeout(120_000);

const dir = join(__dirname, 'histories');
let bundle: WorkflowBundleWithSourceMap;
const quietLogger = {
  log: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
  trace: () => undefined,
};

beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quietLogger });
});

const REQUIRED = [
  'resolved-after-first-policy',
  'escalated-then-needs-human',
  'approval-granted',
  'approval-timed-out',
  'node-overload-worker-killed-during-wait',
];

it('has the histories the team agreed to keep', async () => {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  expect(names).toEqual(expect.arrayContaining(REQUIRED));
});

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
