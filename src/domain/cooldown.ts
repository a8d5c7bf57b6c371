/**
 * How long to wait after a change before judging it: long enough for the workload to settle, short
 * enough to escalate while it still matters. Adapts to the workload's history when there is some
 * (D3.6 2.4.2 names the fixed cool-down as a limit), always within configured bounds. Pure.
 */

export interface CooldownConfig {
  readonly defaultSeconds: number;
  readonly minSeconds: number;
  readonly maxSeconds: number;
  /** Multiple of the historical time-to-resolve to wait (headroom over the typical case). */
  readonly historyFactor: number;
}

export const DEFAULT_COOLDOWN: CooldownConfig = {
  defaultSeconds: 120,
  minSeconds: 30,
  maxSeconds: 900,
  historyFactor: 1.5,
};

export interface CooldownDecision {
  readonly seconds: number;
  readonly basis: 'history' | 'default';
  readonly explanation: string;
}

export function validateCooldown(config: CooldownConfig): CooldownConfig {
  const { defaultSeconds, minSeconds, maxSeconds, historyFactor } = config;
  const finite = [defaultSeconds, minSeconds, maxSeconds, historyFactor].every((n) => Number.isFinite(n) && n > 0);
  if (!finite || minSeconds > maxSeconds || defaultSeconds < minSeconds || defaultSeconds > maxSeconds) {
    throw new Error(
      `invalid cool-down configuration: need 0 < min ≤ default ≤ max and a positive factor, got ${JSON.stringify(config)}`,
    );
  }
  return config;
}

/**
 * `meanResolveSeconds` is the mean time past remediations of this workload took to resolve; `attempt`
 * (1-based) stretches later waits a little, since escalated problems tend to be the slower ones.
 */
export function cooldownFor(
  config: CooldownConfig,
  meanResolveSeconds: number | undefined,
  attempt: number,
): CooldownDecision {
  const stretch = 1 + 0.25 * Math.max(0, attempt - 1);
  const clamp = (s: number): number => Math.round(Math.min(config.maxSeconds, Math.max(config.minSeconds, s)));
  if (meanResolveSeconds !== undefined && Number.isFinite(meanResolveSeconds) && meanResolveSeconds > 0) {
    const seconds = clamp(meanResolveSeconds * config.historyFactor * stretch);
    return {
      seconds,
      basis: 'history',
      explanation: `${seconds}s from history (mean resolve ${Math.round(meanResolveSeconds)}s × ${config.historyFactor}${stretch > 1 ? ` × ${stretch}` : ''}, bounded ${config.minSeconds}-${config.maxSeconds}s)`,
    };
  }
  const seconds = clamp(config.defaultSeconds * stretch);
  return { seconds, basis: 'default', explanation: `${seconds}s default (no history for this workload)` };
}
