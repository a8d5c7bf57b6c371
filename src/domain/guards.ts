/**
 * Safety guards checked before any write to a cluster: protected namespaces, bounds on the magnitude of a
 * step and on the quantities it produces, replica bounds, and the write budget's arithmetic (the budget's
 * storage lives in the Kubernetes adapter, since it must survive restarts and be shared by replicas).
 * Every refusal is a {@link GuardRefusedError} naming the guard and what it saw. Pure: safe inside workflows.
 */
import { GUARDS, GuardRefusedError } from './errors';
import { MAGNITUDE_GUIDE, type PolicyName } from './policy';
import { parseQuantity, type Quantity } from './quantity';

/** Inclusive bounds for a per-container quantity, as Kubernetes quantities. */
export interface QuantityBounds {
  readonly min: string;
  readonly max: string;
}

export interface WriteBudget {
  /** Writes allowed per namespace within the window. */
  readonly maxWrites: number;
  readonly windowSeconds: number;
}

export interface GuardConfig {
  /** Namespaces Talon never writes to. */
  readonly protectedNamespaces: readonly string[];
  /** Per-policy magnitude bounds; they can only narrow the magnitude guide, never widen it. */
  readonly magnitudeBounds: Readonly<Partial<Record<PolicyName, { readonly min: number; readonly max: number }>>>;
  /** Every container's CPU request and limit after a change must fall inside these. */
  readonly containerCpu: QuantityBounds;
  /** Every container's memory request and limit after a change must fall inside these. */
  readonly containerMemory: QuantityBounds;
  /** A replica change must land inside these. */
  readonly replicas: { readonly min: number; readonly max: number };
  readonly writeBudget: WriteBudget;
  /** Writes across the whole cluster per window (every scope counted once more); absent: none. */
  readonly clusterWriteBudget?: WriteBudget;
  /** Ask the apiserver to validate and report (`dryRun=All`) instead of writing. */
  readonly dryRun: boolean;
}

/** Talon's own namespace: protected by default, home of its write-budget Leases. */
export const DEFAULT_TALON_NAMESPACE = 'talon-system';
export const DEFAULT_PROTECTED_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease', DEFAULT_TALON_NAMESPACE];

export const DEFAULT_GUARD_CONFIG: GuardConfig = {
  protectedNamespaces: DEFAULT_PROTECTED_NAMESPACES,
  magnitudeBounds: {},
  containerCpu: { min: '10m', max: '16' },
  containerMemory: { min: '16Mi', max: '64Gi' },
  replicas: { min: 1, max: 50 },
  writeBudget: { maxWrites: 10, windowSeconds: 600 },
  dryRun: false,
};

export interface GuardConfigInput extends Partial<
  Omit<GuardConfig, 'replicas' | 'writeBudget' | 'clusterWriteBudget'>
> {
  readonly clusterWriteBudget?: WriteBudget;
  readonly replicas?: Partial<GuardConfig['replicas']>;
  readonly writeBudget?: Partial<WriteBudget>;
  /** Talon's own namespace, added to the protected ones. */
  readonly talonNamespace?: string;
}

function refuseConfig(message: string): never {
  throw new GuardRefusedError(GUARDS.invalidRequest, `invalid guard configuration: ${message}`);
}

function checkBounds(what: string, bounds: QuantityBounds): void {
  let min: Quantity;
  let max: Quantity;
  try {
    min = parseQuantity(bounds.min);
    max = parseQuantity(bounds.max);
  } catch (err) {
    throw new GuardRefusedError(GUARDS.invalidRequest, `invalid guard configuration: ${what}: ${String(err)}`, {}, err);
  }
  if (min.sign() < 0 || min.cmp(max) > 0)
    refuseConfig(`${what} needs 0 <= min <= max, got ${bounds.min}..${bounds.max}`);
}

/** Fills defaults and validates; a bad configuration is refused before it can guard anything. */
export function guardConfig(input: GuardConfigInput = {}): GuardConfig {
  const talonNamespace = input.talonNamespace ?? DEFAULT_TALON_NAMESPACE;
  const protectedNamespaces = [
    ...new Set([...(input.protectedNamespaces ?? DEFAULT_PROTECTED_NAMESPACES), talonNamespace]),
  ];
  const config: GuardConfig = {
    protectedNamespaces,
    magnitudeBounds: input.magnitudeBounds ?? DEFAULT_GUARD_CONFIG.magnitudeBounds,
    containerCpu: input.containerCpu ?? DEFAULT_GUARD_CONFIG.containerCpu,
    containerMemory: input.containerMemory ?? DEFAULT_GUARD_CONFIG.containerMemory,
    replicas: { ...DEFAULT_GUARD_CONFIG.replicas, ...input.replicas },
    writeBudget: { ...DEFAULT_GUARD_CONFIG.writeBudget, ...input.writeBudget },
    ...(input.clusterWriteBudget ? { clusterWriteBudget: input.clusterWriteBudget } : {}),
    dryRun: input.dryRun ?? false,
  };
  checkBounds('containerCpu', config.containerCpu);
  checkBounds('containerMemory', config.containerMemory);
  const { min, max } = config.replicas;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || min > max) {
    refuseConfig(`replicas needs integers 0 <= min <= max, got ${min}..${max}`);
  }
  for (const [name, budget] of [
    ['writeBudget', config.writeBudget],
    ['clusterWriteBudget', config.clusterWriteBudget],
  ] as const) {
    if (!budget) continue;
    const { maxWrites, windowSeconds } = budget;
    if (!Number.isInteger(maxWrites) || maxWrites < 0 || !(windowSeconds > 0)) {
      refuseConfig(`${name} needs an integer maxWrites >= 0 and windowSeconds > 0`);
    }
  }
  for (const [policy, b] of Object.entries(config.magnitudeBounds)) {
    if (!b || !(b.min <= b.max)) refuseConfig(`magnitudeBounds.${policy} needs min <= max`);
  }
  return config;
}

/** Refuses writes into a protected namespace (exact names; `*` suffix matches a prefix, e.g. `openshift-*`). */
export function checkNamespace(config: GuardConfig, namespace: string): void {
  const hit = config.protectedNamespaces.find((p) =>
    p.endsWith('*') ? namespace.startsWith(p.slice(0, -1)) : p === namespace,
  );
  if (hit !== undefined) {
    throw new GuardRefusedError(GUARDS.protectedNamespace, `namespace ${namespace} is protected (${hit})`, {
      namespace,
      rule: hit,
    });
  }
}

/** The magnitude range in force for a policy: the guide's, narrowed by the configuration. */
export function magnitudeRange(config: GuardConfig, policy: PolicyName): { min: number; max: number } {
  const guide = MAGNITUDE_GUIDE[policy];
  const narrowed = config.magnitudeBounds[policy];
  return {
    min: Math.max(guide.min, narrowed?.min ?? guide.min),
    max: Math.min(guide.max, narrowed?.max ?? guide.max),
  };
}

/** Refuses a magnitude outside the policy's range (no silent clamping: a model asking for 10× is wrong). */
export function checkMagnitude(config: GuardConfig, policy: PolicyName, magnitude: number): void {
  const { min, max } = magnitudeRange(config, policy);
  if (!Number.isFinite(magnitude) || magnitude < min || magnitude > max) {
    throw new GuardRefusedError(
      GUARDS.factorBounds,
      `magnitude ${magnitude} for ${policy} is outside [${min}, ${max}] (${MAGNITUDE_GUIDE[policy].meaning})`,
      { policy, magnitude, min, max },
    );
  }
}

export type BoundedResource = 'cpu' | 'memory';

export function resourceBounds(config: GuardConfig, resource: BoundedResource): QuantityBounds {
  return resource === 'cpu' ? config.containerCpu : config.containerMemory;
}

/** Refuses a resulting container quantity (request or limit) outside the configured bounds. */
export function checkResultQuantity(
  config: GuardConfig,
  resource: BoundedResource,
  value: string,
  where: string,
): void {
  const bounds = resourceBounds(config, resource);
  const q = parseQuantity(value);
  if (q.cmp(bounds.min) < 0 || q.cmp(bounds.max) > 0) {
    throw new GuardRefusedError(
      GUARDS.resultBounds,
      `${where}: ${resource} would become ${q.toString()}, outside [${bounds.min}, ${bounds.max}]`,
      { resource, value: q.toString(), min: bounds.min, max: bounds.max, where },
    );
  }
}

/**
 * The replica count a factor asks for: at least one step in the asked direction (so a factor of 0.9 on 3
 * replicas still removes one), rounded away from the current count, then refused if it leaves the bounds
 * or cannot move at all.
 */
export function plannedReplicas(config: GuardConfig, current: number, factor: number, where: string): number {
  const { min, max } = config.replicas;
  const up = factor > 1;
  const raw = up
    ? Math.max(current + 1, Math.ceil(current * factor))
    : Math.min(current - 1, Math.floor(current * factor));
  const target = Math.min(max, Math.max(min, raw));
  if (target === current || (up ? target < current : target > current)) {
    throw new GuardRefusedError(
      GUARDS.replicaBounds,
      `${where}: ${current} replicas cannot be scaled ${up ? 'up' : 'down'} within [${min}, ${max}]`,
      { current, factor, min, max, where },
    );
  }
  return target;
}

/** One write counted by the budget; `id` makes a retried write count once. */
export interface BudgetEntry {
  readonly id: string;
  /** Unix milliseconds. */
  readonly at: number;
}

export interface BudgetDecision {
  readonly allowed: boolean;
  /** The id was already counted: a retry or replay of the same write. */
  readonly duplicate: boolean;
  /** Entries to store: the window's, plus the new one when allowed. */
  readonly entries: readonly BudgetEntry[];
  readonly used: number;
  /** When the oldest write leaves the window, if refused. */
  readonly retryAfterMs?: number;
}

/** Sliding-window accounting: drops entries older than the window, then counts the write once per id. */
export function reserveWrite(
  entries: readonly BudgetEntry[],
  id: string,
  nowMs: number,
  budget: WriteBudget,
): BudgetDecision {
  const windowMs = budget.windowSeconds * 1000;
  const live = entries.filter((e) => e.at > nowMs - windowMs).sort((a, b) => a.at - b.at);
  if (live.some((e) => e.id === id)) return { allowed: true, duplicate: true, entries: live, used: live.length };
  if (live.length >= budget.maxWrites) {
    const oldest = live[0];
    return {
      allowed: false,
      duplicate: false,
      entries: live,
      used: live.length,
      retryAfterMs: oldest ? Math.max(0, oldest.at + windowMs - nowMs) : windowMs,
    };
  }
  return { allowed: true, duplicate: false, entries: [...live, { id, at: nowMs }], used: live.length + 1 };
}

/** The refusal for a spent budget, with when it frees up. */
export function budgetRefusal(namespace: string, decision: BudgetDecision, budget: WriteBudget): GuardRefusedError {
  const seconds = Math.ceil((decision.retryAfterMs ?? 0) / 1000);
  return new GuardRefusedError(
    GUARDS.writeBudget,
    `namespace ${namespace} already had ${decision.used} writes in the last ${budget.windowSeconds}s ` +
      `(budget ${budget.maxWrites}); next write allowed in ${seconds}s`,
    { namespace, used: decision.used, maxWrites: budget.maxWrites, windowSeconds: budget.windowSeconds, seconds },
  );
}
