/**
 * The scenario file format of the incident lab, as a zod schema of what a person writes (strings like `90s`,
 * `500m`, `256Mi`, or plain numbers). It is the one source of the published JSON schema
 * (tools/lab/scenario.schema.json, `talon lab schema`) and of validation; ./normalise.ts turns a valid file into
 * the numbers the load model uses and checks what a schema cannot (references between fields).
 */
import { z } from 'zod';

const DURATION = /^\d+(\.\d+)?(ms|s|m|h)$/;
const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+|[KMGTPE]i?|[mnuk])?$/;
const NAME = /^[a-z]([-a-z0-9]{0,14}[a-z0-9])?$/;

/** Seconds as a number, or a string with a unit (`500ms`, `90s`, `4m`, `1h`). */
export const duration = z
  .union([z.number().nonnegative(), z.string().regex(DURATION, 'a duration such as 30s, 4m or 1500ms')])
  .describe('seconds (number) or a duration with unit: 500ms, 90s, 4m, 1h');

/** CPU in cores: a number or a Kubernetes quantity (`500m`, `1.5`). */
export const cpu = z
  .union([z.number().nonnegative(), z.string().regex(QUANTITY, 'a CPU quantity such as 500m or 2')])
  .describe('cores (number) or a Kubernetes CPU quantity: 250m, 1.5');

/** Memory in bytes: a number or a Kubernetes quantity (`256Mi`, `1Gi`). */
export const memory = z
  .union([z.number().nonnegative(), z.string().regex(QUANTITY, 'a memory quantity such as 256Mi or 1Gi')])
  .describe('bytes (number) or a Kubernetes memory quantity: 256Mi, 2Gi');

/** Names of nodes and workloads inside a scenario (the lab prefixes them per run and engine). */
export const localName = z
  .string()
  .regex(NAME, 'a lower-case name of 1–16 letters, digits and dashes, starting with a letter');

/** A scenario's name: it becomes part of namespace and node names, hence at most 24 characters. */
export const scenarioName = z
  .string()
  .regex(
    /^[a-z]([-a-z0-9]{0,22}[a-z0-9])?$/,
    'a lower-case name of 1–24 letters, digits and dashes, starting with a letter',
  );

const share = z.number().min(0).max(1);
const positive = z.number().positive();

const constantCurve = z.strictObject({ type: z.literal('constant'), value: z.number().nonnegative() });
const rampCurve = z.strictObject({
  type: z.literal('ramp'),
  from: z.number().nonnegative(),
  to: z.number().nonnegative(),
  start: duration,
  end: duration,
});
const spikeCurve = z.strictObject({
  type: z.literal('spike'),
  base: z.number().nonnegative(),
  peak: z.number().nonnegative(),
  at: duration,
  duration,
});
const sineCurve = z.strictObject({
  type: z.literal('sine'),
  base: z.number().nonnegative(),
  amplitude: z.number().nonnegative(),
  period: duration,
  /** Shift of the wave, as a share of the period (0.25 starts at the top). */
  phase: share.optional(),
});
const stepCurve = z.strictObject({
  type: z.literal('step'),
  /** Value from the start until the first step. */
  initial: z.number().nonnegative(),
  steps: z.array(z.strictObject({ at: duration, value: z.number().nonnegative() })).min(1),
});
const traceCurve = z.strictObject({
  type: z.literal('trace'),
  /** A CSV file (`seconds,value` per line, header optional) relative to the scenario file, or inline points. */
  csv: z.string().min(1).optional(),
  points: z
    .array(z.tuple([z.number().nonnegative(), z.number().nonnegative()]))
    .min(1)
    .optional(),
  /** Repeat the trace after its last point (default: hold the last value). */
  loop: z.boolean().optional(),
});

export const curveSchema = z
  .discriminatedUnion('type', [constantCurve, rampCurve, spikeCurve, sineCurve, stepCurve, traceCurve])
  .describe('demand over time, in the unit of `demand.unit`');

const demandSchema = z.strictObject({
  /** `cores`: the curve is CPU cores wanted; `rps`: requests per second, each costing `cpuPerRequest` cores·s. */
  unit: z.enum(['cores', 'rps']).default('cores'),
  cpuPerRequest: positive.optional().describe('core-seconds of CPU per request (unit rps only), e.g. 0.004'),
  curve: curveSchema,
});

const resourcesSchema = z.strictObject({
  requests: z.strictObject({ cpu, memory }),
  limits: z.strictObject({ cpu, memory }),
});

const memoryProfile = z.strictObject({
  /** Working set at idle. */
  base: memory,
  /** Extra working set per core of CPU in use (request buffers). */
  perCore: memory.optional(),
  /** Page cache the application fills up to; the kernel reclaims it before an OOM kill. */
  cache: memory.optional(),
  /** How fast the cache fills, per second of uptime (default 8Mi): a restarted container starts cold. */
  cacheFill: memory.optional(),
});

const ioProfile = z.strictObject({
  /** Disk bytes read + written per core-second of work. */
  bytesPerCoreSecond: memory.optional(),
  /** Share of the CPU demand spent handling data (what a data offload moves elsewhere). */
  cpuShare: share.optional(),
});

const networkProfile = z.strictObject({
  /** Egress Mbit/s per core of work served (ingress is taken as the same). */
  mbpsPerCore: z.number().nonnegative().optional(),
});

export const workloadSchema = z.strictObject({
  name: localName,
  /** A Deployment, or a bare Pod (KWOK completes Job pods at once, so batch work is modelled as a bare Pod). */
  kind: z.enum(['Deployment', 'Pod']).default('Deployment'),
  replicas: z.number().int().min(1).max(20).default(1),
  /** A node of `cluster.nodes` the pods are placed on first (preferred affinity; `pinned` makes it required). */
  node: localName.optional(),
  pinned: z.boolean().optional(),
  /** Restrict to a tier (node selector on talon.io/tier). */
  tier: z.enum(['edge', 'cloud']).optional(),
  /** `protected`: the workload lives in a namespace Talon is configured never to touch (a trap). */
  namespace: z.enum(['main', 'protected']).default('main'),
  /** A workload that must be left alone (e.g. a batch job legitimately at 100 % CPU); any action on it is harmful. */
  trap: z.boolean().default(false),
  resources: resourcesSchema,
  demand: demandSchema,
  /** Latency of one request with no queueing and no congestion. */
  latency: z.strictObject({ base: duration, network: duration.optional() }).optional(),
  memory: memoryProfile.optional(),
  io: ioProfile.optional(),
  network: networkProfile.optional(),
  /** Seconds a new or restarted container needs before it serves (cold start). */
  startup: duration.optional(),
});

const nodeSchema = z.strictObject({
  name: localName,
  tier: z.enum(['edge', 'cloud']),
  cpu: cpu.optional(),
  memory: memory.optional(),
  /** Link capacity in Mbit/s shared by the pods on the node (default: edge 1000, cloud 10000). */
  networkMbps: positive.optional(),
});

const faultBase = { at: duration, duration: duration.optional() };
export const faultSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('cpu_spike'), ...faultBase, workload: localName, cores: positive }),
  z.strictObject({
    type: z.literal('noisy_neighbour'),
    ...faultBase,
    workload: localName.describe('the neighbour that becomes noisy (it shares a node with the victims)'),
    cores: positive,
  }),
  z.strictObject({
    type: z.literal('flapping'),
    ...faultBase,
    workload: localName,
    cores: positive,
    period: duration,
  }),
  z.strictObject({
    type: z.literal('memory_leak'),
    ...faultBase,
    workload: localName,
    perMinute: memory.describe('working set growth per minute of container uptime while the leak is active'),
  }),
  z.strictObject({ type: z.literal('io_storm'), ...faultBase, workload: localName, factor: z.number().min(1) }),
  z.strictObject({
    type: z.literal('network_burst'),
    ...faultBase,
    workload: localName,
    mbps: positive.describe('extra egress Mbit/s per pod of the workload (e.g. a backup upload)'),
  }),
  z.strictObject({
    type: z.literal('demand_scale'),
    ...faultBase,
    workload: localName,
    factor: z.number().min(0),
  }),
]);

const alertsSchema = z.strictObject({
  /** Which of Talon's own alert rules (tools/stack/alert-rules.ts) run for this scenario. */
  rules: z
    .array(z.enum(['cpu', 'memory', 'node']))
    .min(1)
    .default(['cpu', 'memory', 'node']),
  for: duration.default('10s'),
  rateWindow: duration.default('20s'),
  cpuLimitShare: share.default(0.8),
  memoryLimitShare: share.default(0.85),
  nodeCpuShare: share.default(0.9),
});

const sloSchema = z.strictObject({
  kind: z.enum(['latency_p95', 'throttled_fraction', 'availability']),
  /** latency_p95: a duration; throttled_fraction: the largest share of throttled periods; availability: least served share. */
  threshold: z.union([duration, share]),
  /** Workloads whose service the SLO measures (default: every workload that is not a trap). */
  workloads: z.array(localName).min(1).optional(),
});

export const scenarioSchema = z
  .strictObject({
    name: scenarioName,
    description: z.string().min(1),
    /** What a good remediation looks like, for the reader of the report (not used for scoring). */
    expect: z.string().optional(),
    duration,
    /** Seconds between two ticks of the load model (at most 5). */
    tick: duration.optional(),
    cluster: z.strictObject({ nodes: z.array(nodeSchema).min(1).max(8) }),
    workloads: z.array(workloadSchema).min(1).max(8),
    faults: z.array(faultSchema).default([]),
    alerts: alertsSchema.prefault({}),
    slo: sloSchema,
  })
  .describe('An incident-lab scenario (docs/LAB.md)');

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type ScenarioFile = z.output<typeof scenarioSchema>;
export type CurveSpec = z.output<typeof curveSchema>;
export type FaultSpec = z.output<typeof faultSchema>;
export type WorkloadSpec = z.output<typeof workloadSchema>;

/** The published JSON schema (draft 2020-12) of a scenario file. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    title: 'Talon incident-lab scenario',
    $comment:
      'Generated from tools/lab/scenario/schema.ts by `talon lab schema`; validate files with `talon lab validate`.',
    ...(z.toJSONSchema(scenarioSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>),
  };
}
