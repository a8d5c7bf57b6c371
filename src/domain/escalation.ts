/**
 * Which policy to try next: the best-ranked candidate not yet tried, not refused, relevant to what the alert
 * is about, and not `no_action` while the alert still fires. When the policy engines have nothing usable (too
 * little data), the alert itself says what is wrong, so a conservative default for its resource is the
 * answer. An alert (or a person posting one) may name the policy to try first with `talon_policy`. Pure.
 */
import type { TalonAlert } from './alert';
import { isPredicted } from './autonomy';
import { clampMagnitude, isPolicyName, type PolicyDecision, type PolicyName, type RankedPolicy } from './policy';

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
  'container_restart',
]);

/**
 * What each kind of alert (its `talon_resource` label, set by Talon's alert rules) can be relieved by. An
 * alert without the label accepts every pod policy; an unknown value accepts everything but scale-downs.
 * - cpu: anything but shrinking a resource (replica_scale_down stays: D3.6 Rule 1 relieves a busy node);
 * - memory: anything but scale-downs;
 * - network: network QoS, more replicas, moving the pod;
 * - io: data offloading, moving the pod;
 * - health (a crash-looping or stuck container): restarting it, moving it;
 * - node-cpu (a pod on a busy node, D3.6 Rule 1): fewer replicas, moving the pod.
 */
export const RELEVANT_POLICIES: Readonly<Record<string, readonly PolicyName[]>> = {
  cpu: [
    'cpu_scale_up',
    'memory_scale_up',
    'replica_scale_up',
    'replica_scale_down',
    'task_offloading',
    'data_offloading',
    'network_qos',
    'container_restart',
  ],
  memory: [
    'cpu_scale_up',
    'memory_scale_up',
    'replica_scale_up',
    'task_offloading',
    'data_offloading',
    'network_qos',
    'container_restart',
  ],
  network: ['network_qos', 'replica_scale_up', 'task_offloading'],
  io: ['data_offloading', 'task_offloading'],
  health: ['container_restart', 'task_offloading'],
  'node-cpu': ['replica_scale_down', 'task_offloading'],
};

/**
 * The action an alert kind is specifically about: when the engine proposes it at all, it goes first (the
 * engine's scores mix remedies for everything it saw; the alert says which problem this episode is for).
 */
export const PRIMARY_POLICY: Readonly<Record<string, PolicyName>> = {
  network: 'network_qos',
  io: 'data_offloading',
  health: 'container_restart',
  'node-cpu': 'replica_scale_down',
};

/** Why a ranked policy is not relevant to the alert, or undefined when it is. */
export function irrelevanceOf(policy: PolicyName, alert: Pick<TalonAlert, 'labels'>): string | undefined {
  const resource = alert.labels.talon_resource;
  if (resource === undefined) return undefined;
  const relevant = RELEVANT_POLICIES[resource] ?? [...POD_POLICIES].filter((p) => !p.endsWith('_scale_down'));
  if (relevant.includes(policy)) return undefined;
  return policy.endsWith('_scale_down') && (resource === 'cpu' || resource === 'memory' || !RELEVANT_POLICIES[resource])
    ? 'scaling down never relieves a resource near its limit'
    : `does not relieve what a ${resource} alert is about`;
}

/** The ranked policies that can relieve what the alert is about (see {@link RELEVANT_POLICIES}). */
export function relevantToAlert(ranked: readonly RankedPolicy[], alert: Pick<TalonAlert, 'labels'>): RankedPolicy[] {
  const primary = PRIMARY_POLICY[alert.labels.talon_resource ?? ''];
  const relevant = ranked.filter((r) => irrelevanceOf(r.policy, alert) === undefined);
  const first = relevant.filter((r) => r.policy === primary);
  return [...first, ...relevant.filter((r) => r.policy !== primary)];
}

function entry(policy: PolicyName, score: number, magnitude: number, reason: string): RankedPolicy {
  return { policy, score, magnitude: clampMagnitude(policy, magnitude), reason };
}

/** A ranked list derived from the alert alone, for when no window could be gathered. */
export function policiesFromAlert(alert: Pick<TalonAlert, 'labels' | 'alertName'>): RankedPolicy[] {
  const resource = alert.labels.talon_resource ?? (/mem/i.test(alert.alertName) ? 'memory' : 'cpu');
  const name = alert.alertName;
  const spread = entry('replica_scale_up', 0.3, 1.5, 'spread the load over more replicas');
  const move = entry('task_offloading', 0.1, 0.5, 'move the workload to a less loaded node');
  switch (resource) {
    case 'memory':
      return [
        entry('memory_scale_up', 0.6, 1.5, `${name}: memory near its limit, raise it (no metrics window)`),
        spread,
        move,
      ];
    case 'network':
      return [
        entry(
          'network_qos',
          0.6,
          0.5,
          `${name}: network congested, cap the pod at half the ceiling (no metrics window)`,
        ),
        spread,
        move,
      ];
    case 'io':
      return [
        entry('data_offloading', 0.6, 0.5, `${name}: heavy disk I/O, offload half of the data (no metrics window)`),
        move,
      ];
    case 'health':
      return [entry('container_restart', 0.6, 1, `${name}: a container is malfunctioning, replace its pod`), move];
    case 'node-cpu':
      return [
        entry('replica_scale_down', 0.6, 0.75, `${name}: the node is busy, remove a replica (D3.6 Rule 1)`),
        move,
      ];
    default:
      return [
        entry('cpu_scale_up', 0.6, 1.5, `${name}: CPU near its limit, raise it (no metrics window)`),
        spread,
        move,
      ];
  }
}

/**
 * The policy an alert names with `talon_policy` (and optionally `talon_magnitude`): how an operator or another
 * system asks Talon for one action through the ordinary alert path (REST `POST /api/alerts`). Undefined when
 * the label is absent or names no pod policy.
 */
export function requestedPolicy(
  alert: Pick<TalonAlert, 'labels' | 'alertName'>,
  decision?: PolicyDecision,
): RankedPolicy | undefined {
  const name = alert.labels.talon_policy;
  if (!isPolicyName(name) || !POD_POLICIES.has(name)) return undefined;
  const asked = Number(alert.labels.talon_magnitude);
  const known =
    decision?.ranked.find((r) => r.policy === name) ?? policiesFromAlert(alert).find((r) => r.policy === name);
  const magnitude =
    Number.isFinite(asked) && alert.labels.talon_magnitude !== undefined ? asked : (known?.magnitude ?? 1);
  return entry(name, 1, magnitude, `${alert.alertName} asks for ${name} (talon_policy)`);
}

/** What a forecast breach of each resource is relieved by first: more of that resource, before it runs out. */
const FORECAST_POLICY: Readonly<Record<string, PolicyName>> = { cpu: 'cpu_scale_up', memory: 'memory_scale_up' };

/**
 * For a predicted alert (`talon_predicted="true"`), the raise of the forecast resource: the engine decided on a
 * window that does not breach yet, so its ranking speaks of now, the forecast of the next minutes. The engine's
 * magnitude when it proposed that raise, else the alert-derived one. Undefined for any other alert.
 */
export function forecastCandidate(
  alert: Pick<TalonAlert, 'labels' | 'alertName'>,
  decision?: PolicyDecision,
): RankedPolicy | undefined {
  if (!isPredicted(alert.labels)) return undefined;
  const resource = alert.labels.talon_resource ?? '';
  const policy = FORECAST_POLICY[resource];
  if (!policy) return undefined;
  const proposed = decision?.ranked.find((r) => r.policy === policy);
  const magnitude = proposed?.magnitude ?? policiesFromAlert(alert).find((r) => r.policy === policy)?.magnitude ?? 1.5;
  return entry(
    policy,
    1,
    magnitude,
    `${alert.alertName}: ${resource} is forecast to reach its alert line; raise it ahead`,
  );
}

/**
 * The workflow's choice of the next policy: the policy the alert names, else for a predicted alert the raise of
 * its forecast resource ({@link forecastCandidate}), else the best relevant, untried pod action of the decision,
 * else of the alert-derived list; magnitudes rounded to two decimals (what the guide's
 * ranges use and what a person reads). Shared by the workflow and the `alerts replay` what-if so they cannot
 * drift.
 */
export function chooseCandidate(
  decision: PolicyDecision,
  alert: Pick<TalonAlert, 'labels' | 'alertName'>,
  tried: ReadonlySet<string>,
): { candidate: RankedPolicy; fromAlert: boolean } | undefined {
  const requested = requestedPolicy(alert, decision);
  const forecast = forecastCandidate(alert, decision);
  const usable = relevantToAlert(decision.ranked, alert).filter((r) => POD_POLICIES.has(r.policy));
  const ranked =
    requested && !tried.has(requested.policy)
      ? requested
      : forecast && !tried.has(forecast.policy)
        ? forecast
        : nextCandidate(usable, tried);
  const candidate = ranked ?? nextCandidate(relevantToAlert(policiesFromAlert(alert), alert), tried);
  if (!candidate) return undefined;
  return {
    candidate: { ...candidate, magnitude: Math.round(candidate.magnitude * 100) / 100 },
    fromAlert: ranked === undefined,
  };
}
