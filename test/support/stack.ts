/** Endpoints of the local stack for integration tests; the stack must already be up (the test runner does it). */
import { loadStackConfig, stackEndpoints, type StackEndpoints } from '../../src/config/local-stack';

export function localStack(): StackEndpoints {
  return stackEndpoints(loadStackConfig(process.env));
}
