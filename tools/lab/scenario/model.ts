/**
 * A scenario as the load model and the runner use it: every duration in seconds, CPU in cores, memory in
 * bytes, every default filled in. Produced from a validated file by ./normalise.ts. Pure data.
 */

export type Tier = 'edge' | 'cloud';

export type Curve =
  | { readonly type: 'constant'; readonly value: number }
  | { readonly type: 'ramp'; readonly from: number; readonly to: number; readonly start: number; readonly end: number }
  | {
      readonly type: 'spike';
      readonly base: number;
      readonly peak: number;
      readonly at: number;
      readonly duration: number;
    }
  | {
      readonly type: 'sine';
      readonly base: number;
      readonly amplitude: number;
      readonly period: number;
      readonly phase: number;
    }
  | {
      readonly type: 'step';
      readonly initial: number;
      readonly steps: readonly { readonly at: number; readonly value: number }[];
    }
  | { readonly type: 'trace'; readonly points: readonly (readonly [number, number])[]; readonly loop: boolean };

export interface NodeModel {
  readonly name: string;
  readonly tier: Tier;
  readonly cpuCores: number;
  readonly memoryBytes: number;
  readonly networkMbps: number;
}

export interface WorkloadModel {
  readonly name: string;
  readonly kind: 'Deployment' | 'Pod';
  readonly replicas: number;
  readonly node?: string;
  readonly pinned: boolean;
  readonly tier?: Tier;
  readonly namespace: 'main' | 'protected';
  readonly trap: boolean;
  readonly requests: { readonly cpuCores: number; readonly memoryBytes: number };
  readonly limits: { readonly cpuCores: number; readonly memoryBytes: number };
  /** The file's own quantity strings, written to the pod spec as given. */
  readonly quantities: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu: string; readonly memory: string };
  };
  readonly demand: {
    readonly unit: 'cores' | 'rps';
    /** Core-seconds per request; 1 for `cores`, so demand × cpuPerRequest is always cores. */
    readonly cpuPerRequest: number;
    readonly curve: Curve;
  };
  readonly latency: { readonly baseSeconds: number; readonly networkSeconds: number };
  readonly memory: {
    readonly baseBytes: number;
    readonly perCoreBytes: number;
    readonly cacheBytes: number;
    readonly cacheFillBytesPerSecond: number;
  };
  readonly io: { readonly bytesPerCoreSecond: number; readonly cpuShare: number };
  readonly network: { readonly mbpsPerCore: number };
  readonly startupSeconds: number;
}

/** A fault's duration when the file gives none: to the end (finite, so a plan survives JSON). */
export const UNTIL_THE_END = 1e9;

interface FaultTiming {
  readonly at: number;
  /** Seconds after `at` the fault ends; {@link UNTIL_THE_END} when it lasts to the end. */
  readonly duration: number;
}

export type Fault = FaultTiming &
  (
    | { readonly type: 'cpu_spike' | 'noisy_neighbour'; readonly workload: string; readonly cores: number }
    | { readonly type: 'flapping'; readonly workload: string; readonly cores: number; readonly period: number }
    | { readonly type: 'memory_leak'; readonly workload: string; readonly bytesPerMinute: number }
    | { readonly type: 'io_storm'; readonly workload: string; readonly factor: number }
    | { readonly type: 'network_burst'; readonly workload: string; readonly mbps: number }
    | { readonly type: 'demand_scale'; readonly workload: string; readonly factor: number }
  );

export type AlertRuleName = 'cpu' | 'memory' | 'node';

export interface AlertSettings {
  readonly rules: readonly AlertRuleName[];
  readonly forSeconds: number;
  readonly rateWindowSeconds: number;
  readonly cpuLimitShare: number;
  readonly memoryLimitShare: number;
  readonly nodeCpuShare: number;
}

export type SloKind = 'latency_p95' | 'throttled_fraction' | 'availability';

export interface Slo {
  readonly kind: SloKind;
  /** latency_p95: seconds; throttled_fraction: highest allowed share; availability: lowest allowed served share. */
  readonly threshold: number;
  readonly workloads: readonly string[];
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly expect?: string;
  /** Where the scenario came from (a path, or `<inline>`). */
  readonly source: string;
  readonly durationSeconds: number;
  readonly tickSeconds: number;
  readonly nodes: readonly NodeModel[];
  readonly workloads: readonly WorkloadModel[];
  readonly faults: readonly Fault[];
  readonly alerts: AlertSettings;
  readonly slo: Slo;
}

/** Whether the SLO is violated by a measured value (direction depends on the kind). */
export function sloViolated(slo: Pick<Slo, 'kind' | 'threshold'>, value: number): boolean {
  return slo.kind === 'availability' ? value < slo.threshold : value > slo.threshold;
}
