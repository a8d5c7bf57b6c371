/**
 * The predictive watch (issue 15 §3): what it forecasts against and what it hands to the remediation path.
 * Pure and deterministic, so the watch workflow and the worker's activity share it.
 */

/**
 * The shares of a container's limit at which Talon's alert rules fire (TalonPodCpuNearLimit,
 * TalonPodMemoryNearLimit; tools/stack/alert-rules.ts takes them from here), so a predicted breach is a breach of
 * the same line the reactive alert watches.
 */
export const ALERT_LIMIT_SHARES = { cpu: 0.8, memory: 0.85 } as const;
