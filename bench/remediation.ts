/**
 * Issue 5's figures, printed: `npx tsx bench/remediation.ts [latency|burst|rss] [--flag value ...]`.
 *
 * - latency: webhook receipt → the apiserver acknowledged the change (the applyPolicy activity's write
 *   returned), p50/p99, at `--rate` alerts/s for `--duration` s, on one Deployment per alert in bench
 *   namespaces of the KWOK cluster, next to a naive synchronous handler (receive → Prometheus → rule
 *   policy → patch, no Temporal) measured in the same run on its own Deployments.
 * - burst: `--alerts` alerts in `--seconds` s posted over HTTP to the webhook (`--batch` alerts per
 *   Alertmanager payload): every one answered 2xx or 5xx, the webhook's ack p99, the time until every
 *   accepted alert has its workflow (visibility count), then Alertmanager-style retries of the 5xx ones.
 * - rss: `--workflows` remediations parked in cool-down on a worker with stubbed activities; the worker
 *   process's RSS.
 *
 * Flags: latency `--rate 50 --duration 60 --warmup 60 --drain 180 --per-namespace 10 --naive false --stub`;
 * burst `--alerts 10000 --seconds 10 --batch 1 --worker during|after|false --warmup 0`; rss `--workflows 1000`; every mode `--port 18080`
 * and the worker what-ifs `--max-cached N --wft-pollers N --nonsticky-ratio R --autoscale-pollers` (passed to
 * createTalonWorker's `tuning`). Each mode ends with a table (measure | value | goal) and the load average
 * sampled during the run: the machine is shared, so read every figure next to it.
 *
 * Three processes, as in production: this one hosts the webhook (or the naive handler) and orchestrates;
 * a forked child runs the Temporal worker (real activities for latency, stubs for burst and rss); another
 * forked child plays Alertmanager and posts the alerts. Everything uses a fresh task queue `bench-<id>`,
 * port 18080 (not the stack's 8080), and is cleaned up at the end, on failure and on Ctrl-C.
 *
 * This file dispatches; each measurement is a module of bench/remediation/ (latency.ts, burst.ts, rss.ts,
 * with the worker and poster children in worker.ts and poster.ts), on the shared support of bench/support/.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { burst } from './remediation/burst';
import { latency } from './remediation/latency';
import { posterChild } from './remediation/poster';
import { rss } from './remediation/rss';
import { workerChild } from './remediation/worker';
import { cleanupDepth, cleanupOnInterrupt, cleanupTo, onCleanup, runCleanups } from './support/cleanup';
import { parseFlags, type Flags } from './support/flags';
import { out } from './support/output';

const MEASUREMENTS: Readonly<Record<string, (flags: Flags, workDir: string) => Promise<void>>> = {
  latency,
  burst,
  rss,
};

const USAGE = `usage: npx tsx bench/remediation.ts [latency|burst|rss] [--flag value ...]   (no measurement: all three)
  latency  --rate 50 --duration 60 --warmup 60 --drain 180 --per-namespace 10 --naive false --stub
  burst    --alerts 10000 --seconds 10 --batch 1 --worker during|after|false --warmup 0
  rss      --workflows 1000
  every    --port 18080; worker what-ifs --max-cached N --wft-pollers N --nonsticky-ratio R --autoscale-pollers
Short runs (stubbed activities, no cluster objects; a minute or two each, the workflow bundle included):
  npx tsx bench/remediation.ts latency --stub --rate 5 --duration 5 --drain 30
  npx tsx bench/remediation.ts burst --alerts 200 --seconds 2
  npx tsx bench/remediation.ts rss --workflows 50`;

async function main(): Promise<void> {
  const [mode = '', ...rest] = process.argv.slice(2);
  const flags = parseFlags(rest);
  if (mode === 'worker') return workerChild(flags);
  if (mode === 'poster') return posterChild(flags);
  if (mode === '--help' || mode === '-h' || mode === 'help') return out(USAGE);
  const modes = mode ? [mode] : Object.keys(MEASUREMENTS);
  for (const m of modes) {
    if (!MEASUREMENTS[m]) throw new Error(`unknown measurement ${m}: latency|burst|rss`);
  }
  const workDir = join(tmpdir(), `talon-bench-${randomBytes(3).toString('hex')}`);
  await mkdir(workDir, { recursive: true });
  onCleanup(() => rm(workDir, { recursive: true, force: true }));
  try {
    for (const m of modes) {
      const depth = cleanupDepth();
      try {
        await MEASUREMENTS[m]!(flags, workDir);
      } finally {
        await cleanupTo(depth);
      }
    }
  } finally {
    await runCleanups();
  }
}

cleanupOnInterrupt();
main().then(
  () => process.exit(process.exitCode ?? 0),
  async (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await runCleanups();
    process.exit(1);
  },
);
