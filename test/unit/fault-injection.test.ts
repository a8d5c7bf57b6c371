/**
 * The chaos knob behind the crash tests: TALON_FAULT_HOLD parses strictly, and the interceptor holds exactly
 * the named activity at exactly the named point (before its body, or after the body did its work).
 */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { parseFaultHolds } from '../../src/config/fault-holds';
import { FaultInjectionInterceptor } from '../../workers/fault-injection';
import { loadTalonConfig } from '../../src/config/talon-config';

describe('parseFaultHolds', () => {
  it('is off when unset or blank', () => {
    expect(parseFaultHolds(undefined)).toEqual([]);
    expect(parseFaultHolds('  ')).toEqual([]);
    expect(loadTalonConfig({ TALON_TEMPORAL_ADDRESS: '127.0.0.1:1' }).worker.faultHolds).toEqual([]);
  });

  it('reads a list of activity:phase:seconds', () => {
    expect(parseFaultHolds('gatherWindow:before:120, applyPolicy:after:5')).toEqual([
      { activityType: 'gatherWindow', phase: 'before', seconds: 120 },
      { activityType: 'applyPolicy', phase: 'after', seconds: 5 },
    ]);
  });

  it.each(['applyPolicy', 'applyPolicy:after', 'applyPolicy:after:ten', 'apply-policy:after:5', 'applyPolicy:after:0'])(
    'refuses %p with the expected form in the message',
    (spec) => {
      expect(() => parseFaultHolds(spec)).toThrow(/TALON_FAULT_HOLD entry/);
    },
  );
});

describe('FaultInjectionInterceptor', () => {
  function run(activityType: string, spec: string) {
    const events: string[] = [];
    const ctx = {
      info: { activityType, attempt: 1, workflowExecution: { workflowId: 'wf-1', runId: 'r' } },
      sleep: (ms: number) => {
        events.push(`sleep ${ms}`);
        return Promise.resolve();
      },
    } as unknown as Context;
    const interceptor = new FaultInjectionInterceptor(ctx, parseFaultHolds(spec), (line) => events.push(line));
    const next = () => {
      events.push('body');
      return Promise.resolve('done');
    };
    return { events, result: interceptor.execute({ args: [] } as unknown as ActivityExecuteInput, next) };
  }

  it('holds before the body and says so', async () => {
    const { events, result } = run('gatherWindow', 'gatherWindow:before:3');
    await expect(result).resolves.toBe('done');
    expect(events).toEqual([
      'fault injection: holding gatherWindow before its body for 3s (workflow wf-1, attempt 1)',
      'sleep 3000',
      'body',
    ]);
  });

  it('holds after the body has done its work', async () => {
    const { events, result } = run('applyPolicy', 'applyPolicy:after:2');
    await expect(result).resolves.toBe('done');
    expect(events).toEqual([
      'body',
      'fault injection: holding applyPolicy after its body for 2s (workflow wf-1, attempt 1)',
      'sleep 2000',
    ]);
  });

  it('leaves other activities alone', async () => {
    const { events, result } = run('verifyPolicy', 'applyPolicy:after:2,gatherWindow:before:1');
    await expect(result).resolves.toBe('done');
    expect(events).toEqual(['body']);
  });
});
