/**
 * The telemetry window the policy engines read: the Kepler features of the TALON documents (D3.3 1.4.3), in
 * the model's input order, with the units Talon fixes so that the metrics adapter, the rule policy and the
 * learned model agree. Pure: safe inside workflows.
 */

/** Feature names in input order (the last axis of a `[steps × features]` window). */
export const MODEL_FEATURES = [
  'cpu_usage',
  'memory_usage',
  'system_cpu_usage',
  'user_cpu_usage',
  'core_joules',
  'dram_joules',
  'package_joules',
  'total_joules',
] as const;

export type ModelFeature = (typeof MODEL_FEATURES)[number];

/** Steps per window (D3.3: "sequences of 10 time steps"). */
export const WINDOW_STEPS = 10;

/** Seconds between two steps of a window: one Prometheus rate window. */
export const WINDOW_STEP_SECONDS = 30;

/**
 * Units per feature. Usage features are ratios so that one model serves containers of any size; energy is
 * the joules Kepler attributes to the container during one step.
 */
export const FEATURE_UNITS: Readonly<Record<ModelFeature, string>> = {
  cpu_usage: 'container CPU time / CPU limit (1 = using its whole limit)',
  memory_usage: 'container working set / memory limit',
  system_cpu_usage: 'busy CPU of the whole node / node capacity',
  user_cpu_usage: 'container user-mode CPU time / CPU limit (cpu_usage minus kernel time)',
  core_joules: 'joules in the CPU cores attributed to the container during the step',
  dram_joules: 'joules in DRAM attributed to the container during the step',
  package_joules: 'joules in the CPU package (cores + uncore) attributed to the container during the step',
  total_joules: 'package + DRAM joules attributed to the container during the step',
};

export function featureIndex(name: ModelFeature): number {
  return MODEL_FEATURES.indexOf(name);
}
