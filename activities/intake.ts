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
import type { RemediationStartSettings } from '../src/domain/remediation';
import type { DispatchAlertsInput, DispatchResult } from '../src/shared/intake';

export interface IntakeActivityDeps {
  readonly temporal: Client;
  /** Hand-offs in flight at once per call; each alert's own notifications stay sequential. */
  readonly concurrency?: number;
  /** Told how each call went (the worker's /metrics). */
  readonly onDispatched?: (result: DispatchResult) => void;
}

export const DEFAULT_DISPATCH_CONCURRENCY = 16;
/** gRPC status INVALID_ARGUMENT. */
const GRPC_INVALID_ARGUMENT = 3;

interface Item {
  readonly alert: TalonAlert;
  readonly settings: RemediationStartSettings;
}

/** Temporal refused the request itself (e.g. an oversized payload): retrying the same alert cannot help. */
function refusedAsInvalid(err: unknown): boolean {
  const grpc = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(grpc) && Number(grpc.code) === GRPC_INVALID_ARGUMENT;
}

export function createIntakeActivities(deps: IntakeActivityDeps) {
  const concurrency = deps.concurrency ?? DEFAULT_DISPATCH_CONCURRENCY;
  return {
    async dispatchAlerts(input: DispatchAlertsInput): Promise<DispatchResult> {
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
          for (const item of chains.get(id)!) {
            try {
              const result = await handOffAlert(deps.temporal, input.taskQueue, item.settings, item.alert);
              if (result.action === 'started-or-signalled') tally.startedOrSignalled++;
              else if (result.action === 'signalled') tally.resolvedSignalled++;
              else tally.noWorkflow++;
            } catch (err) {
              if (!refusedAsInvalid(err)) throw err;
              dropped.push({ workflowId: id, reason: err instanceof Error ? err.message : String(err) });
            }
          }
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
