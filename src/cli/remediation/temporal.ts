/** Temporal access for the remediation commands: one connection per command, its errors in the CLI's words. */
import { ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { ApprovalRefusedError } from '../../client/errors';
import type { TalonClient } from '../../client/talon-client';
import { WORKFLOW_TYPES } from '../../contracts/common';
import { loadTalonConfig, type TalonConfig } from '../../config/talon-config';
import { withTalonClient } from '../connect';
import { CliError, errorMessage } from '../errors';
import type { RemediationCliDeps } from './deps';

/** The workflow types whose `state` query answers a RemediationState. */
const REMEDIATION_TYPES: readonly string[] = [WORKFLOW_TYPES.remediateAlert, WORKFLOW_TYPES.nodeOverload];

/** What a gRPC failure says, without the SDK's generic wrapper ("Failed to query Workflow"). */
export function detailOf(err: unknown): string {
  const cause = (err as { cause?: { details?: unknown; message?: unknown } }).cause;
  if (typeof cause?.details === 'string' && cause.details) return cause.details;
  return errorMessage(err);
}

export function grpcCode(err: unknown): number | undefined {
  const direct = (err as { code?: unknown }).code;
  if (typeof direct === 'number') return direct;
  const inner = (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof inner === 'number' ? inner : undefined;
}

const GRPC_NOT_FOUND = 5;

/** Temporal's errors in the words of the command line; anything unexpected passes through unchanged. */
function explain(err: unknown, config: TalonConfig, workflowId?: string): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof ApprovalRefusedError) return new CliError(err.message, err);
  if (workflowId !== undefined && (err instanceof WorkflowNotFoundError || grpcCode(err) === GRPC_NOT_FOUND)) {
    return new CliError(
      `no remediation with workflow id ${JSON.stringify(workflowId)} in Temporal namespace ${config.temporal.namespace}`,
      err,
    );
  }
  if (err instanceof ServiceError) return new CliError(`${err.message}: ${detailOf(err)}`, err);
  return err;
}

/** Connects, runs `fn`, closes; Temporal's errors come out in the command line's words (explain). */
export async function withTalon<T>(
  deps: RemediationCliDeps,
  workflowId: string | undefined,
  fn: (talon: TalonClient, config: TalonConfig) => Promise<T>,
): Promise<T> {
  const config = deps.config ?? loadTalonConfig();
  return withTalonClient(config, async (talon) => {
    try {
      return await fn(talon, config);
    } catch (err) {
      throw explain(err, config, workflowId);
    }
  });
}

/** The execution behind an id, refusing ids of workflows that are not remediations. */
export async function describeRemediation(talon: TalonClient, workflowId: string) {
  const description = await talon.temporal.workflow.getHandle(workflowId).describe();
  if (!REMEDIATION_TYPES.includes(description.type)) {
    throw new CliError(`${workflowId} is a ${description.type} workflow, not a Talon remediation`);
  }
  return description;
}
