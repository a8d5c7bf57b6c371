/**
 * Which policy to try next: the best-ranked candidate not yet tried, not refused, and not `no_action`
 * while the alert still fires. When the policy engines have nothing usable (too little data), the alert
 * itself says what is wrong, so a conservative default for its resource is the answer. Pure.
 */
import type { TalonAlert } from './alert';
import { clampMagnitude, type PolicyDecision, type PolicyName, type RankedPolicy } from './policy';

export function nextCandidate(
  ranked: readonly RankedPolicy[],
  excluded: ReadonlySet<string>,
): RankedPolicy | undefined {
  return ranked.find((r) => r.policy !== 'no_action' && !excluded.has(r.policy));
}

/** Policies Talon can apply to a pod; node_overload belongs to the node workflow. */
export const POD_POLICIES: ReadonlySet<PolicyName> = new Set<PolicyName>([
  'cpu_scale_up',
  'cpu_scale_down',
  'memory_scale_up',
  'memory_scale_down',
  'replica_scale_up',
  'replica_scale_down',
  'task_offloading',
  'data_offloading',
  'network_qos',
]);

/**
 * Scaling down never relieves a resource that is near its limit; for such alerts (they carry
 * `talon_resource`) the engines' scale-down suggestions are dropped rather than tried.
 */
export function relevantToAlert(ranked: readonly RankedPolicy[], alert: Pick<TalonAlert, 'labels'>): RankedPolicy[] {
  if (alert.labels.talon_resource === undefined) return [...ranked];
  return ranked.filter((r) => !r.policy.endsWith('_scale_down'));
}

/** A ranked list derived from the alert alone, for when no window could be gathered. */
export function policiesFromAlert(alert: Pick<TalonAlert, 'labels' | 'alertName'>): RankedPolicy[] {
  const resource = alert.labels.talon_resource ?? (/mem/i.test(alert.alertName) ? 'memory' : 'cpu');
  const entry = (policy: PolicyName, score: number, magnitude: number, reason: string): RankedPolicy => ({
    policy,
    score,
    magnitude: clampMagnitude(policy, magnitude),
    reason,
  });
  if (resource === 'memory') {
    return [
      entry('memory_scale_up', 0.6, 1.5, `${alert.alertName}: memory near its limit, raise it (no metrics window)`),
      entry('replica_scale_up', 0.3, 1.5, 'spread the load over more replicas'),
      entry('task_offloading', 0.1, 0.5, 'move the workload to a less loaded node'),
    ];
  }
  return [
    entry('cpu_scale_up', 0.6, 1.5, `${alert.alertName}: CPU near its limit, raise it (no metrics window)`),
    entry('replica_scale_up', 0.3, 1.5, 'spread the load over more replicas'),
    entry('task_offloading', 0.1, 0.5, 'move the workload to a less loaded node'),
  ];
}

/**
 * The workflow's choice of the next policy: the best relevant, untried pod action of the decision,
 * else of the alert-derived list; magnitudes rounded to two decimals (what the guide's ranges use and
 * what a person reads). Shared by the workflow and the `alerts replay` what-if so they cannot drift.
 */
export function chooseCandidate(
  decision: PolicyDecision,
  alert: Pick<TalonAlert, 'labels' | 'alertName'>,
  tried: ReadonlySet<string>,
): { candidate: RankedPolicy; fromAlert: boolean } | undefined {
  const usable = relevantToAlert(decision.ranked, alert).filter((r) => POD_POLICIES.has(r.policy));
  const ranked = nextCandidate(usable, tried);
  const candidate = ranked ?? nextCandidate(policiesFromAlert(alert), tried);
  if (!candidate) return undefined;
  return {
    candidate: { ...candidate, magnitude: Math.round(candidate.magnitude * 100) / 100 },
    fromAlert: ranked === undefined,
  };
}
