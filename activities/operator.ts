/**
 * The operator activities the alert workflows call through workflows/operator.ts: the policy file's decision for
 * an alert (from the worker's PolicyStore, reloaded on change), the storm brake (remediations with an open episode
 * from Temporal visibility, the pods of their workloads and the nodes from the Kubernetes API, the manual latch in a Lease), and Kubernetes Events
 * on the target. Reads, or idempotent writes, so the workflow runs them as local activities.
 */
import { z } from 'zod';
import {
  brakeTrips,
  latchApplies,
  podsUnderRemediation,
  resolvePolicy,
  type AlertScope,
  type BrakeCounts,
  type BrakeState,
  type OperatorPolicy,
  type ResolvedPolicy,
} from '../src/domain/autonomy';
import { remediationWorkload } from '../src/domain/alert';
import { workloadOf } from '../src/domain/window';
import { WORKFLOW_TYPES } from '../src/contracts/common';
import type { BrakeCheckInput, OperatorActivities, OperatorEventInput } from '../src/contracts/operator';
import { SEARCH_ATTRIBUTES } from '../src/contracts/search-attributes';
import type { EventRecorder } from '../src/kube/events';
import type { BrakeLatch } from '../src/kube/storm-brake';
import { mapFailures } from './failures';
import { parseActivityInput as parse } from './input';

export interface BrakeSources {
  /** Running workflows matching a visibility query (Temporal's CountWorkflowExecutions). */
  countWorkflows(query: string): Promise<number>;
  /** Ids of the workflows matching a visibility query (Temporal's ListWorkflowExecutions), at most `limit`. */
  listWorkflowIds(query: string, limit: number): Promise<string[]>;
  /** Names of the namespace's pods. */
  namespacePods(namespace: string): Promise<string[]>;
  countNodes(): Promise<number>;
  readonly latches: { read(): Promise<BrakeLatch[]>; latch(latches: readonly BrakeLatch[]): Promise<BrakeLatch[]> };
}

export interface OperatorActivityDeps {
  /** The policy in force; undefined when the worker runs without a policy file. */
  readonly policy: () => OperatorPolicy | undefined;
  /** Talon's own namespace: always protected, whatever the file says. */
  readonly talonNamespace: string;
  /** The task queue the counted remediations run on (one Talon installation). */
  readonly taskQueue: string;
  readonly brake: BrakeSources;
  /** Absent: Events are not written (answers `written: false`). */
  readonly events?: EventRecorder;
  /** Told each brake evaluation (the worker's gauges). */
  readonly onBrake?: (state: BrakeState, input: BrakeCheckInput) => void;
  /** How long a count is reused: a storm makes dozens of remediations ask at once. Default 1 s. */
  readonly cacheMs?: number;
  readonly clock?: () => number;
}

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
  .max(63);

const scopeSchema = z.object({
  alertName: z.string().min(1).max(1024),
  labels: z.record(z.string(), z.string()),
  kind: z.enum(['pod', 'node']),
  namespace: dnsLabel.optional(),
});

const brakeSchema = z.object({
  kind: z.enum(['pod', 'node']),
  namespace: dnsLabel.optional(),
  config: z
    .object({
      enabled: z.boolean(),
      minRemediations: z.number().int().positive(),
      action: z.enum(['wait', 'observe']),
      release: z.enum(['auto', 'manual']),
      recheckSeconds: z.number().positive(),
      settleSeconds: z.number().min(0).optional(),
      maxWaitSeconds: z.number().positive(),
    })
    .loose(),
});

const eventSchema = z.object({
  target: z.union([
    z.object({
      kind: z.literal('Pod'),
      namespace: dnsLabel,
      name: z.string().min(1).max(253),
      uid: z.string().optional(),
    }),
    z.object({ kind: z.literal('Node'), name: z.string().min(1).max(253) }),
  ]),
  reason: z.string().regex(/^[A-Z][A-Za-z]{0,127}$/),
  message: z.string().min(1).max(4096),
  type: z.enum(['Normal', 'Warning']),
  workflowId: z.string().min(1).max(1000),
  key: z.string().min(1).max(200),
  policyVersion: z.string().max(200).optional(),
});

/** A visibility query's string literal (the values Talon builds queries from are names, but quote safely). */
function literal(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** At most this many of a namespace's remediations are read (each names its workload): more is a storm anyway. */
export const MAX_LISTED_REMEDIATIONS = 1_000;

/**
 * The queries that find alert remediations with an open episode on one task queue: all, one namespace's, the
 * nodes'. A remediation that ended its episode and watches for a re-fire has its outcome set (TalonOutcome)
 * and changes nothing, so it is not under remediation.
 */
export function brakeQueries(
  taskQueue: string,
  namespace?: string,
): { all: string; namespace?: string; nodes: string } {
  const running = `ExecutionStatus = "Running" AND TaskQueue = ${literal(taskQueue)} AND ${SEARCH_ATTRIBUTES.TalonOutcome.name} IS NULL`;
  return {
    all: `WorkflowType IN (${literal(WORKFLOW_TYPES.remediateAlert)}, ${literal(WORKFLOW_TYPES.nodeOverload)}) AND ${running}`,
    ...(namespace
      ? {
          namespace: `WorkflowType = ${literal(WORKFLOW_TYPES.remediateAlert)} AND ${running} AND ${SEARCH_ATTRIBUTES.TalonNamespace.name} = ${literal(namespace)}`,
        }
      : {}),
    nodes: `WorkflowType = ${literal(WORKFLOW_TYPES.nodeOverload)} AND ${running}`,
  };
}

/**
 * The operator activities of a worker without a policy file, brake or Kubernetes Events (stubbed test workers,
 * benchmarks): the alert workflows schedule them as local activities, which must be registered on every worker
 * that runs those workflows (an unregistered local activity fails the workflow task, and tolerating it would not
 * replay deterministically). With these the workflows behave as before the operator policy existed.
 */
export function nullOperatorActivities(): OperatorActivities {
  return {
    resolveOperatorPolicy: async () => null,
    checkStormBrake: async (input) => ({
      engaged: false,
      trips: [],
      latched: [],
      counts: { remediations: 0 },
      release: input.config.release,
      action: input.config.action,
    }),
    recordEvent: async () => ({ written: false }),
  };
}

export function createOperatorActivities(deps: OperatorActivityDeps): OperatorActivities {
  const clock = deps.clock ?? Date.now;
  const cacheMs = deps.cacheMs ?? 1_000;
  const cache = new Map<string, { at: number; value: Promise<unknown> }>();
  /** One in-flight or recent answer per key, so a storm's simultaneous checks cost one read each. */
  function cached<T>(key: string, read: () => Promise<T>): Promise<T> {
    const now = clock();
    const hit = cache.get(key);
    if (hit && now - hit.at < cacheMs) return hit.value as Promise<T>;
    const value = read();
    cache.set(key, { at: now, value });
    value.catch(() => cache.delete(key));
    return value;
  }

  return {
    async resolveOperatorPolicy(input: AlertScope): Promise<ResolvedPolicy | null> {
      const scope = parse(scopeSchema, input, 'resolveOperatorPolicy input');
      const policy = deps.policy();
      if (!policy) return null;
      const resolved = resolvePolicy(policy, scope);
      // Talon's own namespace is protected whatever the file says (as the guards do).
      const protectedNamespaces = resolved.protectedNamespaces.includes(deps.talonNamespace)
        ? resolved.protectedNamespaces
        : [...resolved.protectedNamespaces, deps.talonNamespace];
      const protectedBy =
        resolved.protectedBy ?? (scope.namespace === deps.talonNamespace ? deps.talonNamespace : undefined);
      return { ...resolved, protectedNamespaces, ...(protectedBy !== undefined ? { protectedBy } : {}) };
    },

    async checkStormBrake(input: BrakeCheckInput): Promise<BrakeState> {
      const req = parse(brakeSchema, input, 'checkStormBrake input');
      const config = input.config;
      return mapFailures(async () => {
        const queries = brakeQueries(deps.taskQueue, req.namespace);
        const [remediations, nsRunning, nsPods, nodesRunning, nodes, latches] = await Promise.all([
          cached(queries.all, () => deps.brake.countWorkflows(queries.all)),
          queries.namespace
            ? cached(queries.namespace, () => deps.brake.listWorkflowIds(queries.namespace!, MAX_LISTED_REMEDIATIONS))
            : undefined,
          req.kind === 'pod' && req.namespace
            ? cached(`pods/${req.namespace}`, () => deps.brake.namespacePods(req.namespace!))
            : undefined,
          req.kind === 'node' ? cached(queries.nodes, () => deps.brake.countWorkflows(queries.nodes)) : undefined,
          req.kind === 'node' ? cached('nodes', () => deps.brake.countNodes()) : undefined,
          cached('latches', () => deps.brake.latches.read()),
        ]);
        const counts: BrakeCounts = {
          remediations,
          ...(req.namespace && nsRunning !== undefined && nsPods !== undefined
            ? {
                namespace: {
                  name: req.namespace,
                  remediations: nsRunning.length,
                  underRemediation: podsUnderRemediation(
                    nsRunning.map((id) => remediationWorkload(id) ?? id),
                    nsPods,
                    (pod) => workloadOf({ pod }),
                  ),
                  pods: nsPods.length,
                },
              }
            : {}),
          ...(nodesRunning !== undefined && nodes !== undefined
            ? { nodes: { underRemediation: nodesRunning, total: nodes } }
            : {}),
        };
        const trips = brakeTrips(config, counts);
        let held = latches;
        if (config.enabled && config.release === 'manual') {
          const fresh = trips.filter((t) => !latches.some((l) => l.scope === t.scope));
          if (fresh.length > 0) {
            const since = new Date(clock()).toISOString();
            held = await deps.brake.latches.latch(
              fresh.map((t) => ({ scope: t.scope, since, reason: t.reason, by: 'talon' })),
            );
            cache.delete('latches');
          }
        }
        const relevant = held.filter((l) => latchApplies(l.scope, req.namespace, req.kind));
        const state: BrakeState = {
          engaged: trips.length > 0 || relevant.length > 0,
          trips,
          latched: relevant.map((l) => ({ scope: l.scope, since: l.since, reason: l.reason })),
          counts,
          release: config.release,
          action: config.action,
        };
        deps.onBrake?.(state, input);
        return state;
      });
    },

    async recordEvent(input: OperatorEventInput): Promise<{ readonly written: boolean }> {
      const event = parse(eventSchema, input, 'recordEvent input');
      const recorder = deps.events;
      if (!recorder) return { written: false };
      return mapFailures(async () => ({ written: await recorder.record(event) }));
    },
  };
}
