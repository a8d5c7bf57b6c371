/**
 * Throughput of remediation workflows (completed per second) with 1, 2 and 3 Talon worker processes,
 * against Temporal on PostgreSQL (temporal-server 1.29.1 + PostgreSQL 15, started here) and against the
 * SQLite dev server of the running local stack (fresh task queue), in one run. Cluster calls are stubbed
 * (test/support/stub-activities.ts); each remediation runs the real workflow: read, gather, decide,
 * apply, verify, a 1 s cool-down, needs_human. CPU seconds per process group over each measured window
 * show where the time goes.
 *   npm run bench:scale-out            (BENCH_WORKFLOWS=60 per measurement by default)
 */
import { cpus, loadavg } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { loadStackConfig, stackEndpoints } from '../src/config/local-stack';
import { readDaemon } from '../tools/stack/processes';
import { startPostgresTemporal } from '../test/support/temporal-postgres';
import {
  startFleet,
  stopFleet,
  submitRemediations,
  writeWorkflowBundle,
  type FleetWorker,
} from '../test/support/worker-fleet';
import { CLOCK_TICKS, processIds, readProcStat } from './support/machine';
import { out, runMain } from './support/output';

const WORKFLOWS = Number(process.env.BENCH_WORKFLOWS ?? '60');
const WORKER_COUNTS = [1, 2, 3];
/** A measurement that has not finished by then is cut: what completed counts, the rest is terminated. */
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_SECONDS ?? '300') * 1000;

/** utime+stime in seconds of a pid and, optionally, of its direct children (PostgreSQL backends). */
async function cpuSeconds(pid: number, withChildren = false): Promise<number> {
  let ticks = (await readProcStat(pid))?.cpuTicks ?? 0;
  if (withChildren) {
    for (const child of await processIds()) {
      const s = await readProcStat(child);
      if (s && s.ppid === pid) ticks += s.cpuTicks;
    }
  }
  return ticks / CLOCK_TICKS;
}

interface Backend {
  readonly name: string;
  readonly address: string;
  readonly namespace: string;
  readonly serverPid?: number;
  readonly postgresPid?: number;
}

interface Row {
  backend: string;
  workers: number;
  seconds: number;
  perSecond: number;
  completed: number;
  cpu: { workers: number; server: number; postgres: number };
}

async function measure(backend: Backend, count: number, bundlePath: string): Promise<Row> {
  const taskQueue = `bench-scale-out-${count}-${Date.now()}`;
  const connection = await Connection.connect({ address: backend.address });
  const client = new Client({ connection, namespace: backend.namespace });
  let fleet: FleetWorker[] = [];
  try {
    fleet = await startFleet({ address: backend.address, namespace: backend.namespace, taskQueue, count, bundlePath });
    // Warm-up: worker caches, sticky queues, server-side task queue partitions.
    const warm = await submitRemediations(client, taskQueue, 6);
    await Promise.all(warm.workflowIds.map((id) => client.workflow.getHandle(id).result()));

    const cpu = async () => ({
      workers: (await Promise.all(fleet.map((w) => cpuSeconds(w.process.pid!)))).reduce((a, b) => a + b, 0),
      server: backend.serverPid ? await cpuSeconds(backend.serverPid) : 0,
      postgres: backend.postgresPid ? await cpuSeconds(backend.postgresPid, true) : 0,
    });
    const before = await cpu();
    const started = performance.now();
    const { workflowIds } = await submitRemediations(client, taskQueue, WORKFLOWS);
    let completed = 0;
    const all = Promise.all(
      workflowIds.map((id) =>
        client.workflow
          .getHandle(id)
          .result()
          .then(() => (completed += 1)),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      all.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    const seconds = (performance.now() - started) / 1000;
    if (!finished) {
      // Leave nothing running on a shared server.
      await Promise.all(
        workflowIds.map((id) =>
          client.workflow
            .getHandle(id)
            .terminate('bench measurement timed out')
            .catch(() => undefined),
        ),
      );
    }
    const after = await cpu();
    return {
      backend: backend.name,
      workers: count,
      seconds,
      perSecond: completed / seconds,
      completed,
      cpu: {
        workers: after.workers - before.workers,
        server: after.server - before.server,
        postgres: after.postgres - before.postgres,
      },
    };
  } finally {
    await stopFleet(fleet, 10_000);
    await connection.close();
  }
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

async function main(): Promise<void> {
  const stack = loadStackConfig(process.env);
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
  out(`scale-out benchmark: ${WORKFLOWS} remediations per measurement, ${cpus().length} cores, load average ${load()}`);
  out('starting PostgreSQL 15 + temporal-server 1.29.1 …');
  const [pg, bundle] = await Promise.all([startPostgresTemporal({ log: out }), writeWorkflowBundle()]);
  const devRecord = await readDaemon(stack.stateDir, 'temporal');
  const backends: Backend[] = [
    {
      name: 'postgres',
      address: pg.address,
      namespace: pg.namespace,
      serverPid: pg.pids.server,
      postgresPid: pg.pids.postgres,
    },
    {
      name: 'sqlite-dev',
      address: stackEndpoints(stack).temporalAddress,
      namespace: 'default',
      ...(devRecord ? { serverPid: devRecord.pid } : {}),
    },
  ];
  const rows: Row[] = [];
  try {
    for (const backend of backends) {
      for (const count of WORKER_COUNTS) {
        const row = await measure(backend, count, bundle.path);
        rows.push(row);
        const cut = row.completed < WORKFLOWS ? `, cut after ${TIMEOUT_MS / 1000} s with ${row.completed} done` : '';
        out(`  ${backend.name} × ${count} worker(s): ${row.perSecond.toFixed(2)} wf/s${cut} (load average ${load()})`);
      }
    }
  } finally {
    await pg.stop();
    await bundle.cleanup();
  }

  out('');
  out(
    `${pad('backend', 12)}${pad('workers', 9)}${pad('wall s', 9)}${pad('wf/s', 8)}${pad('vs 1', 7)}` +
      `${pad('cpu-s workers', 15)}${pad('cpu-s server', 14)}${pad('cpu-s postgres', 16)}${pad('cpu-s/wf', 10)}cores busy`,
  );
  for (const r of rows) {
    const one = rows.find((x) => x.backend === r.backend && x.workers === 1)!;
    const busy = (r.cpu.workers + r.cpu.server + r.cpu.postgres) / r.seconds;
    out(
      `${pad(r.backend, 12)}${pad(String(r.workers), 9)}${pad(r.seconds.toFixed(1), 9)}${pad(r.perSecond.toFixed(2), 8)}` +
        `${pad(`${(r.perSecond / one.perSecond).toFixed(2)}×`, 7)}${pad(r.cpu.workers.toFixed(1), 15)}` +
        `${pad(r.cpu.server.toFixed(1), 14)}${pad(backends[0]!.name === r.backend ? r.cpu.postgres.toFixed(1) : '-', 16)}` +
        `${pad(costPerWorkflow(r).total.toFixed(2), 10)}` +
        `${busy.toFixed(2)} of ${cpus().length}`,
    );
  }
  out('');
  out('sqlite-dev is the shared local stack: its server CPU includes whatever else uses it during the window.');
  out(interpretation(rows));
}

/** CPU seconds the remediations cost per workflow, and the throughput that cost allows on this machine. */
function costPerWorkflow(r: Row): { total: number; ceiling: number } {
  const total = (r.cpu.workers + r.cpu.server + r.cpu.postgres) / Math.max(1, r.completed);
  return { total, ceiling: cpus().length / total };
}

function interpretation(rows: readonly Row[]): string {
  const at = (b: string, n: number) => rows.find((r) => r.backend === b && r.workers === n)!;
  const pg = rows.filter((r) => r.backend === 'postgres');
  const pgGain = at('postgres', 3).perSecond / at('postgres', 1).perSecond;
  const devGain = at('sqlite-dev', 3).perSecond / at('sqlite-dev', 1).perSecond;
  const sum = (f: (r: Row) => number) => pg.reduce((a, r) => a + f(r), 0);
  const total = sum((r) => r.cpu.workers + r.cpu.server + r.cpu.postgres);
  const share = (x: number) => `${Math.round((100 * x) / total)}%`;
  const cost = sum((r) => costPerWorkflow(r).total) / pg.length;
  const busy = sum((r) => (r.cpu.workers + r.cpu.server + r.cpu.postgres) / r.seconds) / pg.length;
  return (
    `Interpretation: 3 workers vs 1 give ${pgGain.toFixed(2)}× on PostgreSQL and ${devGain.toFixed(2)}× on SQLite, ` +
    `because the bottleneck is CPU, not workers: a remediation costs ${cost.toFixed(2)} CPU-s on PostgreSQL ` +
    `(${share(sum((r) => r.cpu.server))} temporal-server, ${share(sum((r) => r.cpu.postgres))} PostgreSQL, ` +
    `${share(sum((r) => r.cpu.workers))} workers), so ${cpus().length} dedicated cores would cap at ` +
    `${(cpus().length / cost).toFixed(1)} wf/s whatever the worker count, and this run got only ${busy.toFixed(2)} ` +
    `cores on average (load average ${loadavg()[2]!.toFixed(1)} from other work on the machine).`
  );
}

runMain(main);
