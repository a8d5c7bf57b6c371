/**
 * `talon alerts replay`'s engine: the worker's own activity groups, built from the same configuration as a
 * worker would build them, with dry run as the actuator's default. The CLI receives this from the entry point
 * (workers/main.ts), so the what-if runs exactly what production runs.
 */
import { CliError, errorMessage } from '../src/cli/errors';
import type { WhatIfFactory } from '../src/cli/remediation/deps';
import { describeEngine } from '../src/cli/remediation/replay';
import { loadKubeConfig } from '../src/kube/config';
import { activityDepsFromConfig, createActivityGroups } from './activities';

export const workerWhatIf: WhatIfFactory = async (config, options) => {
  let kubeConfig;
  try {
    kubeConfig = loadKubeConfig(config.kube);
  } catch (err) {
    throw new CliError(`cannot load the Kubernetes configuration: ${errorMessage(err)}`, err);
  }
  const base = activityDepsFromConfig(config, kubeConfig);
  const groups = await createActivityGroups({
    ...base,
    ...(options.model ? { modelPath: options.model } : {}),
    // Every apply passes dryRun itself; this makes dry run the actuator's default too.
    guards: { ...base.guards, dryRun: true },
  });
  return {
    activities: {
      readTarget: (ref) => groups.target.readTarget(ref),
      gatherWindow: (input) => groups.metrics.gatherWindow(input),
      decidePolicy: (window) => groups.policy.decidePolicy(window),
      applyPolicy: (input) => groups.remediation.applyPolicy(input),
    },
    engine: describeEngine(groups.model),
    close: () => groups.close(),
  };
};
