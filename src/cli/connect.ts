/** The commands' one way to Temporal: connect with the CLI's configuration, run, always close. */
import { TalonClient } from '../client/talon-client';
import type { TalonConfig } from '../config/talon-config';
import { CliError, errorMessage } from './errors';

/** Runs `fn` with a connected client and closes it afterwards; an unreachable server is a CliError. */
export async function withTalonClient<T>(config: TalonConfig, fn: (talon: TalonClient) => Promise<T>): Promise<T> {
  let talon: TalonClient;
  try {
    talon = await TalonClient.connect(config.temporal);
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${config.temporal.address}: ${errorMessage(err)}`, err);
  }
  try {
    return await fn(talon);
  } finally {
    await talon.close();
  }
}
