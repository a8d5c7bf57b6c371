/**
 * Burst: `--alerts` alerts in `--seconds` s posted over HTTP to the webhook (`--batch` alerts per
 * Alertmanager payload): every one answered 2xx or 5xx, the webhook's ack p99, the time until every
 * accepted alert has its workflow (visibility count), then Alertmanager-style retries of the 5xx ones.
 * Activities are stubbed: nothing is created in Kubernetes.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { TalonMetrics } from '../../src/observability/metrics';
import { startWebhookServer } from '../../src/webhook/server';
import { loadTalonConfig } from '../../src/config/talon-config';
import { mapLimit, sleep } from '../support/async';
import { onCleanup } from '../support/cleanup';
import { numberFlag, type Flags } from '../support/flags';
import { cpuReport, cpuSnapshot, LoadSampler, loadLine } from '../support/machine';
import { out, table, type TableRow } from '../support/output';
import { percentile } from '../support/stats';
import { payloadOf, rawPodAlert, workflowIdOf, type RawAlert } from './alerts';
import { dist, ms, p5099 } from './format';
import { httpSummary, runPoster, type PosterPlan, type PostResult } from './poster';
import { startWorker, tuningArgs, type WorkerHandle } from './worker';
import { bundleToFile, connectParking, terminateAll } from './workflows';

export async function burst(flags: Flags, workDir: string): Promise<void> {
  const total = numberFlag(flags, 'alerts', 10_000, 1, 100_000);
  const seconds = numberFlag(flags, 'seconds', 10, 1, 600);
  const batch = numberFlag(flags, 'batch', 1, 1, 1000);
  const port = numberFlag(flags, 'port', 18080, 1024, 65535);
  // during (default): the stubbed worker runs while alerts arrive; after: it starts once every post is answered
  // (the webhook's acks measured without the fan-out competing for the same cores); false: no worker.
  const workerFlag = flags.get('worker') ?? 'during';
  if (!['during', 'after', 'false'].includes(workerFlag)) throw new Error('--worker during|after|false');
  const withWorker = workerFlag !== 'false';
  const id = randomBytes(3).toString('hex');
  const queue = `bench-${id}`;
  const requests = Math.ceil(total / batch);
  const load = new LoadSampler();
  const summary: TableRow[] = [];
  out(
    `\n== burst: ${total} alerts in ${seconds} s over HTTP, ${batch} alert(s) per Alertmanager payload ` +
      `(${requests} requests, ${(requests / seconds).toFixed(0)}/s), queue ${queue}`,
  );
  out(`  ${loadLine()}`);
  const config = loadTalonConfig({ ...process.env, TALON_TASK_QUEUE: queue });
  const client = await connectParking(config.temporal.address, queue);
  const labels = new Map<number, string>([[process.pid, 'bench(webhook)']]);
  let worker: WorkerHandle | undefined;
  const bundlePath = withWorker ? await bundleToFile(workDir) : undefined;
  const launchWorker = async (): Promise<void> => {
    const tuning = tuningArgs(flags);
    if (tuning.note) out(`  ${tuning.note}`);
    worker = await startWorker(bundlePath!, queue, 'stub', process.env, tuning.args);
    labels.set(worker.pid, 'bench(worker)');
  };
  if (workerFlag === 'during') await launchWorker();
  // Every intake write, timed where the webhook makes it.
  const writes: { alerts: number; ms: number }[] = [];
  const queueAlerts = client.queueAlerts.bind(client);
  client.queueAlerts = async (shard, alerts, deadline) => {
    const t0 = performance.now();
    await queueAlerts(shard, alerts, deadline);
    writes.push({ alerts: alerts.length, ms: performance.now() - t0 });
  };
  // Distinct pods of distinct workloads (`p17`, not `p-17`, which is a StatefulSet ordinal of `p`: alerts of one
  // workload join one remediation), 100 per namespace; nothing is created in Kubernetes: activities are stubs.
  const raws = Array.from({ length: total }, (_, i) => rawPodAlert(`bench-${id}-${Math.floor(i / 100)}`, `p${i}`));
  const ids = raws.map(workflowIdOf);
  onCleanup(async () => {
    await terminateAll(client.temporal, queue, ids);
    await worker?.stop();
    await client.close();
  });
  const token = randomBytes(16).toString('hex');
  // The admission bound and timeouts come from the environment, so a run can try other bounds.
  const webhook = await startWebhookServer(
    client,
    new TalonMetrics({ defaultMetrics: false }),
    {
      host: '127.0.0.1',
      port,
      auth: { bearerToken: token },
      bodyLimit: '1mb',
      handoffTimeoutMs: config.webhook.handoffTimeoutMs,
      maxInflightAlerts: config.webhook.maxInflightAlerts,
      overloadRetryAfterSeconds: config.webhook.overloadRetryAfterSeconds,
      intake: config.webhook.intake,
    },
    client,
  );
  // Server side: request arrived (headers parsed) → response finished, per answered request.
  const serverSide: number[] = [];
  webhook.server.on('request', (_req, res: ServerResponse) => {
    const t0 = performance.now();
    res.on('finish', () => serverSide.push(performance.now() - t0));
  });
  const intake = config.webhook.intake;
  out(
    `  webhook: at most ${config.webhook.maxInflightAlerts} alerts in flight (TALON_WEBHOOK_MAX_INFLIGHT_ALERTS), ` +
      `hand-off timeout ${config.webhook.handoffTimeoutMs} ms; alert intake ${intake.mode} ` +
      `(TALON_WEBHOOK_INTAKE; ${intake.shards} shards, batches ≤ ${intake.maxBatch}, ≤ ${intake.maxPending} pending)`,
  );
  const url = `http://127.0.0.1:${port}/api/alerts`;
  const chunks: RawAlert[][] = [];
  for (let i = 0; i < total; i += batch) chunks.push(raws.slice(i, i + batch));
  // Warm-up: resolved notifications for alerts nothing remediates (answered `no-workflow`: no side effect).
  const warmupCount = numberFlag(flags, 'warmup', 0, 0, 100_000);
  if (warmupCount > 0) out(`  warm-up: ${warmupCount} resolved notifications (no workflow) before the timed burst`);
  const warmup = Array.from({ length: warmupCount }, (_, i) =>
    JSON.stringify(payloadOf([{ ...rawPodAlert(`bench-${id}-warmup`, `w${i}`), status: 'resolved' }])),
  );
  const plan: PosterPlan = {
    url,
    token,
    timeoutMs: 30_000,
    ...(warmup.length > 0 ? { warmup } : {}),
    requests: chunks.map((c, i) => ({
      atMs: Math.round((i * seconds * 1000) / chunks.length),
      body: JSON.stringify(payloadOf(c)),
      alerts: c.length,
    })),
  };
  try {
    const c0 = await cpuSnapshot();
    const { rows, startedAt, cpuMs } = await runPoster(workDir, plan);
    const postedMs = Date.now() - startedAt;
    const cpu = cpuReport(c0, await cpuSnapshot(), postedMs, labels, { 'bench(poster)': cpuMs / 1000 });
    const ok = rows.filter((r) => r.status >= 200 && r.status < 300);
    const serverErr = rows.filter((r) => r.status >= 500);
    const connErr = rows.filter((r) => r.status === 0);
    const other = rows.filter((r) => r.status !== 0 && (r.status < 200 || (r.status >= 300 && r.status < 500)));
    const alertsIn = (list: readonly PostResult[]): number =>
      list.reduce((s, r) => s + plan.requests[r.index]!.alerts, 0);
    const acceptedAlerts = ok.reduce((s, r) => s + r.accepted, 0);
    const queuedAlerts = ok.reduce((s, r) => s + (r.queued ?? 0), 0);
    const lastAck = Math.max(...rows.map((r) => r.doneAt));
    out(`  webhook server side (request parsed → answer sent): ${dist(serverSide)}`);
    if (writes.length > 0) {
      const sizes = writes.map((w) => w.alerts);
      out(
        `  intake: ${writes.length} writes for ${sizes.reduce((a, b) => a + b, 0)} alerts ` +
          `(batch mean ${(sizes.reduce((a, b) => a + b, 0) / writes.length).toFixed(1)}, max ${Math.max(...sizes)}); ` +
          `write ${dist(writes.map((w) => w.ms))}`,
      );
    }
    if (workerFlag === 'after') {
      out('  every post answered: starting the stubbed worker now (--worker after)');
      await launchWorker();
    }
    out(`  posted ${rows.length}/${requests} requests in ${(postedMs / 1000).toFixed(1)} s; ${loadLine()}`);
    out(
      `  answers: 2xx ${ok.length} (${acceptedAlerts} alerts accepted), 5xx ${serverErr.length} (${alertsIn(serverErr)} alerts), ` +
        `connection errors ${connErr.length} (${alertsIn(connErr)} alerts), other ${other.length}; ` +
        `unanswered ${requests - rows.length}`,
    );
    out(
      `  accounted for: ${acceptedAlerts + alertsIn(serverErr) + alertsIn(connErr) + alertsIn(other)}/${total} alerts (${httpSummary(rows)})`,
    );
    out(`  webhook ack (request sent → answer), all answers: ${dist(rows.map((r) => r.doneAt - r.sentAt))}`);
    out(`  webhook ack, 2xx only: ${dist(ok.map((r) => r.doneAt - r.sentAt))}   (goal p99 ≤ 100 ms)`);
    const viaIntake = ok.filter((r) => (r.queued ?? 0) === r.accepted);
    const direct = ok.filter((r) => (r.queued ?? 0) === 0);
    out(`    of which answered after the intake write: ${dist(viaIntake.map((r) => r.doneAt - r.sentAt))}`);
    out(
      `    of which handed directly (before the storm window opened): ${dist(direct.map((r) => r.doneAt - r.sentAt))}`,
    );
    const firstSecond = ok.filter((r) => plan.requests[r.index]!.atMs < 1_000);
    out(`    of which due in the first second: ${dist(firstSecond.map((r) => r.doneAt - r.sentAt))}`);
    const ackOf = (r: PostResult): number => r.doneAt - r.sentAt;
    // Per alert: each alert waits for its payload's answer.
    const perAlert = (list: readonly PostResult[]): number[] =>
      list.flatMap((r) => Array.from({ length: plan.requests[r.index]!.alerts }, () => ackOf(r)));
    const accounted = acceptedAlerts + alertsIn(serverErr);
    const ackP99 = percentile(ok.map(ackOf), 99);
    summary.push(
      [`payloads posted (${batch} alert(s) each)`, `${rows.length}/${requests} in ${(postedMs / 1000).toFixed(1)} s`],
      [
        'payloads answered 2xx / 5xx / conn-error / other',
        `${ok.length} / ${serverErr.length} / ${connErr.length} / ${other.length}`,
      ],
      ['alerts accepted (2xx) / answered 5xx', `${acceptedAlerts} / ${alertsIn(serverErr)}`],
      [
        'of the accepted: handed directly / through the alert intake',
        `${acceptedAlerts - queuedAlerts} / ${queuedAlerts}`,
      ],
      [
        'alerts lost (neither 2xx nor 5xx)',
        String(total - accounted),
        `0: ${total - accounted === 0 ? 'met' : 'MISSED'}`,
      ],
      [
        'webhook ack per payload, 2xx, p50 / p99',
        `${ms(percentile(ok.map(ackOf), 50))} / ${ms(ackP99)}`,
        `p99 ≤ 100 ms: ${ackP99 <= 100 ? 'met' : 'MISSED'}`,
      ],
      ['webhook ack per payload, all answers, p50 / p99', p5099(rows.map(ackOf))],
      ['webhook ack per alert, 2xx, p50 / p99', p5099(perAlert(ok))],
      ['accepted alerts per second (2xx)', (acceptedAlerts / (postedMs / 1000)).toFixed(0)],
    );
    out(`  ${cpu}`);

    // Every accepted alert has its workflow: the visibility count catches up with what was acknowledged.
    const started = async (): Promise<number> =>
      (await client.temporal.workflow.count(`TaskQueue = "${queue}" AND WorkflowType = "remediateAlert"`)).count;
    const running = async (): Promise<number> =>
      (await client.temporal.workflow.count(`TaskQueue = "${queue}" AND TalonAlertName = "TalonPodCpuNearLimit"`))
        .count;
    let visibleAt: number | undefined;
    let pickedAt: number | undefined;
    let visible = 0;
    let picked = 0;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && (visibleAt === undefined || (withWorker && pickedAt === undefined))) {
      visible = await started().catch(() => visible);
      if (visibleAt === undefined && visible >= acceptedAlerts) visibleAt = Date.now();
      if (withWorker) {
        picked = await running().catch(() => picked);
        if (pickedAt === undefined && picked >= acceptedAlerts) pickedAt = Date.now();
      }
      await sleep(500);
    }
    const since = (at: number | undefined): string =>
      at === undefined
        ? 'not within 300 s'
        : `${((at - startedAt) / 1000).toFixed(1)} s after the first post, ${((at - lastAck) / 1000).toFixed(1)} s after the last answer`;
    out(
      `  every accepted alert has its workflow (visibility count ${visible} ≥ ${acceptedAlerts}): ${since(visibleAt)}`,
    );
    if (withWorker)
      out(`  accepted workflows picked up by the stubbed worker (first task done, ${picked}): ${since(pickedAt)}`);
    summary.push([
      'all 2xx-accepted alerts have their workflow (visibility count)',
      visibleAt === undefined
        ? 'not within 300 s'
        : `${((visibleAt - startedAt) / 1000).toFixed(1)} s after the first post`,
    ]);

    // What Alertmanager does next: retry the 5xx and failed requests after Retry-After, until all are in.
    const retry = [...serverErr, ...connErr].map((r) => plan.requests[r.index]!);
    const retried = retry.length;
    const retryUntil = Date.now() + 180_000;
    for (let round = 1; round <= 5 && retry.length > 0 && Date.now() < retryUntil; round++) {
      await sleep(5_000);
      const results = await mapLimit(retry, 32, async (req) => {
        if (Date.now() > retryUntil) return false;
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: req.body,
            signal: AbortSignal.timeout(30_000),
          });
          await res.text();
          return res.ok;
        } catch {
          return false;
        }
      });
      const left = retry.filter((_, i) => !results[i]);
      out(`  retry round ${round} (after Retry-After 5 s): ${retry.length - left.length}/${retry.length} accepted`);
      retry.splice(0, retry.length, ...left);
    }
    let allAt: number | undefined;
    const allDeadline = Date.now() + 120_000;
    while (Date.now() < allDeadline) {
      visible = await started().catch(() => visible);
      if (visible >= total) {
        allAt = Date.now();
        break;
      }
      await sleep(1_000);
    }
    summary.push([
      `all ${total} alerts have their workflow (after retrying ${retried} payloads)`,
      allAt === undefined
        ? `not within 120 s of the retries (${visible}/${total})`
        : `${((allAt - startedAt) / 1000).toFixed(1)} s after the first post`,
    ]);
    const finalCount = await started().catch(() => NaN);
    out(`  after retries: ${finalCount} workflows on the queue for ${total} distinct alerts`);
    if (worker) {
      const m = await worker.memory().catch(() => undefined);
      if (m)
        out(
          `  stubbed worker child: RSS ${(m.rss / 2 ** 20).toFixed(0)} MiB (peak ${(m.hwmKiB / 1024).toFixed(0)} MiB)`,
        );
    }
    summary.push(['after Alertmanager-style retries: workflows for the alerts', `${finalCount}/${total}`]);
  } finally {
    await webhook.close();
  }
  summary.push(['load during the run', load.stop()]);
  table(`burst, ${total} alerts in ${seconds} s, ${batch} per payload`, summary);
}
