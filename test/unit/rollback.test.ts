/** The rollback's pure parts: the snapshot a change records, and "worse after the cool-down" (src/domain/rollback.ts). */
import { alertResource, alertSignal, compareRates, compareSignal, DEFAULT_ROLLBACK } from '../../src/domain/rollback';
import { planResourceScaling, previousTargets } from '../../src/domain/resource-plan';
import { guardConfig } from '../../src/domain/guards';
import { featureIndex } from '../../src/domain/features';
import { stubWindow } from '../support/stub-activities';
import type { FeatureWindow } from '../../src/domain/window';

function windowWith(feature: 'cpu_usage' | 'memory_usage', values: number[]): FeatureWindow {
  const base = stubWindow();
  const i = featureIndex(feature);
  return { ...base, values: base.values.map((row, step) => row.map((v, j) => (j === i ? (values[step] ?? v) : v))) };
}

describe('previousTargets: the pre-change snapshot recorded with a scaling step', () => {
  it('holds exactly the values the plan replaces, per container and field', () => {
    const plan = planResourceScaling(
      guardConfig({}),
      [
        { name: 'app', requests: { cpu: '500m' }, limits: { cpu: '1' } },
        { name: 'side', requests: { cpu: '100m' } },
        { name: 'nocpu', requests: { memory: '1Gi' } },
      ],
      'cpu',
      1.5,
      { where: 'Deployment shop/web' },
    );
    expect(previousTargets(plan)).toEqual([
      { container: 'app', requests: '500m', limits: '1' },
      { container: 'side', requests: '100m' },
    ]);
  });
});

describe('compareSignal', () => {
  const steps = (tail: number, head = 0.5) => [head, head, head, head, head, head, head, tail, tail, tail];

  it('calls a signal worse only when the recent mean rose by more than the margin', () => {
    const before = windowWith('cpu_usage', steps(0.85));
    expect(compareSignal(before, windowWith('cpu_usage', steps(0.97)), 'cpu', DEFAULT_ROLLBACK)).toMatchObject({
      worse: true,
      explanation: 'cpu at 97 % of its limit after the cool-down, 85 % before the change (worse by more than 5 %)',
    });
    expect(compareSignal(before, windowWith('cpu_usage', steps(0.89)), 'cpu', DEFAULT_ROLLBACK).worse).toBe(false);
    expect(compareSignal(before, windowWith('cpu_usage', steps(0.6)), 'cpu', DEFAULT_ROLLBACK).worse).toBe(false);
  });

  it('reads the alert’s own resource, and only the last steps', () => {
    const before = windowWith('memory_usage', steps(0.8, 0.1));
    const after = windowWith('memory_usage', steps(0.8, 0.99));
    // The older steps rose a lot, the recent ones did not: not worse.
    expect(compareSignal(before, after, 'memory', DEFAULT_ROLLBACK).worse).toBe(false);
    expect(compareSignal(before, windowWith('memory_usage', steps(0.95)), 'memory', DEFAULT_ROLLBACK).worse).toBe(true);
  });

  it('knows an alert’s resource from its label, else from its name', () => {
    expect(alertResource({ alertName: 'Anything', labels: { talon_resource: 'memory' } })).toBe('memory');
    expect(alertResource({ alertName: 'PodMemoryHigh', labels: {} })).toBe('memory');
    expect(alertResource({ alertName: 'TalonPodCpuNearLimit', labels: {} })).toBe('cpu');
  });
});

describe('compareRates: an I/O or network alert judged on the pod’s own rate', () => {
  const withRates = (signals: FeatureWindow['signals']): FeatureWindow => ({ ...stubWindow(), signals });
  const flat = (v: number) => Array.from({ length: 10 }, () => v);

  it('sums the disk read and write rates; worse only above the relative margin', () => {
    const before = withRates({ fs_read_bytes: flat(20e6), fs_write_bytes: flat(80e6) });
    expect(
      compareRates(
        before,
        withRates({ fs_read_bytes: flat(20e6), fs_write_bytes: flat(90e6) }),
        'io',
        DEFAULT_ROLLBACK,
      ),
    ).toMatchObject({
      worse: true,
      before: 100e6,
      after: 110e6,
      explanation: 'disk I/O at 110 MB/s after the cool-down, 100 MB/s before the change (worse by more than 5 %)',
    });
    const same = withRates({ fs_read_bytes: flat(20e6), fs_write_bytes: flat(84e6) });
    expect(compareRates(before, same, 'io', DEFAULT_ROLLBACK).worse).toBe(false);
    // CPU is not what an I/O alert's change is judged on.
    const busier = { ...windowWith('cpu_usage', flat(0.99)), signals: same.signals };
    expect(compareRates(before, busier, 'io', DEFAULT_ROLLBACK).worse).toBe(false);
  });

  it('reads dropped packets for a network alert; drops from none are worse', () => {
    const none = withRates({ network_receive_drops: flat(0), network_transmit_drops: flat(0) });
    expect(compareRates(none, none, 'network', DEFAULT_ROLLBACK).worse).toBe(false);
    expect(
      compareRates(none, withRates({ network_receive_drops: flat(3) }), 'network', DEFAULT_ROLLBACK),
    ).toMatchObject({
      worse: true,
      explanation: 'dropped packets at 3 /s after the cool-down, 0 /s before the change (worse by more than 5 %)',
    });
  });

  it('does not judge a rate missing from either window', () => {
    const io = withRates({ fs_write_bytes: flat(1e6) });
    expect(compareRates(withRates(undefined), io, 'io', DEFAULT_ROLLBACK)).toMatchObject({
      worse: false,
      explanation: 'disk I/O not in both windows: not judged',
    });
  });

  it('knows an alert’s signal from talon_resource, else its resource', () => {
    expect(alertSignal({ alertName: 'TalonPodIoHigh', labels: { talon_resource: 'io' } })).toBe('io');
    expect(alertSignal({ alertName: 'TalonPodNetworkCongested', labels: { talon_resource: 'network' } })).toBe(
      'network',
    );
    expect(alertSignal({ alertName: 'PodMemoryHigh', labels: {} })).toBe('memory');
  });
});
