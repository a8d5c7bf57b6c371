/**
 * `activities/` holds exactly the groups the worker registers: every exported `create…Activities` factory is
 * called when the worker assembles its activities, and every function of the group it returns is registered
 * under its own name (the name workflows schedule and histories record). A factory nobody registers is a
 * parallel copy that tests could exercise instead of production code; this test fails on the first one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { AssembledActivities, ActivityDeps } from '../../workers/activities';

const root = join(__dirname, '..', '..');
const activitiesDir = join(root, 'activities');
const FACTORY = /^create\w+Activities$/;

/**
 * Groups registered by the worker process itself (they need its Temporal client), not by createActivities: where
 * each is made, and how workers/worker.ts spreads it into the activities it registers.
 */
const REGISTERED_BY_WORKER: Readonly<Record<string, { file: string; made: string; spread: RegExp }>> = {
  createIntakeActivities: {
    file: 'workers/worker.ts',
    made: 'const intake = createIntakeActivities(',
    spread: /activities: \{\s*\.\.\.intake,/,
  },
  createOperatorActivities: {
    file: 'workers/operator.ts',
    made: 'const activities = createOperatorActivities(',
    spread: /\.\.\.assembled!\.activities, \.\.\.operator!\.activities/,
  },
};

type Group = Record<string, unknown>;
const made = new Map<string, Group[]>();
const exported = new Map<string, string>();

for (const file of readdirSync(activitiesDir).filter((f) => f.endsWith('.ts'))) {
  const path = join(activitiesDir, file.replace(/\.ts$/, ''));
  const actual = jest.requireActual<Record<string, unknown>>(path);
  for (const [name, value] of Object.entries(actual)) {
    if (FACTORY.test(name) && typeof value === 'function') exported.set(name, file);
  }
  // Wrap each factory so the assembly below shows which groups it made.
  jest.doMock(path, () => {
    const wrapped: Record<string, unknown> = { ...actual };
    for (const [name, value] of Object.entries(actual)) {
      if (!FACTORY.test(name) || typeof value !== 'function') continue;
      wrapped[name] = (...args: unknown[]) => {
        const group = (value as (...a: unknown[]) => Group)(...args);
        made.set(name, [...(made.get(name) ?? []), group]);
        return group;
      };
    }
    return wrapped;
  });
}

function offlineKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'none', token: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return kc;
}

describe('activity groups', () => {
  it('every exported activity-group factory is one the worker registers, under its own names', async () => {
    // Loaded here, after the mocks above are in place, so the assembly calls the wrapped factories.
    const { createActivities } = jest.requireActual<{
      createActivities: (deps: ActivityDeps) => Promise<AssembledActivities>;
    }>('../../workers/activities');
    const assembled = await createActivities({ kubeConfig: offlineKubeConfig(), prometheusUrl: 'http://127.0.0.1:1' });
    try {
      expect(exported.size).toBeGreaterThanOrEqual(6);
      const unregistered: string[] = [];
      for (const [factory, file] of exported) {
        const groups = made.get(factory);
        if (!groups) {
          if (!(factory in REGISTERED_BY_WORKER)) unregistered.push(`${factory} (activities/${file})`);
          continue;
        }
        for (const group of groups) {
          for (const [name, fn] of Object.entries(group)) {
            expect([factory, name, assembled.activities[name]]).toEqual([factory, name, fn]);
          }
        }
      }
      expect(unregistered).toEqual([]);
    } finally {
      await assembled.close();
    }
  });

  it('the groups the worker registers itself are spread into its activities', () => {
    const worker = readFileSync(join(root, 'workers', 'worker.ts'), 'utf8');
    for (const [factory, where] of Object.entries(REGISTERED_BY_WORKER)) {
      expect(exported.has(factory)).toBe(true);
      expect(readFileSync(join(root, where.file), 'utf8')).toContain(where.made);
      expect(worker).toMatch(where.spread);
    }
  });
});
