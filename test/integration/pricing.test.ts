/**
 * Smart Pricing on the real local stack: an offer priced from the stack's Prometheus series (demand
 * history, allocatable capacity) and its Kubernetes nodes (tier mix, user-owned label); a bundle metered by
 * real task Jobs under KWOK until it cannot pay for another, then the next submission refused. What the
 * contract charged is checked against the Jobs themselves, read independently from the apiserver.
 */
import { randomBytes } from 'node:crypto';
import { BatchV1Api, PatchStrategy, setHeaderOptions, type V1Job } from '@kubernetes/client-node';
import { ContractClient, ContractRefusedError } from '../../src/client/pricing';
import { TalonClient } from '../../src/client/talon-client';
import { computeRequests, demandFromMetrics } from '../../src/domain/placement';
import type { ContractTerms } from '../../src/domain/pricing/metering';
import { selectAlgorithm } from '../../src/domain/selection';
import { PrometheusClient } from '../../src/metrics/prometheus';
import { DEFAULT_PRICING_CONFIG, USER_OWNED_LABEL } from '../../src/pricing/config';
import { keplerQueries } from '../../src/pricing/energy';
import { offerServiceFromConfig } from '../../src/pricing/service-factory';
import type { ContractStatus } from '../../src/contracts/pricing-contract';
import { taskIdLabelValue } from '../../src/contracts/deploy-task';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';
import { loadTalonConfig } from '../../src/config/talon-config';
import { createTalonWorker, type TalonWorker } from '../../workers/worker';
import {
  createLoadedDeployment,
  createNamespace,
  deleteNamespace,
  testKube,
  uniqueName,
  waitFor,
} from '../support/kube';

jest.setTimeout(300_000);

const config = loadTalonConfig({
  ...process.env,
  TALON_TASK_QUEUE: `talon-it-pricing-${randomBytes(4).toString('hex')}`,
});
const kube = testKube(config.kube.kubeconfigPath!);
const batch = kube.kc.makeApiClient(BatchV1Api);
const namespace = uniqueName('it-pricing');
const priorities = { quality: 70, energy: 30 };
const labelled: string[] = [];

let worker: TalonWorker;
let workerDone: Promise<void>;
let client: TalonClient;
let contracts: ContractClient;

async function setUserOwned(node: string, value: string | null): Promise<void> {
  await kube.core.patchNode(
    { name: node, body: { metadata: { labels: { [USER_OWNED_LABEL]: value } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

beforeAll(async () => {
  worker = await createTalonWorker(config, { shutdownGraceMs: 1_000 });
  workerDone = worker.run();
  client = await TalonClient.connect({ address: config.temporal.address, taskQueue: config.temporal.taskQueue });
  contracts = new ContractClient(client.temporal, config.temporal.taskQueue);
  await createNamespace(kube, namespace);
  // The edge nodes count as user-owned for this test: their work gets the incentive and is reported.
  const nodes = await kube.core.listNode({ labelSelector: 'talon.io/tier=edge' });
  for (const n of nodes.items) {
    await setUserOwned(n.metadata!.name!, 'true');
    labelled.push(n.metadata!.name!);
  }
});

afterAll(async () => {
  for (const n of labelled) await setUserOwned(n, null).catch(() => undefined);
  await deleteNamespace(kube, namespace);
  await client?.close();
  worker?.shutdown();
  await workerDone;
});

async function instant(promql: string): Promise<number | undefined> {
  const samples = await new PrometheusClient({ url: config.prometheusUrl }).query(promql);
  return samples[0]?.sample.v;
}

it('prices an offer from the stack’s Prometheus series and Kubernetes nodes', async () => {
  // Demand to price from: pods requesting 2 × 500m CPU, once Prometheus has scraped them.
  await createLoadedDeployment(kube, namespace, 'demand', { usageCpu: '300m', limitCpu: '500m', replicas: 2 });
  const mine = `sum(kube_pod_container_resource_requests{resource="cpu",namespace="${namespace}"})`;
  await waitFor(
    'Prometheus to see the requests',
    120_000,
    async () => ((await instant(mine)) === 1 ? true : undefined),
    2_000,
  );
  // Minute steps: the stack's Prometheus holds hours, not weeks.
  const pricing = { ...DEFAULT_PRICING_CONFIG, stepSeconds: 60, historySteps: 120, seasonSteps: 10, periodHours: 24 };
  const service = offerServiceFromConfig({ prometheusUrl: config.prometheusUrl, kube: config.kube, pricing });
  const { body, offer } = await service.offer({ kind: 'bundle', bundle: 'basic', applyDynamicDiscount: true });
  const ctx = await service.context();
  const report = ctx.built.report;
  process.stdout.write(`offer from the stack: ${JSON.stringify(body, null, 1)}\n`);
  expect(ctx.live).toBe(true);
  expect(report.historySteps).toBeGreaterThan(0);
  // Capacity is what Prometheus reports as allocatable.
  const cpu = await instant('sum(kube_node_status_allocatable{resource="cpu"})');
  expect(cpu).toBeGreaterThan(0);
  expect(report.capacity?.cpu).toBeCloseTo(cpu!, 6);
  // The latest history step is the cluster's demand now: at least the requests just created, at most capacity.
  const requested = (await instant('sum(kube_pod_container_resource_requests{resource="cpu"})')) ?? 0;
  const history = ctx.built.report;
  expect(requested).toBeGreaterThanOrEqual(1);
  expect(history.historyMean.cpu).toBeGreaterThan(0);
  expect(history.historyMean.cpu).toBeLessThanOrEqual(cpu! + 1e-9);
  expect(ctx.built.report.cpuForecast.length).toBe(24 * 60);
  // Energy: measured where the stack has Kepler series in the window (the incident lab's exporter writes them
  // while a lab runs on this stack, e.g. lab-smoke before this file), else the tier profiles mixed by the KWOK
  // nodes' allocatable CPU. Which one the stack has is read from Prometheus with the service's own query.
  const kepler = await instant(keplerQueries(pricing.energyWindow).cpuWatts);
  if (kepler === undefined) {
    expect(report.power.source).toBe('profiles');
    expect(report.power.detail).toMatch(/edge \d+ %/);
  } else {
    expect(report.power.source).toBe('kepler');
    expect(report.power.detail).toMatch(new RegExp(`^Kepler over ${pricing.energyWindow}: [0-9.]+ W`));
  }
  expect(
    ctx.nodes
      .filter((n) => n.userOwned)
      .map((n) => n.name)
      .sort(),
  ).toEqual([...labelled].sort());
  // The documents' fields, consistent with each other.
  expect(body['Bundle Discount (%)']).toBe(5);
  expect(offer.providerUtility).toBeCloseTo(offer.expectedRevenue - offer.electricityCost, 9);
  expect(offer.discounts.dynamicPercent).toBeLessThanOrEqual(20);
});

/** What the contract's Jobs used, read from the apiserver: requests × (completion − start), at least 1 s. */
function usageOf(jobs: readonly V1Job[]): { vcpuHours: number; gbHours: number; userOwnedVcpuHours: number } {
  let vcpuHours = 0;
  let gbHours = 0;
  let userOwnedVcpuHours = 0;
  for (const job of jobs) {
    const c = job.spec!.template.spec!.containers[0]!;
    const cpu = Number(String(c.resources!.requests!.cpu).replace(/m$/, '')) / 1000;
    const memory = Number(String(c.resources!.requests!.memory).replace(/Mi$/, '')) / 1024;
    const end =
      job.status?.completionTime ?? job.status?.conditions?.find((x) => x.type === 'Failed')?.lastTransitionTime;
    const seconds = Math.max(1, (new Date(end!).getTime() - new Date(job.status!.startTime!).getTime()) / 1000);
    vcpuHours += (cpu * seconds) / 3600;
    gbHours += (memory * seconds) / 3600;
    const node =
      job.spec!.template.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!
        .nodeSelectorTerms[0]!.matchFields![0]!.values![0]!;
    if (labelled.includes(node)) userOwnedVcpuHours += (cpu * seconds) / 3600;
  }
  return { vcpuHours, gbHours, userOwnedVcpuHours };
}

it('meters a bundle with real task Jobs until it cannot pay for another, then refuses', async () => {
  const taxonomy = await loadTaxonomy();
  const requests = computeRequests(demandFromMetrics(selectAlgorithm(taxonomy, 'interpolation', priorities).selected));
  const vcpus = requests.cpuMillicores / 1000;
  // A tiny bundle: twelve seconds of the task's vCPUs. Each run is billed at least one second.
  const terms: ContractTerms = {
    kind: 'bundle',
    bundle: 'basic',
    vcpuHours: (vcpus * 12) / 3600,
    ramGbHours: 1,
    maxSimultaneousVcpus: 2,
    pricePerVcpuHour: 0.08,
    pricePerGbHour: 0.009,
    userOwnedIncentivePercent: 15,
    minRunSeconds: 1,
    minBilledSeconds: 1,
  };
  const contract = await contracts.buy({ contractId: uniqueName('it-bundle'), terms, namespace });
  const submitted: string[] = [];
  let refusal: ContractRefusedError | undefined;
  for (let i = 0; i < 15 && !refusal; i++) {
    try {
      const s = await contract.submit({
        task: 'interpolation',
        priorities,
        settings: { maxAttempts: 1, runTimeoutSeconds: 5 },
      });
      expect(s.runTimeoutSeconds).toBeLessThanOrEqual(5);
      submitted.push(s.taskId);
      await waitFor('the task to be metered', 90_000, async () => {
        const st = await contract.status();
        return st.tasks.some((t) => t.taskId === s.taskId) ? st : undefined;
      });
    } catch (err) {
      if (!(err instanceof ContractRefusedError)) throw err;
      refusal = err;
    }
  }
  expect(refusal?.code).toBe('ContractExhausted');
  expect(submitted.length).toBeGreaterThanOrEqual(2);
  const status: ContractStatus = await contract.status();
  process.stdout.write(
    `bundle metered: ${JSON.stringify({ ...status, recentCharges: status.recentCharges.length }, null, 1)}\n`,
  );
  expect(status.refused).toBe(1);
  expect(status.running).toHaveLength(0);

  // Judge by effect: the Jobs Kubernetes ran for these tasks, each charged once.
  const jobs: V1Job[] = [];
  for (const id of submitted) {
    const list = await batch.listNamespacedJob({
      namespace,
      labelSelector: `talon.io/task-id=${taskIdLabelValue(id)}`,
    });
    jobs.push(...list.items);
  }
  expect(jobs.length).toBe(submitted.length);
  expect(status.jobsMetered).toBe(jobs.length);
  expect(new Set(status.recentCharges.map((c) => c.uid))).toEqual(new Set(jobs.map((j) => j.metadata!.uid)));
  const expected = usageOf(jobs);
  expect(status.used.vcpuHours).toBeCloseTo(expected.vcpuHours, 12);
  expect(status.used.gbHours).toBeCloseTo(expected.gbHours, 12);
  expect(status.userOwnedShare).toBeCloseTo(expected.userOwnedVcpuHours / expected.vcpuHours, 9);
  // Admission kept the debit within the bundle: every run's deadline was capped at what was left. Kubernetes
  // records Job times in whole seconds, so the last run may show one second more than its deadline.
  expect(status.charged.vcpuHours).toBeLessThanOrEqual(terms.vcpuHours! + vcpus / 3600 + 1e-12);
  await contract.close('test done');
  expect((await contract.result()).state).toBe('closed');
});
