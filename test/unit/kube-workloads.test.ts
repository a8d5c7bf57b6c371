import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { GuardRefusedError } from '../../src/domain/errors';
import { guardConfig } from '../../src/domain/guards';
import { containerMatches, planResourceScaling } from '../../src/domain/resource-plan';
import { UnsupportedTargetError } from '../../src/kube/errors';
import {
  containersOf,
  jobManifestForRecreate,
  operationAnnotation,
  operationOf,
  ownerCandidate,
  pinToNode,
  podManifestForRecreate,
} from '../../src/kube/workloads';

function pod(owner?: { kind: string; name: string }, labels: Record<string, string> = {}): V1Pod {
  return {
    metadata: {
      name: 'web-7c9f8b-x2x',
      namespace: 'shop',
      uid: 'u1',
      labels,
      ...(owner ? { ownerReferences: [{ ...owner, apiVersion: 'apps/v1', uid: 'o', controller: true }] } : {}),
    },
    spec: { containers: [{ name: 'app', image: 'x' }] },
  };
}

describe('ownerCandidate', () => {
  it('derives the Deployment from the ReplicaSet name minus the pod-template-hash, without a GET', () => {
    expect(ownerCandidate(pod({ kind: 'ReplicaSet', name: 'web-7c9f8b' }, { 'pod-template-hash': '7c9f8b' }))).toEqual({
      kind: 'Deployment',
      name: 'web',
      replicaSet: 'web-7c9f8b',
    });
    expect(ownerCandidate(pod({ kind: 'ReplicaSet', name: 'bare' }))).toEqual({
      kind: 'Deployment',
      name: 'bare',
      replicaSet: 'bare',
    });
  });

  it('names StatefulSets, DaemonSets, Jobs and standalone pods, and refuses other controllers', () => {
    expect(ownerCandidate(pod({ kind: 'StatefulSet', name: 'db' }))).toEqual({ kind: 'StatefulSet', name: 'db' });
    expect(ownerCandidate(pod({ kind: 'DaemonSet', name: 'agent' }))).toEqual({ kind: 'DaemonSet', name: 'agent' });
    expect(ownerCandidate(pod({ kind: 'Job', name: 'yolo' }))).toEqual({ kind: 'Job', name: 'yolo' });
    expect(ownerCandidate(pod())).toEqual({ kind: 'Pod', name: 'web-7c9f8b-x2x' });
    expect(() => ownerCandidate(pod({ kind: 'Rollout', name: 'r' }))).toThrow(UnsupportedTargetError);
  });
});

describe('manifests for recreation', () => {
  it('drops identity, status, the node binding and the injected token volume of a pod', () => {
    const p: V1Pod = {
      metadata: {
        name: 'p',
        namespace: 'n',
        uid: 'u',
        resourceVersion: '9',
        labels: { a: 'b' },
        annotations: { c: 'd' },
      },
      spec: {
        nodeName: 'edge-0',
        containers: [{ name: 'app', image: 'x', volumeMounts: [{ name: 'kube-api-access-abc', mountPath: '/var' }] }],
        volumes: [
          { name: 'kube-api-access-abc', projected: { sources: [] } },
          { name: 'data', emptyDir: {} },
        ],
      },
      status: { phase: 'Running' },
    };
    const m = podManifestForRecreate(p);
    expect(m).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'n', labels: { a: 'b' }, annotations: { c: 'd' } },
      spec: { containers: [{ name: 'app', image: 'x', volumeMounts: [] }], volumes: [{ name: 'data', emptyDir: {} }] },
    });
    expect(p.spec?.nodeName).toBe('edge-0');
  });

  it('drops a Job’s generated selector and controller-uid labels', () => {
    const job: V1Job = {
      metadata: {
        name: 'yolo',
        namespace: 'n',
        uid: 'u',
        labels: { 'controller-uid': 'u', 'job-name': 'yolo', team: 'x' },
      },
      spec: {
        selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u' } },
        manualSelector: false,
        template: {
          metadata: {
            labels: { 'batch.kubernetes.io/controller-uid': 'u', 'batch.kubernetes.io/job-name': 'yolo', app: 'yolo' },
          },
          spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] },
        },
      },
    };
    const m = jobManifestForRecreate(job);
    expect(m.metadata).toEqual({ name: 'yolo', namespace: 'n', labels: { team: 'x' } });
    expect(m.spec?.selector).toBeUndefined();
    expect(m.spec?.manualSelector).toBeUndefined();
    expect(m.spec?.template.metadata?.labels).toEqual({ app: 'yolo' });
  });
});

describe('pinToNode', () => {
  it('adds a metadata.name pin to every required term, replacing an earlier pin', () => {
    const affinity = pinToNode(
      {
        containers: [],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [{ key: 'talon.io/tier', operator: 'In', values: ['cloud'] }],
                  matchFields: [{ key: 'metadata.name', operator: 'In', values: ['old'] }],
                },
              ],
            },
          },
        },
      },
      'cloud-1',
    );
    expect(affinity.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms).toEqual([
      {
        matchExpressions: [{ key: 'talon.io/tier', operator: 'In', values: ['cloud'] }],
        matchFields: [{ key: 'metadata.name', operator: 'In', values: ['cloud-1'] }],
      },
    ]);
    expect(pinToNode({ containers: [] }, 'n').nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual({
      nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n'] }] }],
    });
  });
});

describe('operation records', () => {
  it('round-trips and ignores malformed records', () => {
    const record = { id: 'wf:run:1', policy: 'cpu_scale_up', at: '2025-01-01T00:00:00.000Z', resource: 'cpu' };
    expect(operationOf({ annotations: operationAnnotation(record) })).toEqual(record);
    expect(operationOf({ annotations: { 'talon.io/operation': '{not json' } })).toBeUndefined();
    expect(operationOf({ annotations: { 'talon.io/operation': '{"id":1}' } })).toBeUndefined();
    expect(operationOf(undefined)).toBeUndefined();
  });
});

describe('planResourceScaling', () => {
  const g = guardConfig({ containerCpu: { min: '10m', max: '2' } });
  const containers = containersOf({
    containers: [
      { name: 'app', image: 'x', resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '1' } } },
      { name: 'sidecar', image: 'y', resources: { requests: { memory: '64Mi' } } },
    ],
  });

  it('scales every container that sets the resource, Kubernetes-exact', () => {
    const plan = planResourceScaling(g, containers, 'cpu', 1.5, { where: 'd' });
    expect(plan.targets).toEqual([{ container: 'app', requests: '750m', limits: '1500m' }]);
    expect(plan.changes).toEqual([
      { container: 'app', field: 'requests', from: '500m', to: '750m' },
      { container: 'app', field: 'limits', from: '1', to: '1500m' },
    ]);
    const mem = planResourceScaling(g, containers, 'memory', 0.5, { where: 'd' });
    expect(mem.targets).toEqual([
      { container: 'app', requests: '512Mi' },
      { container: 'sidecar', requests: '32Mi' },
    ]);
    expect(containerMatches(containers[0], 'cpu', { container: 'app', requests: '0.5', limits: '1000m' })).toBe(true);
    expect(containerMatches(containers[0], 'cpu', { container: 'app', requests: '750m' })).toBe(false);
  });

  it('refuses a missing container, nothing to scale, and results beyond the bounds', () => {
    expect(() => planResourceScaling(g, containers, 'cpu', 1.5, { container: 'nope', where: 'd' })).toThrow(
      'has no container named nope',
    );
    expect(() => planResourceScaling(g, containers, 'cpu', 1.5, { container: 'sidecar', where: 'd' })).toThrow(
      'nothing to scale',
    );
    const err = (() => {
      try {
        planResourceScaling(g, containers, 'cpu', 3, { where: 'Deployment shop/web' });
      } catch (e) {
        return e as GuardRefusedError;
      }
      return undefined;
    })();
    expect(err?.guard).toBe('result_bounds');
    expect(err?.message).toContain('Deployment shop/web container app limits: cpu would become 3');
  });
});
