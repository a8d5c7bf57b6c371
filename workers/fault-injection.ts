/**
 * Holds this worker inside chosen activities, as `TALON_FAULT_HOLD` asks (src/config/fault-holds.ts), so a
 * SIGKILL can land at exactly that point. Off unless set; never set it on a worker that serves real alerts.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import type { FaultHold, FaultPhase } from '../src/config/fault-holds';

export class FaultInjectionInterceptor implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly ctx: Context,
    private readonly holds: readonly FaultHold[],
    private readonly say: (line: string) => void,
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const { activityType, attempt, workflowExecution } = this.ctx.info;
    const hold = (phase: FaultPhase): Promise<void> => {
      const match = this.holds.find((h) => h.activityType === activityType && h.phase === phase);
      if (!match) return Promise.resolve();
      // Tests wait for this exact line before they kill the process.
      this.say(
        `fault injection: holding ${activityType} ${phase} its body for ${match.seconds}s (workflow ${workflowExecution?.workflowId ?? '?'}, attempt ${attempt})`,
      );
      return this.ctx.sleep(match.seconds * 1000);
    };
    await hold('before');
    const result = await next(input);
    await hold('after');
    return result;
  }
}
