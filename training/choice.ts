/**
 * What the workflow does with a ranked decision, turned into a simulator action. The choice itself is
 * `chooseCandidate` of src/domain/escalation.ts — the function the remediation's decide step
 * (workflows/remediation/decide.ts) calls — imported and called, never copied: it drops `no_action` while the
 * alert fires, drops scale-downs for resource alerts, keeps pod policies only, falls back to the alert-derived
 * list, and rounds the magnitude.
 */
import { chooseCandidate } from '../src/domain/escalation';
import { MODEL_POLICIES, type ModelPolicy, type PolicyDecision, type RankedPolicy } from '../src/domain/policy';
import type { PodAlert } from './alerting';
import type { Action } from './cluster';

export interface ProductionChoice {
  /** What the simulator plays; `no_action` when the workflow would give up or picked a policy it cannot play. */
  readonly action: Action;
  /** The workflow's candidate, undefined when it would end the episode as "needs a human". */
  readonly candidate?: RankedPolicy;
  /** The candidate came from the alert-derived list: the engine offered nothing usable. */
  readonly fromAlert: boolean;
  /** The candidate is a policy the simulator does not model (e.g. replica_scale_up); played as no action. */
  readonly unsimulated: boolean;
}

const isModelPolicy = (p: string): p is ModelPolicy => (MODEL_POLICIES as readonly string[]).includes(p);

/** The first attempt of a remediation episode: nothing tried yet. */
export function productionChoice(
  decision: PolicyDecision,
  alert: PodAlert,
  tried: ReadonlySet<string> = new Set(),
): ProductionChoice {
  const chosen = chooseCandidate(decision, alert, tried);
  if (!chosen) return { action: { policy: 'no_action', magnitude: 1 }, fromAlert: false, unsimulated: false };
  const { candidate, fromAlert } = chosen;
  if (!isModelPolicy(candidate.policy)) {
    return { action: { policy: 'no_action', magnitude: 1 }, candidate, fromAlert, unsimulated: true };
  }
  return {
    action: { policy: candidate.policy, magnitude: candidate.magnitude },
    candidate,
    fromAlert,
    unsimulated: false,
  };
}
