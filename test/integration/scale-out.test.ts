/**
 * Scale-out on a production-shaped Temporal: PostgreSQL 15 + the full temporal-server 1.29.1 (harness
 * test/support/temporal-postgres.ts), three Talon worker processes on one task queue with stubbed
 * cluster calls. Remediations spread across all three (worker identities in the histories), and
 * killing two of them mid-run (one SIGKILL, one SIGTERM that drains) loses nothing: every workflow
 * completes, on the survivor where needed.
 */
import { Client, Connection } from '@temporalio/client';
import type { RemediateAlertResult } from '../../src/contracts/remediate-alert';
import { registerNamespace, startPostgresTemporal, type PostgresTemporal } from '../support/temporal-postgres';
import {
  activityIdentities,
  startFleet,
  stopFleet,
  submitRemediations,
  writeWorkflowBundle,
  type FleetWorker,
} from '../support/worker-fleet';

jest.setTimeout(240_000);

let temporal: PostgresTemporal;
let connection: Connection;
let client: Client;
let bundle: { path: string; cleanup(): Promise<void> };
const fleets: FleetWorker[][] = [];

beforeAll(async () => {
  [temporal, bundle] = await Promise.all([startPostgresTemporal(), writeWorkflowBundle()]);
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection, namespace: temporal.namespace });
});

afterAll(async () => {
  for (const fleet of fleets) await stopFleet(fleet, 5_000);
  await connection?.close();
  await temporal?.stop();
  await bundle?.cleanup();
});

it('the namespace Job script is idempotent and registered all of Talon’s search attributes', async () => {
  const again = await registerNamespace(temporal.address, temporal.namespace);
  expect(again).toMatch(/namespace talon exists/);
  const { customAttributes } = await connection.operatorService.listSearchAttributes({
    namespace: temporal.namespace,
  });
  expect(
    Object.keys(customAttributes ?? {})
      .filter((k) => k.startsWith('Talon'))
      .sort(),
  ).toEqual(['TalonAlertName', 'TalonKind', 'TalonNamespace', 'TalonOutcome', 'TalonPolicy', 'TalonTarget']);
});

it('three workers share the task queue: remediations spread across all of them, two of three die, nothing is lost', async () => {
  const taskQueue = `scale-out-${Date.now()}`;
  const fleet = await startFleet({
    address: temporal.address,
    namespace: temporal.namespace,
    taskQueue,
    count: 3,
    bundlePath: bundle.path,
    applyMs: 1_500,
    shutdownGraceSeconds: 20,
  });
  fleets.push(fleet);
  expect(new Set(fleet.map((w) => w.identity)).size).toBe(3);

  // Phase 1: every worker takes part.
  const first = await submitRemediations(client, taskQueue, 24);
  const firstResults = await Promise.all(
    first.workflowIds.map((id) => client.workflow.getHandle(id).result() as Promise<RemediateAlertResult>),
  );
  expect(firstResults.every((r) => r.outcome === 'needs_human')).toBe(true);
  const used = new Map<string, number>();
  for (const id of first.workflowIds) {
    for (const identity of await activityIdentities(client, id)) used.set(identity, (used.get(identity) ?? 0) + 1);
  }
  for (const w of fleet) expect(used.get(w.identity) ?? 0).toBeGreaterThan(0);

  // Phase 2: kill two of three while cluster changes are in flight.
  const second = await submitRemediations(client, taskQueue, 30);
  await new Promise((r) => setTimeout(r, 1_000));
  const [crashed, drained, survivor] = fleet as [FleetWorker, FleetWorker, FleetWorker];
  crashed.process.kill('SIGKILL');
  drained.process.kill('SIGTERM');
  const drainedExit = await drained.exited;
  // A clean drain: in-flight activities finished, the process exited 0 by itself.
  expect(drainedExit).toEqual({ code: 0, signal: null });
  expect(drained.output()).toMatch(/drained/);
  expect(await crashed.exited).toEqual({ code: null, signal: 'SIGKILL' });

  const secondResults = await Promise.all(
    second.workflowIds.map((id) => client.workflow.getHandle(id).result() as Promise<RemediateAlertResult>),
  );
  expect(secondResults).toHaveLength(30);
  expect(secondResults.every((r) => r.outcome === 'needs_human')).toBe(true);
  // Each remediation applied exactly one policy, even those whose worker died under it.
  expect(secondResults.every((r) => r.attempts.length === 1 && r.attempts[0]!.applied)).toBe(true);
  const survivorRan = await Promise.all(second.workflowIds.map((id) => activityIdentities(client, id)));
  expect(survivorRan.some((ids) => ids.includes(survivor.identity))).toBe(true);
  expect(survivor.process.exitCode).toBeNull();
});
