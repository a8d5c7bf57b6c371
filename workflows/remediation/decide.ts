/** The decide step: the ranking is read (the model, or the rules), the choice among it is the workflow's own. */
import { chooseCandidate, policiesFromAlert } from '../../src/domain/escalation';
import type { PolicyDecision } from '../../src/domain/policy';
import { growthRefusal } from '../../src/domain/target-memory';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../../src/contracts/search-attributes';
import { failureMessage } from '../activity-failures';
import { capMagnitude, excludedPolicies } from '../operator';
import { noteAttempt, type Attempt, type Episode, type Gathered, type Verdict } from './episode';
import { talonMetrics } from './proxies';

/** decide: rank the policies (the model, the rules without a usable window) and take the best untried one. */
export async function decide(episode: Episode, number: number, gathered: Gathered): Promise<Attempt | Verdict> {
  const { current: alert, targetName, tried } = episode;
  episode.step = 'infer';
  let decision: PolicyDecision;
  if (gathered.kind === 'window') {
    const rules = episode.operator?.policy?.settings.rules;
    decision = await episode.reads.policy.decidePolicy
      .executeWithOptions({ summary: `rank policies for ${targetName} (model, rules as fallback)` }, [
        gathered,
        // The operator's thresholds, and for the decision log what chooseCandidate below will read (arguments
        // do not enter replay checks).
        {
          ...(rules ? { rules } : {}),
          alertName: alert.alertName,
          ...(alert.labels.talon_resource ? { resource: alert.labels.talon_resource } : {}),
          tried: [...tried],
          attempt: number,
          ...(episode.number > 1 ? { episode: episode.number } : {}),
        },
      ])
      .catch((err: unknown): PolicyDecision => ({
        source: 'rules',
        ranked: policiesFromAlert(alert),
        fallbackReason: failureMessage(err),
      }));
  } else {
    const why =
      gathered.kind === 'error' ? `metrics unavailable: ${gathered.message}` : `too little data: ${gathered.reason}`;
    decision = { source: 'rules', ranked: policiesFromAlert(alert), fallbackReason: why };
  }
  talonMetrics.decided(decision.source);
  const chosen = chooseCandidate(decision, alert, excludedPolicies(episode.operator, tried));
  if (!chosen) {
    return { outcome: 'needs_human', reason: `no untried policy left after ${[...tried].join(', ') || 'none'}` };
  }
  const candidate = capMagnitude(episode.operator, chosen.candidate);
  const previous = episode.attempts.at(-1);
  if (previous) talonMetrics.escalated(previous.policy, candidate.policy);
  tried.add(candidate.policy);
  upsertTalonSearchAttributes({ key: SEARCH_ATTRIBUTES.TalonPolicy, value: [...tried] });
  const attempt = {
    number,
    decision,
    candidate,
    label: `${candidate.policy} ×${candidate.magnitude} on ${targetName}`,
  };
  const capped = episode.memory && growthRefusal(episode.memory, candidate, Date.now(), episode.settings.memory);
  if (capped) {
    // Growing this target further is a person's call, not another automatic step.
    noteAttempt(episode, attempt, { summary: attempt.label, applied: false, detail: capped.reason });
    return { outcome: 'needs_human', reason: capped.reason };
  }
  return attempt;
}
