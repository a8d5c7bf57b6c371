/** Identical copies start identically: the runner waits for usable nodes and reports pods that start elsewhere. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { LAB_LABELS } from '../../tools/lab/plan';
import { copyNodesWaiting, misplacedPods } from '../../tools/lab/runner/placement';
import type { Scenario } from '../../tools/lab/scenario/model';

const copy = {
  id: 'r-s-rules',
  nodes: { 'edge-a': 'r-s-rules-edge-a', 'edge-b': 'r-s-rules-edge-b' },
  scenario: { workloads: [{ name: 'web', node: 'edge-a' }, { name: 'batch' }] } as unknown as Scenario,
};

function node(name: string, ready: boolean, taints: string[] = []): V1Node {
  return {
    metadata: { name },
    spec: { taints: taints.map((key) => ({ key, effect: 'NoSchedule' })) },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function pod(workload: string, at: string | undefined, deleting = false): V1Pod {
  return {
    metadata: {
      name: `${workload}-x`,
      labels: { [LAB_LABELS.copy]: copy.id, [LAB_LABELS.workload]: workload },
      ...(deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec: { containers: [], ...(at ? { nodeName: at } : {}) },
  };
}

describe('copy nodes', () => {
  it('waits for every node of every copy: created, Ready, and without the not-ready or unreachable taint', () => {
    const a = 'r-s-rules-edge-a';
    const b = 'r-s-rules-edge-b';
    expect(copyNodesWaiting([node(a, true)], [copy])).toBe(`${b}: not created yet`);
    expect(copyNodesWaiting([node(a, true), node(b, false)], [copy])).toBe(`${b}: not Ready`);
    expect(copyNodesWaiting([node(a, true, ['node.kubernetes.io/not-ready']), node(b, true)], [copy])).toBe(
      `${a}: still tainted node.kubernetes.io/not-ready`,
    );
    expect(copyNodesWaiting([node(a, true), node(b, true, ['node.kubernetes.io/unreachable'])], [copy])).toMatch(
      /unreachable/,
    );
    // The copy's own pool taint is how its pods are kept apart: it does not make a node unusable.
    expect(copyNodesWaiting([node(a, true, ['talon.io/lab-copy']), node(b, true)], [copy])).toBeUndefined();
  });
});

describe('misplaced pods', () => {
  it('names a pod that started off its scenario node; ignores unplaced workloads, other copies and deleted pods', () => {
    expect(misplacedPods([pod('web', 'r-s-rules-edge-a'), pod('batch', 'r-s-rules-edge-b')], [copy])).toEqual([]);
    expect(misplacedPods([pod('web', 'r-s-rules-edge-b')], [copy])).toEqual([
      'r-s-rules: web started on r-s-rules-edge-b, not on its scenario node r-s-rules-edge-a',
    ]);
    expect(misplacedPods([pod('web', undefined)], [copy])).toEqual([
      'r-s-rules: web started on no node, not on its scenario node r-s-rules-edge-a',
    ]);
    expect(misplacedPods([pod('web', 'r-s-rules-edge-b', true)], [copy])).toEqual([]);
    expect(misplacedPods([pod('web', 'r-s-rules-edge-b')], [{ ...copy, id: 'other' }])).toEqual([]);
  });
});
