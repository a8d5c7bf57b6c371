import { loadTalonConfig } from './src/config/talon-config';
import { InfluxStore } from './src/metrics/influx';
import { readDecisionLog } from './src/metrics/decision-log';
(async () => {
  const c = loadTalonConfig(); const s = new InfluxStore(c.influx);
  const now = Date.now() / 1000;
  const r = await readDecisionLog(s, c.influx.bucket, { start: now - 1800, stop: now });
  for (const j of r.decisions) {
    const d = j.decision;
    console.log(d.namespace, d.pod, d.context?.attempt, d.context?.tried.join(','), 'greedy', d.choice?.greedy.policy, d.choice?.greedy.magnitude, 'took', d.choice?.policy, d.choice?.explored, d.choice?.propensity.toFixed(3), 'cost', j.cost?.toFixed(0), j.resolved, j.refired, j.unusable ?? '', d.champion.ranked.slice(0,3).map((x) => x.policy + ':' + x.score.toFixed(2)).join(' '), d.window.values[9]!.map((v) => v.toFixed(3)).join(','));
  }
  await s.close();
})();
