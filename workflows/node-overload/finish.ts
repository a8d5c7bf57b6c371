/** The end of every run, whatever stopped it: the outcome to the search attributes, the counters, the audit. */
import type { RemediationOutcome } from '../../src/contracts/alert-episode';
import type { NodeOverloadResult } from '../../src/contracts/node-overload';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../../src/contracts/search-attributes';
import { note } from '../operator';
import { talonMetrics, TYPE } from './proxies';
import type { NodeRun } from './run';

export async function finish(run: NodeRun, outcome: RemediationOutcome, why: string): Promise<NodeOverloadResult> {
  run.outcome = outcome;
  run.step = 'done';
  upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonOutcome, value: outcome });
  talonMetrics.workflowFinished(TYPE, outcome);
  await note(run.operator, {
    decision: `outcome_${outcome}`,
    why,
    reason: outcome === 'needs_human' ? 'TalonNeedsHuman' : 'TalonFinished',
    warning: outcome === 'needs_human',
  });
  return { outcome, node: run.node, reason: why };
}
