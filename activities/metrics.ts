/**
 * Metrics activities: gather a pod's feature window (Prometheus, enriched and backed up by InfluxDB), record
 * remediation outcomes, read a workload's profile, rank nodes for task offloading. Clients and options are
 * injected; nothing here reads the environment. Permanent failures (bad PromQL, 4xx, invalid input) are
 * non-retryable; an unavailable source is retryable.
 */
import { z } from 'zod';
import { FAILURE_TYPES } from '../src/contracts/failures';
import { POLICIES } from '../src/domain/policy';
import { rankNodesForOffloading, type RankedNode } from '../src/domain/node-load';
import { workloadOf, type ContainerResources, type GatherOutcome, type WindowTarget } from '../src/domain/window';
import { PrometheusUnavailableError } from '../src/metrics/errors';
import {
  DEFAULT_GATHER_OPTIONS,
  gatherFromInflux,
  gatherFromPrometheus,
  nodeLoads,
  rangeSecondsOf,
  type GatherOptions,
} from '../src/metrics/gather';
import type { InfluxCounters, InfluxStore, RemediationRecord, WorkloadProfile } from '../src/metrics/influx';
import type { PrometheusClient } from '../src/metrics/prometheus';
import { DEFAULT_METRICS_CONFIG, type MetricsConfig } from '../src/metrics/queries';
import { readUsage, type ContainerUsage, type UsageRequest } from '../src/metrics/usage';
import { permanentFailure, toActivityFailure as toFailure } from './failures';
import { parseActivityInput as parse } from './input';

export interface MetricsActivityDeps {
  readonly prometheus: PrometheusClient;
  /** Optional: without it there is no history, no snapshot and no fallback when Prometheus is out. */
  readonly influx?: InfluxStore;
  readonly config?: MetricsConfig;
  readonly gather?: Partial<GatherOptions>;
  /** How far back a workload profile looks (default 7 days). */
  readonly historySeconds?: number;
  /** How far back the InfluxDB fallback looks for stored steps while Prometheus is out (default 15 min). */
  readonly fallbackLookbackSeconds?: number;
  /**
   * How long a workload profile is reused by gathers (default 60 s): it summarises days of history, and
   * without reuse a burst of alerts for one workload would run one Flux query per pod.
   */
  readonly profileCacheSeconds?: number;
  /** Milliseconds since the epoch; injected for tests. */
  readonly now?: () => number;
}

const k8sName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a Kubernetes name');
const positive = z.number().positive().finite();

const targetSchema = z.object({
  namespace: k8sName,
  pod: k8sName,
  container: k8sName.optional(),
  workload: k8sName.optional(),
  node: k8sName.optional(),
});

const gatherInputSchema = z.object({
  target: targetSchema,
  at: positive.optional(),
  resources: z
    .object({
      cpuRequestCores: positive.optional(),
      cpuLimitCores: positive.optional(),
      memoryRequestBytes: positive.optional(),
      memoryLimitBytes: positive.optional(),
    })
    .optional(),
  withHistory: z.boolean().optional(),
});

const recordSchema = z.object({
  workflowId: z.string().min(1),
  namespace: k8sName,
  workload: k8sName,
  pod: k8sName.optional(),
  policy: z.enum(POLICIES),
  magnitude: z.number().finite(),
  outcome: z.string().regex(/^[a-z][a-z0-9_]*$/, 'a snake_case word'),
  decisionSource: z.enum(['model', 'rules']),
  attempt: z.number().int().min(0),
  at: positive,
  score: z.number().finite().optional(),
  durationSeconds: z.number().finite().min(0).optional(),
  fallbackReason: z.string().optional(),
  detail: z.string().max(2000).optional(),
});

const profileInputSchema = z.object({
  namespace: k8sName,
  workload: k8sName,
  sinceSeconds: positive.optional(),
});

const namespacePattern = z.string().regex(/^(\*|\*?[a-z0-9][-a-z0-9]*\*?)$/, 'a namespace name or pattern');
const usageInputSchema = z.object({
  namespaces: z.array(namespacePattern).min(1),
  exclude: z.array(namespacePattern).optional(),
  resources: z.array(z.enum(['cpu', 'memory'])),
  end: positive,
  lookbackSeconds: positive,
  stepSeconds: positive,
  rateSeconds: positive,
});

const rankInputSchema = z.object({
  exclude: z.array(z.string()).optional(),
  cpuWeight: z.number().min(0).max(1).optional(),
  maxLoad: positive.optional(),
});

export interface GatherWindowInput {
  readonly target: WindowTarget;
  /** Unix seconds the window ends at; defaults to now. Pass the workflow's time for reproducible windows. */
  readonly at?: number;
  /** Requests/limits known from the pod spec; they win over kube-state-metrics. */
  readonly resources?: ContainerResources;
  /** Enrich with the workload's InfluxDB profile (default true when InfluxDB is configured). */
  readonly withHistory?: boolean;
}

export interface RecordOutcomeResult {
  /** True once InfluxDB acknowledged the point; false means queued for retry (counted, never thrown). */
  readonly written: boolean;
  readonly counters?: InfluxCounters;
  readonly reason?: string;
}

export interface RankNodesInput {
  readonly exclude?: readonly string[];
  readonly cpuWeight?: number;
  readonly maxLoad?: number;
}

export interface ProfileInput {
  readonly namespace: string;
  readonly workload: string;
  readonly sinceSeconds?: number;
}

const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

export function createMetricsActivities(deps: MetricsActivityDeps) {
  const config = deps.config ?? DEFAULT_METRICS_CONFIG;
  const options: GatherOptions = { ...DEFAULT_GATHER_OPTIONS, ...deps.gather };
  const range = rangeSecondsOf(options);
  const historySeconds = deps.historySeconds ?? 7 * 86_400;
  const lookback = deps.fallbackLookbackSeconds ?? 15 * 60;
  const nowSeconds = () => (deps.now ?? Date.now)() / 1000;
  const influx = deps.influx;

  const cacheMs = (deps.profileCacheSeconds ?? 60) * 1000;
  const profiles = new Map<string, { at: number; profile: Promise<WorkloadProfile> }>();

  async function profile(target: WindowTarget, at: number): Promise<WorkloadProfile | string> {
    if (!influx) return 'no InfluxDB configured';
    const key = `${target.namespace}/${workloadOf(target)}`;
    const now = (deps.now ?? Date.now)();
    let entry = profiles.get(key);
    if (!entry || now - entry.at > cacheMs) {
      // Concurrent gathers for one workload share the same query; a failed one is not kept.
      const pending = influx.workloadProfile(target.namespace, workloadOf(target), historySeconds, at);
      entry = { at: now, profile: pending };
      profiles.set(key, entry);
      pending.catch(() => {
        if (profiles.get(key)?.profile === pending) profiles.delete(key);
      });
      if (profiles.size > 10_000) profiles.delete(profiles.keys().next().value ?? key);
    }
    try {
      return await entry.profile;
    } catch (error) {
      return `history unavailable: ${describe(error)}`;
    }
  }

  return {
    /**
     * The pod's feature window (or an explicit insufficient-data outcome). While Prometheus is unavailable
     * the window is rebuilt from InfluxDB snapshots (source 'influx', staleness shows its age); only when
     * that is impossible too does the activity fail, retryably.
     */
    async gatherWindow(input: GatherWindowInput): Promise<GatherOutcome> {
      const req = parse(gatherInputSchema, input, 'gatherWindow input');
      const at = req.at ?? nowSeconds();
      const target: WindowTarget = req.target;
      const wantHistory = req.withHistory ?? true;
      const [prom, hist] = await Promise.all([
        gatherFromPrometheus(deps.prometheus, config, options, {
          target,
          at,
          ...(req.resources ? { resources: req.resources } : {}),
        }).then(
          (outcome) => ({ outcome }),
          (error: unknown) => ({ error }),
        ),
        wantHistory ? profile(target, at) : Promise.resolve('history not requested'),
      ]);
      const history = typeof hist === 'string' || hist.history.samples === 0 ? undefined : hist.history;
      let outcome: GatherOutcome;
      if ('outcome' in prom) {
        outcome = prom.outcome;
        if (influx) {
          try {
            influx.recordWindow(outcome);
          } catch {
            // A closed writer during shutdown must not fail the gather; the snapshot is only history.
          }
        }
      } else {
        if (!(prom.error instanceof PrometheusUnavailableError) || !influx) throw toFailure(prom.error);
        let fallback: GatherOutcome;
        try {
          fallback = await gatherFromInflux(influx, options, {
            target,
            at,
            lookbackSeconds: lookback,
            note: `Prometheus unavailable (${prom.error.message}); rebuilt from InfluxDB snapshots`,
            ...(req.resources ? { resources: req.resources } : {}),
          });
        } catch {
          throw toFailure(prom.error);
        }
        if (fallback.kind !== 'window') throw toFailure(prom.error);
        outcome = fallback;
      }
      return outcome.kind === 'window' && history ? { ...outcome, history } : outcome;
    },

    /** Records a remediation outcome in InfluxDB. Never fails on a write error: it is retried and counted. */
    async recordOutcome(record: RemediationRecord): Promise<RecordOutcomeResult> {
      const r = parse(recordSchema, record, 'remediation record');
      if (!influx) return { written: false, reason: 'no InfluxDB configured' };
      try {
        influx.recordOutcome(r);
      } catch (error) {
        return { written: false, reason: describe(error), counters: influx.counters() };
      }
      const written = await influx.flush();
      return { written, counters: influx.counters(), ...(written ? {} : { reason: 'queued for retry' }) };
    },

    /** A workload's load statistics and remediation record, for the adaptive cool-down. */
    async workloadProfile(input: ProfileInput): Promise<WorkloadProfile> {
      const req = parse(profileInputSchema, input, 'workloadProfile input');
      if (!influx) throw permanentFailure(FAILURE_TYPES.InfluxNotConfigured, 'no InfluxDB configured');
      try {
        return await influx.workloadProfile(
          req.namespace,
          req.workload,
          req.sinceSeconds ?? historySeconds,
          nowSeconds(),
        );
      } catch (error) {
        throw toFailure(error);
      }
    },

    /**
     * Usage of every container with a limit in the namespaces, on a grid over the look-back (the predictive
     * watch's forecasts read it).
     */
    async watchedUsage(input: UsageRequest): Promise<ContainerUsage[]> {
      const req = parse(usageInputSchema, input, 'watchedUsage input');
      try {
        return await readUsage(deps.prometheus, config, req);
      } catch (error) {
        throw toFailure(error);
      }
    },

    /** Nodes ranked least loaded first (D3.6 3.1.2), for task offloading. */
    async rankNodes(input: RankNodesInput = {}): Promise<RankedNode[]> {
      const req = parse(rankInputSchema, input, 'rankNodes input');
      try {
        return rankNodesForOffloading(await nodeLoads(deps.prometheus, config, range), req);
      } catch (error) {
        throw toFailure(error);
      }
    },
  };
}

export type MetricsActivities = ReturnType<typeof createMetricsActivities>;
