/**
 * The pure parts of undoing task offloading, data offloading and network QoS (src/kube/actuator/rollback/): the
 * snapshot an apply records, the merge patch that restores node constraints exactly, and the checks that refuse
 * an undo over someone else's change.
 */
import type { V1PodSpec } from '@kubernetes/client-node';
import { snapshotOf } from '../../src/kube/actuator/annotations';
import { annotationChanges, changedAnnotations } from '../../src/kube/actuator/rollback/annotations';
import { mergePatchBetween, normalised, sameJson } from '../../src/kube/actuator/rollback/json';
import { withPlacement } from '../../src/kube/actuator/rollback/offload';
import { pinToNode, placementOf } from '../../src/kube/workloads';

/** Applies a JSON merge patch (RFC 7386) the way the apiserver does, to check a patch by its result. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

const preferred = {
  preferredDuringSchedulingIgnoredDuringExecution: [
    { weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
  ],
};

function spec(more: Partial<V1PodSpec> = {}): V1PodSpec {
  return { containers: [{ name: 'app', image: 'app:1' }], ...more };
}

describe('snapshotOf: the annotation values a change replaces', () => {
  it('keeps the old value of each key it writes, null for an absent one, and nothing else', () => {
    expect(
      snapshotOf(
        { 'ovn.kubernetes.io/ingress_rate': '300', unrelated: 'x' },
        { 'ovn.kubernetes.io/ingress_rate': '100', 'ovn.kubernetes.io/egress_rate': '100' },
      ),
    ).toEqual({ 'ovn.kubernetes.io/ingress_rate': '300', 'ovn.kubernetes.io/egress_rate': null });
  });
});

describe('annotationChanges and changedAnnotations', () => {
  const written = { 'ovn.kubernetes.io/ingress_rate': '100', 'ovn.kubernetes.io/egress_rate': '100' };
  const previous = { 'ovn.kubernetes.io/ingress_rate': '300', 'ovn.kubernetes.io/egress_rate': null };

  it('restores a changed value and removes one that was absent, naming both', () => {
    expect(annotationChanges(written, previous)).toEqual([
      { path: 'annotation ovn.kubernetes.io/ingress_rate', from: '100', to: '300' },
      { path: 'annotation ovn.kubernetes.io/egress_rate', from: '100' },
    ]);
    expect(annotationChanges(written, written)).toEqual([]);
  });

  it('sees when someone changed or removed what the change set', () => {
    expect(changedAnnotations(written, written)).toBe('');
    expect(changedAnnotations({ 'ovn.kubernetes.io/ingress_rate': '100' }, written)).toBe(
      'ovn.kubernetes.io/egress_rate is absent, not 100',
    );
    expect(changedAnnotations({ ...written, 'ovn.kubernetes.io/ingress_rate': '50' }, written)).toBe(
      'ovn.kubernetes.io/ingress_rate is 50, not 100',
    );
    // A rollback's own record says "removed" with null: absent is what it set.
    expect(changedAnnotations({}, { 'talon.io/data-offload': null })).toBe('');
  });
});

describe('normalised and sameJson: values as the apiserver stores them', () => {
  it('drops empty lists, empty maps, null and undefined, and ignores key order', () => {
    expect(normalised({ b: [], a: { c: undefined, d: null }, e: 1 })).toEqual({ e: 1 });
    expect(sameJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameJson({ matchExpressions: [] }, undefined)).toBe(true);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson({ a: '1' }, { a: 1 })).toBe(false);
  });
});

describe('mergePatchBetween: the merge patch from what is there to the snapshot', () => {
  const cases: [string, unknown, unknown][] = [
    ['the pin removed when there was no affinity', pinToNode(spec(), 'n2'), undefined],
    [
      'the pin removed, the preferences kept',
      pinToNode(spec({ affinity: { nodeAffinity: preferred } }), 'n2'),
      { nodeAffinity: preferred },
    ],
    [
      'the terms before the pin restored (its field removed from each)',
      pinToNode(
        spec({
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
              },
            },
            podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] },
          },
        }),
        'n2',
      ),
      {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
          },
        },
      },
    ],
    ['a node selector value back, an added key removed', { tier: 'cloud', extra: 'x' }, { tier: 'edge' }],
  ];

  it.each(cases)('%s', (_name, current, target) => {
    const patch = mergePatchBetween(current, target);
    expect(patch).not.toBeUndefined();
    expect(sameJson(applyMergePatch(current, patch), target)).toBe(true);
  });

  it('is undefined when there is nothing to restore, null when the value goes', () => {
    expect(mergePatchBetween({ tier: 'edge' }, { tier: 'edge' })).toBeUndefined();
    expect(mergePatchBetween(undefined, undefined)).toBeUndefined();
    expect(mergePatchBetween({ tier: 'edge' }, undefined)).toBeNull();
  });
});

describe('placementOf and withPlacement', () => {
  it('snapshots only the node constraints, as plain JSON, and puts them back exactly', () => {
    const before = spec({ nodeSelector: { tier: 'edge' }, affinity: { nodeAffinity: preferred }, nodeName: 'n1' });
    const snapshot = placementOf(before);
    expect(snapshot).toEqual({ nodeSelector: { tier: 'edge' }, affinity: { nodeAffinity: preferred } });
    const pinned = { ...before, affinity: pinToNode(before, 'n2'), nodeSelector: { tier: 'cloud' } };
    expect(placementOf(pinned)).not.toEqual(snapshot);
    const restored = withPlacement(pinned, snapshot);
    expect(placementOf(restored)).toEqual(snapshot);
    expect(restored.containers).toBe(pinned.containers);
    expect(restored.nodeName).toBe('n1');
  });

  it('removes constraints that were absent before', () => {
    const restored = withPlacement(spec({ affinity: pinToNode(spec(), 'n2'), nodeSelector: { a: 'b' } }), {});
    expect(restored).toEqual(spec());
    expect(placementOf(spec())).toEqual({});
  });
});
