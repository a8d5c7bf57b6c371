/** The namespace label that forces the policy engine (talon.io/policy-engine), and the cached label reader. */
import { createPolicyActivities, POLICY_ENGINE_LABEL } from '../../activities/policy';
import { cachedNamespaceLabels } from '../../src/kube/namespace-labels';
import { fixtureWindow } from '../support/windows';

const hot = (namespace: string) => {
  const w = fixtureWindow({ values: { cpu_usage: 0.95, memory_usage: 0.5 } });
  return { ...w, target: { ...w.target, namespace } };
};

describe('talon.io/policy-engine', () => {
  let modelCalls = 0;
  const model = {
    version: 'test',
    decide: () => {
      modelCalls++;
      return {
        source: 'model' as const,
        ranked: [{ policy: 'task_offloading' as const, score: 0.9, magnitude: 0.5, reason: 'model' }],
      };
    },
  };
  const labels: Record<string, Record<string, string>> = {
    forced: { [POLICY_ENGINE_LABEL]: 'rules' },
    modelled: { [POLICY_ENGINE_LABEL]: 'model' },
  };
  const activities = createPolicyActivities({
    model,
    namespaceLabels: async (ns) => {
      if (ns === 'broken') throw new Error('apiserver down');
      return labels[ns] ?? {};
    },
  });
  beforeEach(() => (modelCalls = 0));

  it('=rules: the rule policy answers and the model is not asked', async () => {
    const d = await activities.decidePolicy(hot('forced'));
    expect(d).toMatchObject({ source: 'rules', fallbackReason: `namespace label ${POLICY_ENGINE_LABEL}=rules` });
    expect(d.ranked[0]!.policy).toBe('cpu_scale_up');
    expect(modelCalls).toBe(0);
  });

  it('=model, no label, or labels that cannot be read: the usual engine (the model)', async () => {
    for (const ns of ['modelled', 'plain', 'broken']) {
      expect(await activities.decidePolicy(hot(ns))).toMatchObject({ source: 'model' });
    }
    expect(modelCalls).toBe(3);
  });
});

describe('cachedNamespaceLabels', () => {
  it('reads a namespace once per TTL and retries a failed read', async () => {
    let t = 0;
    let reads = 0;
    let fail = true;
    const core = {
      readNamespace: async ({ name }: { name: string }) => {
        reads++;
        if (fail) throw new Error('503');
        return { metadata: { name, labels: { a: name } } };
      },
    };
    const read = cachedNamespaceLabels(core, { ttlMs: 1000, now: () => t });
    expect(await read('x')).toEqual({});
    fail = false;
    expect(await read('x')).toEqual({ a: 'x' });
    expect(await read('x')).toEqual({ a: 'x' });
    expect(reads).toBe(2);
    t = 1500;
    await read('x');
    expect(reads).toBe(3);
  });
});
