/**
 * The bench's workflows: one prebuilt bundle for its worker children, a client whose remediations park in
 * cool-down, and every run's workflows ended after it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TalonClient } from '../../src/client/talon-client';
import type { CooldownConfig } from '../../src/domain/cooldown';
import { bundleWorkflows } from '../../workers/bundle';
import { mapLimit, sleep } from '../support/async';
import { out } from '../support/output';

export async function bundleToFile(workDir: string): Promise<string> {
  const t = Date.now();
  const bundle = await bundleWorkflows();
  const path = join(workDir, 'workflows-bundle.js');
  await writeFile(path, bundle.code);
  out(`  workflow bundle built once in ${((Date.now() - t) / 1000).toFixed(1)} s (${path})`);
  return path;
}

/** Terminates the given workflows, then anything still running on the queue; bounded in time. */
export async function terminateAll(temporal: Client, queue: string, ids: readonly string[]): Promise<void> {
  const t = Date.now();
  const deadline = t + 600_000;
  let terminated = 0;
  const kill = async (id: string): Promise<void> => {
    if (Date.now() > deadline) return;
    try {
      await temporal.workflow.getHandle(id).terminate('bench finished');
      terminated++;
    } catch {
      // already closed or never started
    }
  };
  await mapLimit(ids, 48, kill);
  for (let round = 0; round < 5 && Date.now() < deadline; round++) {
    const left: string[] = [];
    for await (const wf of temporal.workflow.list({
      query: `TaskQueue = "${queue}" AND ExecutionStatus = "Running"`,
      pageSize: 1000,
    })) {
      left.push(wf.workflowId);
      if (left.length >= 20_000) break;
    }
    if (left.length === 0) break;
    await mapLimit(left, 48, kill);
    await sleep(2_000);
  }
  out(`  terminated ${terminated} bench workflows on ${queue} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

/** An hour's cool-down: a remediation that applied stays parked (a durable timer) until the bench ends it. */
const LONG_COOLDOWN: CooldownConfig = { defaultSeconds: 3600, minSeconds: 3600, maxSeconds: 3600, historyFactor: 1 };

/** A client whose remediations park in cool-down after their change, as a storm's would. */
export function connectParking(address: string, queue: string): Promise<TalonClient> {
  return TalonClient.connect({ address, taskQueue: queue, settings: { remediation: { cooldown: LONG_COOLDOWN } } });
}
