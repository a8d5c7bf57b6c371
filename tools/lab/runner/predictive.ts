/**
 * The `talon-predictive` engine: `talon-rules` plus the predictive watch (docs/PREDICTIVE.md), with autonomy `auto`
 * for predicted remediations in its copies' namespaces only. The run's Talon reads an operator policy file written
 * here; it keeps Talon's behaviour without a file for every other copy (no storm brake: the lab's copies run side
 * by side and must not hold each other back), so talon-rules and talon-predictive in the same run differ by the
 * watch alone. The watch's settings are the policy defaults at the local stack's scale — samples at its 5 s scrape
 * interval, 10 minutes of history, a round every 3 samples — and the copies' own alert thresholds. Pure.
 */
import { stringify } from 'yaml';
import { DEFAULT_PROTECTED_NAMESPACES } from '../../../src/domain/guards';
import { POLICY_API_VERSION, POLICY_KIND } from '../../../src/config/policy-file';
import type { CopyPlan } from '../plan';

/** The local stack's scrape interval (tools/stack/prometheus.ts), and the lab's TALON_WINDOW_STEP_SECONDS. */
export const LAB_STEP_SECONDS = 5;

/** The run's policy file, or undefined when no copy runs talon-predictive (the run's Talon then reads none). */
export function labPolicy(run: string, copies: readonly CopyPlan[]): string | undefined {
  const predictive = copies.filter((c) => c.engine === 'talon-predictive');
  if (predictive.length === 0) return undefined;
  const shares = new Set(
    predictive.map((c) => `${c.scenario.alerts.cpuLimitShare}/${c.scenario.alerts.memoryLimitShare}`),
  );
  if (shares.size > 1)
    throw new Error(
      `talon-predictive forecasts against one threshold per resource, but these scenarios set different alert shares (cpu/memory): ${[...shares].join(', ')}; run them separately`,
    );
  const { cpuLimitShare, memoryLimitShare } = predictive[0]!.scenario.alerts;
  const namespaces = predictive.map((c) => c.namespaces.main);
  const protectedNamespaces = copies
    .filter((c) => c.scenario.workloads.some((w) => w.namespace === 'protected'))
    .map((c) => c.namespaces.protected);
  const policy = {
    apiVersion: POLICY_API_VERSION,
    kind: POLICY_KIND,
    version: `lab-${run}`,
    protectedNamespaces: [...DEFAULT_PROTECTED_NAMESPACES, ...protectedNamespaces],
    // No brake, and no settle delay before a change (a policy file's brake settles 5 s even when disabled).
    stormBrake: { enabled: false, settleSeconds: 0 },
    overrides: [{ name: 'lab-predictive-acts', match: { namespaces }, set: { predictiveAutonomy: 'auto' } }],
    predictive: {
      enabled: true,
      stepSeconds: LAB_STEP_SECONDS,
      lookbackSeconds: 600,
      intervalSeconds: 3 * LAB_STEP_SECONDS,
      namespaces,
      thresholds: { cpu: cpuLimitShare, memory: memoryLimitShare },
    },
  };
  return `# Written by the incident lab for run ${run} (tools/lab/runner/predictive.ts).\n${stringify(policy)}`;
}
