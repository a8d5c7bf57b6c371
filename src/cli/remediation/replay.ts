/** `talon alerts replay <file>`: what-if over recorded notifications, every change a server-side dry run. */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DEFAULT_REMEDIATION_SETTINGS } from '../../contracts/remediate-alert';
import { loadKubeConfig } from '../../kube/config';
import { activityDepsFromConfig, createActivityGroups, type ModelStatus } from '../../../workers/activities';
import { loadTalonConfig } from '../../config/talon-config';
import {
  formatWhatIf,
  parsePayloads,
  whatIfPayloads,
  type WhatIfActivities,
  type WhatIfReport,
} from '../alerts-replay';
import { CliError, errorMessage } from '../errors';
import { asArgument, checkAttempts } from './arguments';
import { print, type RemediationCliDeps } from './deps';

export function describeEngine(model: ModelStatus | undefined): string {
  if (!model) return 'the rule policy (no model configured)';
  if (model.loaded) return `the ONNX policy model ${model.path} (version ${model.version})`;
  return `the rule policy, because ${model.reason}`;
}

export interface AlertsReplayOptions {
  readonly json?: boolean;
  /** Another ONNX model than the configured one. */
  readonly model?: string;
  readonly maxAttempts?: number;
}

/**
 * Runs recorded notifications through the worker's own activities (assembled by createActivityGroups from
 * the same configuration), with every change a server-side dry run. `activities` replaces them in tests.
 */
export async function alertsReplayAction(
  file: string,
  opts: AlertsReplayOptions = {},
  deps: RemediationCliDeps & { readonly activities?: WhatIfActivities; readonly engine?: string } = {},
): Promise<WhatIfReport> {
  if (!file || file.trim() === '') throw new CliError('alerts replay needs a payload file');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read payload file ${file}: ${errorMessage(err)}`, err);
  }
  const payloads = parsePayloads(text, file);
  const maxAttempts = opts.maxAttempts ?? DEFAULT_REMEDIATION_SETTINGS.maxAttempts;
  const options = { file, maxAttempts, operationPrefix: `what-if/${randomUUID()}` };

  let report: WhatIfReport;
  if (deps.activities) {
    report = await whatIfPayloads(payloads, deps.activities, {
      ...options,
      engine: deps.engine ?? 'injected activities',
    });
  } else {
    const config = deps.config ?? loadTalonConfig();
    let kubeConfig;
    try {
      kubeConfig = loadKubeConfig(config.kube);
    } catch (err) {
      throw new CliError(`cannot load the Kubernetes configuration: ${errorMessage(err)}`, err);
    }
    const base = activityDepsFromConfig(config, kubeConfig);
    const groups = await createActivityGroups({
      ...base,
      ...(opts.model ? { modelPath: opts.model } : {}),
      // Every apply below passes dryRun itself; this makes dry run the actuator's default too.
      guards: { ...base.guards, dryRun: true },
    });
    try {
      const activities: WhatIfActivities = {
        readTarget: (ref) => groups.target.readTarget(ref),
        gatherWindow: (input) => groups.metrics.gatherWindow(input),
        decidePolicy: (window) => groups.policy.decidePolicy(window),
        applyPolicy: (input) => groups.remediation.applyPolicy(input),
      };
      report = await whatIfPayloads(payloads, activities, { ...options, engine: describeEngine(groups.model) });
    } finally {
      await groups.close();
    }
  }
  print(deps, opts.json ? JSON.stringify(report, null, 2) : formatWhatIf(report));
  return report;
}

/** Adds `replay` to the `alerts` command group. */
export function registerReplayCommand(alerts: Command, deps: RemediationCliDeps): void {
  alerts
    .command('replay')
    .description(
      'what-if: run recorded Alertmanager webhook payloads through gather, infer and the guards with a ' +
        'server-side dry run, and print what Talon would do and why; changes nothing',
    )
    .argument('<file>', 'one payload, a JSON array of payloads, or newline-delimited JSON')
    .option('--model <path>', 'use this ONNX policy model instead of the configured one')
    .option('--max-attempts <n>', 'policies tried per alert, as the workflow bounds them', asArgument(checkAttempts))
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: AlertsReplayOptions) => {
      await alertsReplayAction(file, opts, deps);
    });
}
