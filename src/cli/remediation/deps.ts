/** What every remediation command is given: where its output goes and which configuration it uses. */
import type { TalonConfig } from '../../config/talon-config';
import type { WhatIfActivities } from '../alerts-replay';

export interface RemediationCliIo {
  readonly out: (text: string) => void;
}

export interface RemediationCliDeps {
  readonly io?: RemediationCliIo;
  /** Defaults to the process environment's configuration. */
  readonly config?: TalonConfig;
  /**
   * The worker's own activities for `alerts replay`, assembled from a configuration. Passed in by the entry
   * point (workers/main.ts), since src/ never imports workers/.
   */
  readonly whatIf?: WhatIfFactory;
}

/** The worker's activities as `alerts replay` runs them (every change a dry run), and which engine decides. */
export interface WhatIfEngine {
  readonly activities: WhatIfActivities;
  /** One line: the ONNX model (path, version) or the rules and why. */
  readonly engine: string;
  close(): Promise<void>;
}

export type WhatIfFactory = (config: TalonConfig, options: { readonly model?: string }) => Promise<WhatIfEngine>;

const processIo: RemediationCliIo = { out: (text) => process.stdout.write(`${text}\n`) };

/** Prints one command's answer to the injected output, or to stdout. */
export function print(deps: RemediationCliDeps, text: string): void {
  (deps.io ?? processIo).out(text);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
