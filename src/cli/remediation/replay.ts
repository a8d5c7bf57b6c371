/** `talon alerts replay <file>`: what-if over recorded notifications, every change a server-side dry run. */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DEFAULT_REMEDIATION_SETTINGS } from '../../contracts/remediate-alert';
import { loadTalonConfig } from '../../config/talon-config';
import type { ModelStatus } from '../../policy/model-status';
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
 * Runs recorded notifications through the worker's own activities (`deps.whatIf`, which the entry point wires to
 * the worker's activity groups built from the same configuration), with every change a server-side dry run.
 * `activities` replaces them in tests.
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
    if (!deps.whatIf) {
      throw new CliError("alerts replay needs the worker's activities: run it through `talon` (bin/talon)");
    }
    const config = deps.config ?? loadTalonConfig();
    const live = await deps.whatIf(config, opts.model ? { model: opts.model } : {});
    try {
      report = await whatIfPayloads(payloads, live.activities, { ...options, engine: live.engine });
    } finally {
      await live.close();
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
