/**
 * The TALON documents' Rule 2 for an overloaded node: taint it NoSchedule, evict its heaviest pod, wait,
 * untaint. The untaint runs exactly once even if a worker dies during the wait or the workflow is
 * cancelled: the wait is a durable timer and the untaint sits in a non-cancellable scope.
 *
 * Judged by effect (issue 14, gap 7): during the untaint delay the node's CPU usage is read; the episode is
 * resolved only once it fell under the threshold, otherwise the next heaviest pod is evicted (bounded), and then a
 * person is called. An alert naming the node by address (node-exporter's `instance`) is mapped to its node.
 * Histories from before this evict once and end resolved (patch `talon-node-verify-v1`).
 *
 * Under the operator policy (workflows/operator.ts) the policy file decides first whether node_overload may run at
 * all, and how (observe, recommend, approve, the storm brake), its limits go with every write, and every decision
 * and change is noted (audit memo, Kubernetes Events on the node).
 *
 * Each step is one function of workflows/node-overload/: open the run, resolve an alerted address, guard, taint,
 * evict (until relieved, or once in older histories), untaint, judge, finish.
 */
import { CancellationScope } from '@temporalio/workflow';
import type { RemediationOutcome } from '../src/contracts/alert-episode';
import type { NodeOverloadInput, NodeOverloadResult } from '../src/contracts/node-overload';
import { SEARCH_ATTRIBUTES, upsertTalonSearchAttributes } from '../src/contracts/search-attributes';
import { alertKey } from '../src/domain/alert';
import { operatorLimits } from './operator';
import { evictOnceAndWait } from './node-overload/evict-once';
import { evictUntilRelieved } from './node-overload/evict-until-relieved';
import { finish } from './node-overload/finish';
import { guard } from './node-overload/guard';
import { judge } from './node-overload/judge';
import { openRun } from './node-overload/open-run';
import { resolveAddress } from './node-overload/resolve-address';
import type { EvictionRound } from './node-overload/run';
import { taint, untaint } from './node-overload/taint';

export async function nodeOverload(input: NodeOverloadInput): Promise<NodeOverloadResult> {
  const run = openRun(input);
  const { alert } = run;
  const unresolved = await resolveAddress(run);
  if (unresolved) return unresolved;
  upsertTalonSearchAttributes(
    { key: SEARCH_ATTRIBUTES.TalonAlertName, value: alertKey(alert.alertName) },
    { key: SEARCH_ATTRIBUTES.TalonTarget, value: `node/${run.node}` },
    { key: SEARCH_ATTRIBUTES.TalonKind, value: 'node' },
    { key: SEARCH_ATTRIBUTES.TalonPolicy, value: ['node_overload'] },
  );

  const stopped = await guard(run);
  if (stopped) return stopped;
  const limits = operatorLimits(run.operator);

  let reason = '';
  let rounds: EvictionRound[] | undefined;
  await taint(run, limits);
  try {
    if (run.verifying) rounds = await evictUntilRelieved(run, limits);
    else reason = await evictOnceAndWait(run, limits);
  } finally {
    await CancellationScope.nonCancellable(() => untaint(run, limits));
  }
  const judged: { outcome: RemediationOutcome; reason: string } = rounds
    ? judge(run, rounds)
    : { outcome: run.cancelled ? 'cancelled' : run.evicted || !run.firing ? 'resolved' : 'needs_human', reason };
  const finished = await finish(run, judged.outcome, judged.reason);
  const evictions = rounds?.flatMap((r) => r.evicted ?? []);
  const last = rounds?.at(-1);
  const { evicted, alertedAs } = run;
  return {
    ...finished,
    ...(evictions?.[0] ? { evicted: evictions[0] } : evicted ? { evicted } : {}),
    ...(evictions ? { evictions } : {}),
    ...(last?.cpuShare !== undefined ? { cpuShare: last.cpuShare } : {}),
    ...(alertedAs ? { alertedAs } : {}),
  };
}
