/**
 * Endpoints of the local stack for integration tests, from the stack variables of the environment: under
 * `npm test` those of the test stack (test/support/test-stack.ts), which the runner starts; under a bare
 * `npx jest`, whatever stack the shell points at.
 */
import { loadStackConfig, stackEndpoints, type StackEndpoints } from '../../src/config/local-stack';

export function localStack(): StackEndpoints {
  return stackEndpoints(loadStackConfig(process.env));
}
