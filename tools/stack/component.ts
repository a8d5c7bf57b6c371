/** The shape every local-stack component shares, so `up`, `down` and `status` treat them alike. */
import type { StackConfig } from '../../src/config/local-stack';

export interface ComponentHealth {
  readonly name: string;
  readonly healthy: boolean;
  readonly url: string;
  readonly detail: string;
}

export interface StackComponent {
  readonly name: string;
  /** Ports it listens on; checked before start so a busy port is a clear error, not a crash log. */
  ports(config: StackConfig): readonly number[];
  /** Starts it (when not already running) and waits until it is healthy. */
  start(config: StackConfig, log: (line: string) => void): Promise<void>;
  /** Stops what `start` started; returns whether anything was running. */
  stop(config: StackConfig): Promise<boolean>;
  /** Whether Talon's record of this component points at a live process. */
  isRunning(config: StackConfig): Promise<boolean>;
  health(config: StackConfig): Promise<ComponentHealth>;
}

export async function probeHttp(
  url: string,
  accept: (status: number) => boolean = (s) => s < 300,
): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return accept(response.status) ? undefined : `HTTP ${response.status}`;
  } catch (err) {
    return (err as Error).message;
  }
}
