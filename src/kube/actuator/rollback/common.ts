/**
 * What every rollback shares: the request and answer, the judgement "may this rollback write" from the operation
 * record on the object, and the answers for refusals and for a recreate an earlier attempt started.
 */
import type { ContainerTarget } from '../../../domain/resource-plan';
import type { ActionResult, Change, Expectation, OperationRecord, RecreateCheckpoint } from '../../types';
import type { ActuatorCore } from '../operation';
import { finishCheckpoint } from '../recreate';
import type { OperationContext } from '../requests';

export const POLICY = 'rollback';

export interface RollbackRequest {
  /** The operation whose change is undone. */
  readonly undo: string;
  /** The policy that operation applied (for the summary and the "no automatic undo" answer). */
  readonly policy: string;
  /** Where that change is, as its apply reported it. */
  readonly expect: Expectation;
  /** The apply's reported changes: the snapshot for records written before `previous` existed. */
  readonly changes: readonly Change[];
}

export interface RollbackResult extends ActionResult {
  /** What the call found: restored now, restored by an earlier attempt, or why nothing was restored. */
  readonly outcome: 'rolled-back' | 'already-rolled-back' | 'not-undoable' | 'changed-since';
  readonly reason?: string;
}

export type Judgement = 'undo' | 'already' | { readonly refuse: string };

/** Whether this rollback should write: the record must still be the undone operation's, or already its own. */
export function judge(
  core: ActuatorCore,
  prior: OperationRecord | undefined,
  req: RollbackRequest,
  ctx: OperationContext,
): Judgement {
  if (!prior)
    return { refuse: `no Talon operation record is left, so ${req.undo} cannot be told apart from other edits` };
  if (prior.id === ctx.operationId || core.superseded(prior, ctx)) return 'already';
  if (prior.id === req.undo) return 'undo';
  return { refuse: `changed since by ${prior.policy} (${prior.id}); ${req.policy} is not undone over it` };
}

/** `container app limits.cpu` from 500m → the target restoring 500m, for records without `previous`. */
export function previousFromChanges(changes: readonly Change[], resource: string): ContainerTarget[] {
  const byContainer = new Map<string, { container: string; requests?: string; limits?: string }>();
  for (const c of changes) {
    const m = /^container (\S+) (requests|limits)\.(\S+)$/.exec(c.path);
    if (!m || m[3] !== resource || c.from === undefined) continue;
    const target = byContainer.get(m[1]!) ?? { container: m[1]! };
    target[m[2] as 'requests' | 'limits'] = c.from;
    byContainer.set(m[1]!, target);
  }
  return [...byContainer.values()];
}

export function restoreChanges(
  resource: string,
  from: readonly ContainerTarget[],
  to: readonly ContainerTarget[],
): Change[] {
  return to.flatMap((t) =>
    (['requests', 'limits'] as const).flatMap((field) => {
      const value = t[field];
      if (value === undefined) return [];
      const now = from.find((f) => f.container === t.container)?.[field];
      return [{ path: `container ${t.container} ${field}.${resource}`, ...(now ? { from: now } : {}), to: value }];
    }),
  );
}

export function result(
  core: ActuatorCore,
  ctx: OperationContext,
  fields: Omit<RollbackResult, 'policy' | 'operationId' | 'dryRun' | 'applied' | 'alreadyApplied'> & {
    alreadyApplied?: boolean;
    applied?: boolean;
  },
): RollbackResult {
  const { outcome, reason, ...rest } = fields;
  return { ...core.result(POLICY, ctx, rest), outcome, ...(reason ? { reason } : {}) };
}

export function refused(
  core: ActuatorCore,
  ctx: OperationContext,
  where: string,
  outcome: 'not-undoable' | 'changed-since',
  reason: string,
): RollbackResult {
  return result(core, ctx, {
    applied: false,
    outcome,
    reason,
    target: where,
    mechanism: 'none',
    summary: `not rolled back on ${where}: ${reason}`,
    changes: [],
    expect: { kind: 'none', reason },
  });
}

export function isOwnCheckpoint(saved: unknown, ctx: OperationContext): saved is RecreateCheckpoint {
  const c = saved as Partial<RecreateCheckpoint> | undefined;
  return c?.operationId === ctx.operationId && (c.kind === 'Pod' || c.kind === 'Job') && typeof c.manifest === 'object';
}

/** Finishes a recreate an earlier attempt of this rollback started (the object was deleted, not yet created). */
export async function finished(
  core: ActuatorCore,
  checkpoint: RecreateCheckpoint,
  req: RollbackRequest,
  ctx: OperationContext,
): Promise<RollbackResult> {
  const done = await finishCheckpoint(core, POLICY, checkpoint, ctx);
  return {
    ...done,
    outcome: done.alreadyApplied ? 'already-rolled-back' : 'rolled-back',
    summary: `${done.summary} (rolling back ${req.policy})`,
  };
}
