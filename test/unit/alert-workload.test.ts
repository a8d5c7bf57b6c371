/**
 * One incident, one remediation: pod alerts are keyed by their owner workload (src/domain/alert.ts), and the
 * workload's remediation tracks which of its pods fire (src/domain/alert-members.ts).
 */
import {
  alertWorkflowId,
  alertWorkload,
  instanceHost,
  isIpAddress,
  legacyAlertWorkflowId,
  targetFromLabels,
  type AlertTarget,
  type TalonAlert,
} from '../../src/domain/alert';
import { AlertMembers } from '../../src/domain/alert-members';

function alert(pod: string, fingerprint: string, overrides: Partial<TalonAlert> = {}): TalonAlert {
  return {
    source: 'alertmanager',
    alertName: 'TalonPodCpuNearLimit',
    status: 'firing',
    fingerprint,
    target: { kind: 'pod', namespace: 'talon-demo', pod, container: 'app' },
    labels: {},
    annotations: {},
    startsAt: '2026-11-25T10:00:00Z',
    ...overrides,
  };
}

describe('alertWorkflowId', () => {
  it('gives both pods of one Deployment (the demo’s talon-demo/web) the same workflow', () => {
    const a = alert('web-7c9f8b6d4-x2x9z', 'f1');
    const b = alert('web-7c9f8b6d4-q8w4k', 'f2');
    expect(alertWorkflowId(a)).toBe('remediate/talon-demo/web');
    expect(alertWorkflowId(b)).toBe(alertWorkflowId(a));
  });

  it('keeps the workflow across a rollout (new ReplicaSet hash) and for other alert names of the workload', () => {
    const before = alert('web-7c9f8b6d4-x2x9z', 'f1');
    const after = alert('web-5d8b7f9c6-zz2kk', 'f3', { alertName: 'TalonPodMemoryNearLimit' });
    expect(alertWorkflowId(after)).toBe(alertWorkflowId(before));
  });

  it('groups StatefulSet ordinals and Job pods by their owner, and keeps distinct workloads apart', () => {
    expect(alertWorkflowId(alert('db-0', 'a'))).toBe('remediate/talon-demo/db');
    expect(alertWorkflowId(alert('db-2', 'b'))).toBe('remediate/talon-demo/db');
    expect(alertWorkflowId(alert('report-x7k2p', 'c'))).toBe('remediate/talon-demo/report');
    expect(alertWorkflowId(alert('cart-7c9f8b6d4-x2x9z', 'd'))).not.toBe(
      alertWorkflowId(alert('web-7c9f8b6d4-x2x9z', 'd')),
    );
    expect(alertWorkflowId(alert('standalone', 'e'))).toBe('remediate/talon-demo/standalone');
    const other: AlertTarget = { kind: 'pod', namespace: 'shop', pod: 'web-7c9f8b6d4-x2x9z' };
    expect(alertWorkflowId(alert('x', 'f', { target: other }))).toBe('remediate/shop/web');
  });

  it('lets a rule name the workload explicitly (talon_workload), ignoring a value that is no Kubernetes name', () => {
    expect(alertWorkload(alert('weird-name-1', 'a', { labels: { talon_workload: 'checkout' } }))).toBe('checkout');
    expect(alertWorkload(alert('weird-name-1', 'a', { labels: { talon_workload: 'Not A Name' } }))).toBe('weird-name');
  });

  it('keeps node alerts per alert, and remembers the per-alert id of earlier versions for pods only', () => {
    const node = alert('unused', 'n1', { alertName: 'TalonNodeOverloaded', target: { kind: 'node', node: 'edge-1' } });
    expect(alertWorkflowId(node)).toBe('node-overload/TalonNodeOverloaded/edge-1/n1');
    expect(legacyAlertWorkflowId(node)).toBeUndefined();
    expect(legacyAlertWorkflowId(alert('web-7c9f8b6d4-x2x9z', 'f1'))).toBe(
      'remediate/TalonPodCpuNearLimit/talon-demo/web-7c9f8b6d4-x2x9z/f1',
    );
  });
});

describe('AlertMembers', () => {
  it('fires while any pod fires, and acts on the newest firing pod', () => {
    const a = alert('web-7c9f8b6d4-x2x9z', 'fa');
    const b = alert('web-7c9f8b6d4-q8w4k', 'fb');
    const members = new AlertMembers(a);
    members.fired(a); // signal-with-start delivers the first alert again
    expect(members.size).toBe(1);
    members.fired(b);
    expect(members.target()?.pod.pod).toBe('web-7c9f8b6d4-q8w4k');
    members.resolved(b);
    expect(members.firing).toBe(true);
    expect(members.target()?.pod.pod).toBe('web-7c9f8b6d4-x2x9z');
    members.resolved(a);
    expect(members.firing).toBe(false);
    expect(members.target()).toBeUndefined();
  });

  it('stops counting a member whose pod is gone, until that alert fires again', () => {
    const a = alert('db-0', 'fa');
    const members = new AlertMembers(a);
    members.markGone('fa');
    expect(members.firing).toBe(false);
    expect(members.target()).toBeUndefined();
    members.fired(a); // a StatefulSet recreates db-0 under the same name
    expect(members.target()?.pod.pod).toBe('db-0');
  });

  it('starts not firing when the first notification is a resolve, and ignores node alerts', () => {
    const members = new AlertMembers(alert('web-1', 'fa', { status: 'resolved' }));
    expect(members.firing).toBe(false);
    members.fired(alert('x', 'n', { target: { kind: 'node', node: 'edge-1' } }));
    expect(members.size).toBe(1);
    expect(members.firing).toBe(false);
  });
});

describe('node alerts by address (D3.6 Rule 2)', () => {
  it('takes a node-scope alert’s node from its instance label when it has no node label', () => {
    expect(targetFromLabels({ alertname: 'HighCpu', instance: '10.0.0.5:9100', talon_scope: 'node' })).toEqual({
      kind: 'node',
      node: '10.0.0.5',
    });
    expect(targetFromLabels({ alertname: 'NodeCpuHigh', instance: '[fe80::1]:9100' })).toEqual({
      kind: 'node',
      node: 'fe80::1',
    });
    expect(targetFromLabels({ alertname: 'NodeCpuHigh', instance: 'edge-1:9100' })).toEqual({
      kind: 'node',
      node: 'edge-1',
    });
    // A node label may hold an address too.
    expect(targetFromLabels({ node: '192.168.1.20' })).toEqual({ kind: 'node', node: '192.168.1.20' });
  });

  it('never reads a pod alert’s scrape instance as a node, and refuses an unreadable instance', () => {
    expect(targetFromLabels({ alertname: 'Foo', instance: '10.0.0.5:9100' })).toMatch(
      /neither namespace\+pod nor node/,
    );
    expect(
      targetFromLabels({ alertname: 'X', namespace: 'a', pod: 'b', instance: '10.0.0.5:9100', talon_scope: 'node' }),
    ).toEqual({
      kind: 'pod',
      namespace: 'a',
      pod: 'b',
    });
    expect(targetFromLabels({ alertname: 'NodeDown', instance: 'not a host!' })).toMatch(
      /label "instance" must be host:port/,
    );
  });

  it('recognises addresses', () => {
    expect(['10.0.0.5', '255.255.255.255', 'fe80::1', '2001:db8::8a2e:370:7334'].every(isIpAddress)).toBe(true);
    expect(['256.1.1.1', '10.0.0', 'edge-1', '', 'fe80::1::zz'].some(isIpAddress)).toBe(false);
    expect(instanceHost('10.0.0.5')).toBe('10.0.0.5');
    expect(instanceHost('[::1]:9100')).toBe('::1');
  });
});
