/** The commands' one way to Temporal: connect with the CLI's configuration, run, always close. */
import { TalonClient } from '../client/talon-client';
import type { TalonConfig } from '../config/talon-config';
import { resolveIdentity } from '../config/identity';
import { CliError, errorMessage } from './errors';

/** Runs `fn` with a connected client and closes it afterwards; an unreachable server is a CliError. */
export async function withTalonClient<T>(config: TalonConfig, fn: (talon: TalonClient) => Promise<T>): Promise<T> {
  let talon: TalonClient;
  try {
    // The CLI says who it is (TALON_IDENTITY, the mTLS subject, or user@host): approvals are checked against it.
    talon = await TalonClient.connect({ ...config.temporal, identity: resolveIdentity(config) });
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${config.temporal.address}: ${errorMessage(err)}`, err);
  }
  try {
    return await fn(talon);
  } finally {
    await talon.close();
  }
}
