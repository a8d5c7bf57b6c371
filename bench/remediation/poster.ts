/**
 * The poster child plays Alertmanager: it posts a planned schedule of webhook payloads over pooled
 * keep-alive connections, times each answer from when it was due, and hands the rows back to the parent.
 * A separate process, so posting never competes with the webhook for the parent's event loop.
 */
import { randomBytes } from 'node:crypto';
import { writeFile, readFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { sleep } from '../support/async';
import type { Flags } from '../support/flags';
import { errText } from '../support/output';
import { forkRole } from './roles';

export interface PlannedRequest {
  /** Offset from the start of the run. */
  readonly atMs: number;
  readonly body: string;
  readonly alerts: number;
}

export interface PostResult {
  readonly index: number;
  readonly sentAt: number;
  readonly doneAt: number;
  /** HTTP status, or 0 when the connection failed or timed out. */
  readonly status: number;
  readonly accepted: number;
  /** Of the accepted, how many were acknowledged through the alert intake (action 'queued'). */
  readonly queued?: number;
  readonly error?: string;
}

type FromPoster = { type: 'ready' } | { type: 'results'; rows: PostResult[]; startedAt: number; cpuMs: number };
type ToPoster = { type: 'go' };

export interface PosterPlan {
  readonly url: string;
  readonly token: string;
  readonly timeoutMs: number;
  readonly requests: readonly PlannedRequest[];
  /** Connections the poster keeps to the webhook (default 512). */
  readonly maxSockets?: number;
  /** Bodies posted (untimed, 64 at a time) before the timed requests start. */
  readonly warmup?: readonly string[];
}

/** The poster child (Alertmanager's part): `poster --plan FILE`, posts on schedule once told to go. */
export async function posterChild(flags: Flags): Promise<void> {
  const plan = JSON.parse(await readFile(flags.get('plan')!, 'utf8')) as PosterPlan;
  await new Promise<void>((resolve) => {
    process.once('message', (message: ToPoster) => {
      if (message.type === 'go') resolve();
    });
    process.send?.({ type: 'ready' } satisfies FromPoster);
  });
  let startedAt = Date.now();
  let cpuAtStart = process.cpuUsage();
  const rows: PostResult[] = [];
  const inflight: Promise<void>[] = [];
  // node:http with a keep-alive pool, as Alertmanager's HTTP client pools connections; fetch (undici) cost
  // ≈ 1.4 ms of CPU per request here, which made the poster itself the bottleneck of a 1,000/s burst.
  const agent = new Agent({ keepAlive: true, maxSockets: plan.maxSockets ?? 512 });
  const url = new URL(plan.url);
  const send = (body: string): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          timeout: plan.timeoutMs,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${plan.token}`,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${plan.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  const post = async (request: PlannedRequest, index: number): Promise<void> => {
    // From when the request was due, so time spent waiting for a pooled connection counts too.
    const sentAt = startedAt + request.atMs;
    try {
      const res = await send(request.body);
      const text = res.text;
      let accepted = 0;
      let queued = 0;
      if (res.status >= 200 && res.status < 300) {
        try {
          const list = (JSON.parse(text) as { accepted?: { action?: string }[] }).accepted ?? [];
          accepted = list.length;
          queued = list.filter((a) => a.action === 'queued').length;
        } catch {
          accepted = 0;
        }
      }
      rows.push({ index, sentAt, doneAt: Date.now(), status: res.status, accepted, queued });
    } catch (err) {
      rows.push({ index, sentAt, doneAt: Date.now(), status: 0, accepted: 0, error: errText(err).slice(0, 120) });
    }
  };
  if (plan.warmup && plan.warmup.length > 0) {
    // Untimed: opens the pooled connections and warms the webhook's code paths, as a running Alertmanager
    // and webhook would be before a storm.
    let w = 0;
    const warmup = plan.warmup;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (w < warmup.length) await send(warmup[w++]!).catch(() => undefined);
      }),
    );
    startedAt = Date.now();
    cpuAtStart = process.cpuUsage();
  }
  let next = 0;
  const lastAt = plan.requests.at(-1)?.atMs ?? 0;
  const deadline = startedAt + lastAt + 60_000;
  while (next < plan.requests.length && Date.now() < deadline) {
    const due = Date.now() - startedAt;
    while (next < plan.requests.length && plan.requests[next]!.atMs <= due) {
      inflight.push(post(plan.requests[next]!, next));
      next++;
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  const cpu = process.cpuUsage(cpuAtStart);
  // Exit only once the (large) results message is flushed down the IPC channel.
  await new Promise<void>((resolve) => {
    const message: FromPoster = { type: 'results', rows, startedAt, cpuMs: (cpu.user + cpu.system) / 1000 };
    // send() returns false when the message is merely queued (a large one is): wait for its callback.
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
  process.disconnect?.();
}

export async function runPoster(
  workDir: string,
  plan: PosterPlan,
): Promise<{ rows: PostResult[]; startedAt: number; cpuMs: number }> {
  const planPath = join(workDir, `plan-${randomBytes(3).toString('hex')}.json`);
  await writeFile(planPath, JSON.stringify(plan));
  const handle = forkRole<ToPoster>('poster', ['--plan', planPath], process.env);
  try {
    await handle.next<{ type: 'ready' }>('ready', 60_000);
    const results = handle.next<{ type: 'results'; rows: PostResult[]; startedAt: number; cpuMs: number }>(
      'results',
      (plan.requests.at(-1)?.atMs ?? 0) + plan.timeoutMs + 120_000,
    );
    handle.send({ type: 'go' });
    const { rows, startedAt, cpuMs } = await results;
    return { rows, startedAt, cpuMs };
  } finally {
    await handle.exited(10_000);
  }
}

export function httpSummary(rows: readonly PostResult[]): string {
  const byStatus = new Map<string, number>();
  for (const r of rows) {
    const key = r.status === 0 ? `conn-error(${r.error ?? '?'})` : String(r.status);
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  return [...byStatus.entries()].map(([s, n]) => `${s}×${n}`).join(', ');
}
