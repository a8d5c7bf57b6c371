/**
 * What the lab runner hands the lab driver: the scenario copies to drive, where their objects live and when
 * each scenario's clock starts. The runner writes it as JSON (atomically); the driver re-reads it when it
 * changes. Labels tie the cluster's objects to a copy.
 */
import type { Scenario } from './scenario/model';

/** Labels the runner puts on every lab object; the driver selects by them. */
export const LAB_LABELS = {
  /** The run (one `talon lab run` or one demo). */
  run: 'talon.io/lab-run',
  /** One engine's copy of one scenario. */
  copy: 'talon.io/lab-copy',
  /** The scenario's name of the workload a pod belongs to. */
  workload: 'talon.io/lab-workload',
  /** The scenario's name of a node. */
  node: 'talon.io/lab-node',
} as const;

/** KWOK turns these pod annotations into the kubelet's usage series (deploy/local/kwok/usage-from-annotation.yaml). */
/** On a lab pod: its workload's start-up time in seconds; the driver marks it Ready that long after it started. */
export const LAB_STARTUP_ANNOTATION = 'talon.io/lab-startup-seconds';

export const USAGE_ANNOTATIONS = { cpu: 'kwok.x-k8s.io/usage-cpu', memory: 'kwok.x-k8s.io/usage-memory' } as const;

export type Engine = 'talon-model' | 'talon-rules' | 'talon-predictive' | 'seed-orchestrator' | 'none';
export const ENGINES: readonly Engine[] = [
  'talon-model',
  'talon-rules',
  'talon-predictive',
  'seed-orchestrator',
  'none',
];
/** What `talon lab run` runs without `--engines` (talon-predictive is asked for by name: it adds a policy file). */
export const DEFAULT_ENGINES: readonly Engine[] = ['talon-model', 'talon-rules', 'seed-orchestrator', 'none'];
/** The engines Talon's own worker and webhook serve (the run's task queue). */
export const TALON_ENGINES: readonly Engine[] = ['talon-model', 'talon-rules', 'talon-predictive'];

export function isTalonEngine(engine: Engine | 'demo'): boolean {
  return (TALON_ENGINES as readonly string[]).includes(engine);
}

export interface CopyPlan {
  /** Short id, also the value of the copy label (≤ 63 characters). */
  readonly id: string;
  readonly engine: Engine | 'demo';
  readonly scenario: Scenario;
  /** Namespace of the scenario's `main` and `protected` workloads. */
  readonly namespaces: { readonly main: string; readonly protected: string };
  /** Scenario node name → the real (KWOK) node name of this copy. */
  readonly nodes: Readonly<Record<string, string>>;
  /** Unix seconds of the scenario's t = 0; before it the workloads run at their t = 0 demand (warm-up). */
  readonly startAt: number;
}

export interface LabPlan {
  readonly run: string;
  readonly copies: readonly CopyPlan[];
  /** Where the driver appends one timeline file per copy (`<copy>.jsonl`). */
  readonly timelineDir: string;
}
