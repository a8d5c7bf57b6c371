/** What every remediation command is given: where its output goes and which configuration it uses. */
import type { TalonConfig } from '../../config/talon-config';

export interface RemediationCliIo {
  readonly out: (text: string) => void;
}

export interface RemediationCliDeps {
  readonly io?: RemediationCliIo;
  /** Defaults to the process environment's configuration. */
  readonly config?: TalonConfig;
}

const processIo: RemediationCliIo = { out: (text) => process.stdout.write(`${text}\n`) };

/** Prints one command's answer to the injected output, or to stdout. */
export function print(deps: RemediationCliDeps, text: string): void {
  (deps.io ?? processIo).out(text);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
