/**
 * The demo's workload on the lab driver (`npm start`, tools/stack/demo.ts): deploy/local/demo-scenario.yaml as
 * one copy in namespace talon-demo on two KWOK nodes of its own, with a driver process writing its usage and
 * energy. The stack's own alert rules (and route to Talon's webhook) cover talon-demo, so the demo's alerts take
 * Talon's ordinary path.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StackConfig } from '../../src/config/local-stack';
import { repoRoot } from '../../src/config/repo-root';
import { logDir } from '../stack/processes';
import { labTargetsDir } from '../stack/prometheus';
import { applyManifests, kubectl } from '../stack/kube';
import { LAB_LABELS, type CopyPlan, type LabPlan } from './plan';
import { copyManifests, planCopy, runId } from './runner/manifests';
import { startService, stopService, waitForLine } from './runner/services';
import { refreshPrometheus } from './runner/wiring';
import { loadScenario } from './scenario/load';

export const DEMO_NAMESPACE = 'talon-demo';

export interface DemoWorkload {
  readonly namespace: string;
  stop(): Promise<void>;
}

export async function startDemoWorkload(stack: StackConfig, log: (line: string) => void): Promise<DemoWorkload> {
  const scenario = loadScenario(join(repoRoot(), 'deploy', 'local', 'demo-scenario.yaml'));
  const run = runId();
  const copy: CopyPlan = {
    ...planCopy(run, scenario, 'demo', Date.now() / 1000),
    namespaces: { main: DEMO_NAMESPACE, protected: `${DEMO_NAMESPACE}-protected` },
  };
  await refreshPrometheus(stack);
  // A demo left over from an earlier `npm start` (its driver gone) is replaced.
  await kubectl(stack, ['delete', 'namespace', DEMO_NAMESPACE, '--ignore-not-found', '--wait=true']);
  const stale = (await kubectl(stack, ['get', 'nodes', '-l', LAB_LABELS.copy, '-o', 'name']))
    .split('\n')
    .filter((n) => /-demo-demo-/.test(n));
  if (stale.length > 0) await kubectl(stack, ['delete', ...stale, '--ignore-not-found']);
  await applyManifests(stack, copyManifests(run, copy));
  const planPath = join(stack.stateDir, 'demo-plan.json');
  const plan: LabPlan = { run, copies: [copy], timelineDir: join(stack.stateDir, 'demo-timeline') };
  await writeFile(planPath, JSON.stringify(plan));
  const driver = await startService(
    'lab-driver-demo',
    [join(__dirname, 'driver', 'main.ts'), '--plan', planPath, '--targets-dir', labTargetsDir(stack)],
    process.env,
    logDir(stack.stateDir),
  );
  await waitForLine(driver, /lab-driver (http:\/\/\S+)/, 60_000);
  log(`  lab driver drives ${DEMO_NAMESPACE}/web (log: ${driver.logPath})`);
  return {
    namespace: DEMO_NAMESPACE,
    async stop() {
      await stopService(driver);
    },
  };
}
