/** Evicts the heaviest pod, watches the node's usage through the untaint delay, and again while still over. */
import { note } from '../operator';
import { kube } from './proxies';
import { operation, type EvictionRound, type NodeRun } from './run';
import type { Limits } from './taint';
import { watchUsage } from './watch-usage';

export async function evictUntilRelieved(run: NodeRun, limits: Limits): Promise<EvictionRound[]> {
  const { node, settings } = run;
  const done: EvictionRound[] = [];
  for (let n = 1; n <= settings.maxEvictions && !run.cancelled; n++) {
    run.step = 'apply';
    const victim = await kube.heaviestPod.executeWithOptions(
      { startToCloseTimeout: '1m', summary: `find the heaviest pod on ${node}` },
      [{ node }],
    );
    if (!victim) break;
    const name = `${victim.namespace}/${victim.pod}`;
    const eviction = await kube.evictPod.executeWithOptions(
      {
        startToCloseTimeout: '1m',
        summary: `evict ${name} (${victim.cpuCores.toFixed(2)} cores by ${victim.basis}) from ${node} (${n} of at most ${settings.maxEvictions})`,
      },
      [
        {
          namespace: victim.namespace,
          pod: victim.pod,
          uid: victim.uid,
          operationId: operation(run, `evict-${n}`),
          dryRun: settings.dryRun,
          ...limits,
        },
      ],
    );
    await note(run.operator, {
      attempt: n,
      policy: 'node_overload',
      decision: eviction.outcome === 'blocked' ? 'refused' : 'applied',
      why: eviction.summary,
      reason: eviction.outcome === 'blocked' ? 'TalonChangeRefused' : 'TalonApplied',
      warning: eviction.outcome === 'blocked',
    });
    run.attempts.push({
      attempt: n,
      policy: 'node_overload',
      magnitude: 1,
      summary: eviction.summary,
      applied: eviction.outcome === 'evicted',
      detail: eviction.blockedBy ?? eviction.outcome,
    });
    if (eviction.outcome === 'dry-run') {
      done.push({ evicted: name, relieved: false, unread: 'dry run: nothing was evicted' });
      break;
    }
    const blocked = eviction.outcome === 'blocked' ? (eviction.blockedBy ?? 'PodDisruptionBudget') : undefined;
    const watched = await watchUsage(run);
    done.push({
      ...(blocked ? { blocked: `eviction of ${name} blocked: ${blocked}` } : { evicted: name }),
      ...watched,
    });
    // A blocked eviction would pick the same pod again: a person decides what may go.
    if (watched.relieved || blocked) break;
  }
  return done;
}
