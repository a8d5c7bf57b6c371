/** Before usage verification (histories without NODE_VERIFY_PATCH): evict the heaviest pod once, wait, done. */
import { condition } from '@temporalio/workflow';
import { note } from '../operator';
import { kube } from './proxies';
import { operation, type NodeRun } from './run';
import type { Limits } from './taint';

/** What the eviction came to, in one line (the run's reason); the evicted pod is noted on the run. */
export async function evictOnceAndWait(run: NodeRun, limits: Limits): Promise<string> {
  const { node, settings } = run;
  const victim = await kube.heaviestPod.executeWithOptions(
    { startToCloseTimeout: '1m', summary: `find the heaviest pod on ${node}` },
    [{ node }],
  );
  let said: string;
  if (!victim) {
    said = `no evictable pod on ${node}`;
  } else {
    const name = `${victim.namespace}/${victim.pod}`;
    const eviction = await kube.evictPod.executeWithOptions(
      {
        startToCloseTimeout: '1m',
        summary: `evict ${name} (${victim.cpuCores.toFixed(2)} cores by ${victim.basis}) from ${node}`,
      },
      [
        {
          namespace: victim.namespace,
          pod: victim.pod,
          uid: victim.uid,
          operationId: operation(run, 'evict'),
          dryRun: settings.dryRun,
          ...limits,
        },
      ],
    );
    await note(run.operator, {
      attempt: 1,
      policy: 'node_overload',
      decision: eviction.outcome === 'blocked' ? 'refused' : 'applied',
      why: eviction.summary,
      reason: eviction.outcome === 'blocked' ? 'TalonChangeRefused' : 'TalonApplied',
      warning: eviction.outcome === 'blocked',
    });
    run.attempts.push({
      attempt: 1,
      policy: 'node_overload',
      magnitude: 1,
      summary: eviction.summary,
      applied: eviction.outcome === 'evicted',
      detail: eviction.blockedBy ?? eviction.outcome,
    });
    if (eviction.outcome === 'blocked')
      said = `eviction of ${name} blocked: ${eviction.blockedBy ?? 'PodDisruptionBudget'}`;
    else {
      run.evicted = name;
      said = `${eviction.outcome === 'dry-run' ? 'would evict' : 'evicted'} ${name}`;
    }
  }
  run.step = 'cooldown';
  // A durable timer: a worker restart during the wait resumes it, it does not restart it.
  await condition(() => run.cancelled, settings.untaintAfterSeconds * 1000, {
    summary: `keep ${node} tainted ${settings.untaintAfterSeconds}s so the evicted work lands elsewhere`,
  });
  return said;
}
