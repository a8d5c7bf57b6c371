/**
 * The alert intake's one activity: hands queued alerts on to their remediation workflows with the same
 * hand-off a direct webhook call makes (src/client/hand-off.ts). Notifications of one alert go out in the
 * order they were queued; different alerts go out concurrently. Re-running a batch is harmless (a repeat
 * firing only signals the running remediation, a repeat resolved signals it again), and a retry skips the
 * alerts its previous attempt reported done in its heartbeat.
 */
import { Context } from '@temporalio/activity';
import { isGrpcServiceError, ServiceError, type Client } from '@temporalio/client';
import { handOffAlert } from '../src/client/hand-off';
import { alertWorkflowId, type TalonAlert } from '../src/domain/alert';
import type { RemediationStartSettings } from '../src/contracts/alert-workflows';
import type { DispatchAlertsInput, DispatchResult } from '../src/contracts/alert-intake';

export interface IntakeActivityDeps {
  readonly temporal: Client;
  /**
   * Hand-offs in flight at once across every dispatch call of this worker (each alert's own notifications
   * stay sequential). It paces the fan-out of a storm so Temporal keeps room for the webhook's writes.
   */
  readonly concurrency?: number;
  /** Told how each call went (the worker's /metrics). */
  readonly onDispatched?: (result: DispatchResult) => void;
}

export const DEFAULT_DISPATCH_CONCURRENCY = 8;
/** gRPC status INVALID_ARGUMENT. */
const GRPC_INVALID_ARGUMENT = 3;

interface Item {
  readonly alert: TalonAlert;
  readonly settings: RemediationStartSettings;
}

/**
 * Why Temporal refused the request itself (e.g. an id or payload past its limits), or undefined when it did
 * not: retrying the same alert cannot help with the former.
 */
function invalidReason(err: unknown): string | undefined {
  const grpc = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(grpc) || Number(grpc.code) !== GRPC_INVALID_ARGUMENT) return undefined;
  return `${err instanceof Error ? err.message : 'refused'}: ${grpc.details || grpc.message}`;
}

/** At most `limit` bodies run at once; the rest wait their turn, first come first served. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(body: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await body();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so a newcomer cannot take it in between.
      if (next) next();
      else this.active--;
    }
  }
}

export function createIntakeActivities(deps: IntakeActivityDeps) {
  const concurrency = deps.concurrency ?? DEFAULT_DISPATCH_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`dispatch concurrency must be an integer ≥ 1, got ${concurrency}`);
  const gate = new Gate(concurrency);
  return {
    dispatchAlerts: async (input: DispatchAlertsInput): Promise<DispatchResult> => {
      const ctx = Context.current();
      // One chain per alert workflow, in queue order.
      const chains = new Map<string, Item[]>();
      for (const batch of input.batches)
        for (const alert of batch.alerts) {
          const id = alertWorkflowId(alert);
          const chain = chains.get(id) ?? [];
          chain.push({ alert, settings: batch.settings ?? {} });
          chains.set(id, chain);
        }
      const ids = [...chains.keys()];
      const done = new Set<string>((ctx.info.heartbeatDetails as string[] | undefined) ?? []);
      const tally = { startedOrSignalled: 0, resolvedSignalled: 0, noWorkflow: 0 };
      const dropped: { workflowId: string; reason: string }[] = [];
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < ids.length) {
          const id = ids[next++]!;
          if (done.has(id)) continue;
          await gate.run(async () => {
            for (const item of chains.get(id)!) {
              try {
                const result = await handOffAlert(deps.temporal, input.taskQueue, item.settings, item.alert);
                if (result.action === 'started-or-signalled') tally.startedOrSignalled++;
                else if (result.action === 'signalled') tally.resolvedSignalled++;
                else tally.noWorkflow++;
              } catch (err) {
                const reason = invalidReason(err);
                if (reason === undefined) throw err;
                dropped.push({ workflowId: id, reason });
              }
            }
          });
          done.add(id);
          ctx.heartbeat([...done]);
          if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, lane));
      const result: DispatchResult = { ...tally, dropped };
      deps.onDispatched?.(result);
      return result;
    },
  };
}

export type IntakeActivities = ReturnType<typeof createIntakeActivities>;
