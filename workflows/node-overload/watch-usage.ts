/**
 * The untaint delay, reading the node's CPU share every `checkEverySeconds` until it is under the threshold
 * (then the rest of the delay passes without reads: the evicted work must land elsewhere first).
 */
import { condition } from '@temporalio/workflow';
import { metrics } from './proxies';
import { pct, type EvictionRound, type NodeRun } from './run';

export async function watchUsage(run: NodeRun): Promise<Omit<EvictionRound, 'evicted' | 'blocked'>> {
  const { node, settings } = run;
  run.step = 'cooldown';
  const end = Date.now() + settings.untaintAfterSeconds * 1000;
  let cpuShare: number | undefined;
  let unread: string | undefined;
  let relieved = false;
  for (let left = end - Date.now(); left > 0 && !run.cancelled; left = end - Date.now()) {
    const wait = relieved ? left : Math.min(left, settings.checkEverySeconds * 1000);
    await condition(() => run.cancelled, wait, {
      summary: relieved
        ? `keep ${node} tainted until the untaint delay ends (usage already under ${pct(settings.cpuThreshold)})`
        : `keep ${node} tainted; read its usage in ${Math.round(wait / 1000)}s`,
    });
    if (relieved || run.cancelled) continue;
    run.step = 'verify';
    const loads = await metrics.rankNodes
      .executeWithOptions({ summary: `read the CPU usage of ${node}` }, [{}])
      .catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
    run.step = 'cooldown';
    const share = typeof loads === 'string' ? undefined : loads.find((l) => l.node === node)?.cpuShare;
    unread = typeof loads === 'string' ? loads : share === undefined ? `Prometheus has no usage of ${node}` : undefined;
    if (share !== undefined) cpuShare = share;
    relieved = share !== undefined && share < settings.cpuThreshold;
  }
  return { relieved, ...(cpuShare === undefined ? {} : { cpuShare }), ...(unread && !relieved ? { unread } : {}) };
}
