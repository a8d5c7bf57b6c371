/** How the evictions came out: resolved only once the node's usage fell under the threshold. */
import type { RemediationOutcome } from '../../src/contracts/alert-episode';
import { pct, type EvictionRound, type NodeRun } from './run';

export function judge(run: NodeRun, list: readonly EvictionRound[]): { outcome: RemediationOutcome; reason: string } {
  const { node, settings } = run;
  const last = list.at(-1);
  const evictedNames = list.flatMap((r) => r.evicted ?? []);
  const usage = last?.cpuShare === undefined ? '' : ` at ${pct(last.cpuShare)} CPU`;
  if (run.cancelled) {
    const what = [
      ...(evictedNames.length ? [`evicting ${evictedNames.join(', ')}`] : []),
      ...(last?.blocked ? [last.blocked] : []),
    ];
    return { outcome: 'cancelled', reason: `cancelled${what.length ? ` after ${what.join('; ')}` : ''}` };
  }
  if (!last) return { outcome: 'needs_human', reason: `no evictable pod on ${node}` };
  if (last.relieved) {
    return {
      outcome: 'resolved',
      reason: `evicted ${evictedNames.join(', ')}; ${node}${usage}, under ${pct(settings.cpuThreshold)}`,
    };
  }
  if (settings.dryRun) return { outcome: 'no_action', reason: `dry run: would evict ${evictedNames.join(', ')}` };
  if (last.blocked) return { outcome: 'needs_human', reason: `${last.blocked}; ${node}${usage}` };
  if (last.unread) {
    return {
      outcome: 'needs_human',
      reason: `evicted ${evictedNames.join(', ')}; usage not verified: ${last.unread}`,
    };
  }
  const why =
    list.length >= settings.maxEvictions ? `at most ${settings.maxEvictions} evictions` : 'no evictable pod left';
  return {
    outcome: 'needs_human',
    reason: `${node} still${usage} (threshold ${pct(settings.cpuThreshold)}) after evicting ${evictedNames.join(', ')}; ${why}`,
  };
}
