/**
 * The policy file as a long-running process holds it (worker, webhook): opened once at start (a bad file refuses
 * the start with its error), reloaded on change, its version and every reload on /metrics and in the log, with
 * the rule thresholds checked against the rule policy's invariants.
 */
import { PolicyStore } from '../config/policy-file';
import type { TalonConfig } from '../config/talon-config';
import type { TalonMetrics } from '../observability/metrics';
import { checkPolicyRules } from './rules';

/** Opens the policy file when one is configured; a bad file refuses the start with its error. */
export async function openPolicyStore(
  config: TalonConfig,
  metrics: TalonMetrics,
  log: (line: string) => void,
): Promise<PolicyStore | undefined> {
  if (!config.policy) return undefined;
  return PolicyStore.open({
    path: config.policy.path,
    reloadMs: config.policy.reloadSeconds * 1000,
    check: checkPolicyRules,
    onLoad: (event) => {
      metrics.policyReloads.inc({ result: event.result });
      if (event.result === 'loaded') {
        metrics.policyInfo.reset();
        metrics.policyInfo.set({ version: event.version }, 1);
        log(`policy ${event.version} in force (${config.policy!.path})`);
      } else log(`policy file refused: ${event.error}`);
    },
  });
}
