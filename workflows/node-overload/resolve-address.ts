/** An alert naming the node by address (node-exporter's `instance`) is mapped to its node before anything else. */
import { isIpAddress } from '../../src/domain/alert';
import type { NodeOverloadResult } from '../../src/contracts/node-overload';
import { finish } from './finish';
import { target } from './proxies';
import type { NodeRun } from './run';

/** Undefined when the run goes on (the node is known); the finished result when no node has the address. */
export async function resolveAddress(run: NodeRun): Promise<NodeOverloadResult | undefined> {
  const { node } = run;
  if (!(run.verifying && isIpAddress(node))) return undefined;
  run.step = 'gather';
  const resolved = await target.resolveNode
    .executeWithOptions({ summary: `find the node whose address is ${node}` }, [{ node }])
    .catch(() => undefined);
  if (!resolved) return finish(run, 'needs_human', `no node is named ${node} or has it as an address`);
  run.alertedAs = node;
  run.node = resolved.node;
  // The Events of the operator policy go on the node, not on its address.
  if (run.operator) run.operator.target = { kind: 'Node', name: run.node };
  return undefined;
}
