/**
 * `talon lab run`: every scenario file given, each engine on its own identical copy (own namespaces, own KWOK
 * nodes, same demand and fault times), all copies of a scenario at the same time on the same stack; Talon
 * through its real path (Prometheus rule → Alertmanager → webhook → Temporal → worker → apiserver), the seed
 * orchestrator through its webhook, `none` with nobody listening. Writes report.md, report.json, one SVG per
 * scenario and every copy's timeline to the output folder; Ctrl-C stops and removes what it started.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { TalonClient } from '../../../src/client/talon-client';
import { loadStackConfig, stackEndpoints, type StackConfig } from '../../../src/config/local-stack';
import { loadTalonConfig } from '../../../src/config/talon-config';
import { DEFAULT_PROTECTED_NAMESPACES } from '../../../src/domain/guards';
import { createKubeClients } from '../../../src/kube/client';
import { loadKubeConfig } from '../../../src/kube/config';
import { PrometheusClient } from '../../../src/metrics/prometheus';
import { loadPolicyModel } from '../../../src/policy/model';
import { applyManifests, kubectl } from '../../stack/kube';
import { labTargetsDir } from '../../stack/prometheus';
import { missingBinaries, stackUp } from '../../stack/stack';
import type { TimelinePoint } from '../driver/driver';
import { isTalonEngine, LAB_LABELS, type CopyPlan, type Engine, type LabPlan } from '../plan';
import { loadScenarios } from '../scenario/load';
import type { Scenario } from '../scenario/model';
import { alertEpisodes, readTimeline, seedActivity, talonRemediations } from './collect';
import { copyManifests, planCopy, runId } from './manifests';
import { sloText, type RunReport, type ScenarioReport } from './report';
import { labPolicy } from './predictive';
import { predictiveWatchId } from '../../../src/contracts/predictive-watch';
import { scoreCopy, type CopyScore } from './score';
import { startSeedOrchestrator, type RunningSeed } from './seed';
import { freePort, startService, stopService, talonArgs, waitForHttp, waitForLine, type Service } from './services';
import { chaosSchedule, seededRandom, summariseChaos, type ChaosEvent, type ChaosStep } from './chaos';
import { copyNodesWaiting, misplacedPods } from './placement';
import { writeReportFiles } from './report-files';
import { scenarioSvg } from './svg';
import { temporalComponent } from '../../stack/temporal';
import { unwireRun, wireRun } from './wiring';

export interface LabRunOptions {
  readonly files: readonly string[];
  readonly engines: readonly Engine[];
  readonly repeat: number;
  readonly outDir: string;
  /** Scenarios run at the same time (each with every engine). */
  readonly parallel: number;
  /** Seconds the workloads run at their t = 0 demand before the scenario clock starts (history for the window). */
  readonly warmupSeconds: number;
  readonly command: string;
  readonly log: (line: string) => void;
  /** One status line, rewritten in place on a terminal. */
  readonly status: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** Disruptions per batch of scenarios (worker/webhook SIGKILL, Temporal restart), seeded. */
  readonly chaos?: { readonly perBatch: number; readonly seed: number };
}

/** A Talon process the run can kill and start again the same way. */
interface Restartable {
  service: Service;
  readonly name: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly readyUrl: string;
}

interface Item {
  readonly scenario: Scenario;
  readonly repeat: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mmss = (s: number): string => `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;

/** Overhead per batch besides the scenario itself: create, wait for ready pods, collect, delete (measured ≈ 30 s). */
const BATCH_OVERHEAD_SECONDS = 30;
const TAIL_SECONDS = 10;

class Aborted extends Error {
  override readonly name = 'Aborted';
}

async function writePlan(path: string, plan: LabPlan): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(plan));
  await rename(`${path}.tmp`, path);
}

/** Which copy still has fewer Ready pods than its scenario runs, among the run's listed pods, or undefined. */
function podsWaiting(pods: readonly V1Pod[], copies: readonly CopyPlan[]): string | undefined {
  for (const copy of copies) {
    const want = copy.scenario.workloads.reduce((a, w) => a + w.replicas, 0);
    const ready = pods.filter(
      (p) =>
        p.metadata?.labels?.[LAB_LABELS.copy] === copy.id &&
        !p.metadata.deletionTimestamp &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    if (ready < want) return `${copy.id}: ${ready}/${want} pods ready`;
  }
  return undefined;
}

/**
 * Polls `waiting` (a reason to wait, or undefined) every second until it clears; `show` gets each reason (and may
 * throw to stop the wait).
 */
async function waitUntil(
  what: string,
  timeoutMs: number,
  waiting: () => Promise<string | undefined>,
  show: (reason: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = await waiting();
    if (reason === undefined) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs / 1000} s (${reason})`);
    show(reason);
    await sleep(1000);
  }
}

async function lock(config: StackConfig): Promise<() => Promise<void>> {
  const path = join(config.stateDir, 'lab.lock');
  if (existsSync(path)) {
    const pid = Number((await readFile(path, 'utf8')).trim());
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      // stale lock
    }
    if (alive && pid !== process.pid)
      throw new Error(`another lab run (pid ${pid}) is using this stack (${config.stateDir}); wait for it or stop it`);
  }
  await writeFile(path, String(process.pid));
  return () => rm(path, { force: true });
}

/** The environment of the run's own Talon: its task queue, webhook port and protected namespaces. */
export function talonEnv(
  base: NodeJS.ProcessEnv,
  run: string,
  ports: { webhook: number; metrics: number },
  copies: readonly CopyPlan[],
): NodeJS.ProcessEnv {
  const protectedNs = copies
    .filter((c) => c.scenario.workloads.some((w) => w.namespace === 'protected'))
    .map((c) => c.namespaces.protected);
  return {
    ...base,
    TALON_TASK_QUEUE: `talon-lab-${run}`,
    TALON_WEBHOOK_HOST: '127.0.0.1',
    TALON_WEBHOOK_PORT: String(ports.webhook),
    TALON_WORKER_METRICS_HOST: '127.0.0.1',
    TALON_WORKER_METRICS_PORT: String(ports.metrics),
    TALON_WINDOW_STEP_SECONDS: '5',
    TALON_PROTECTED_NAMESPACES: [...DEFAULT_PROTECTED_NAMESPACES, ...protectedNs].join(','),
  };
}

export async function runLab(options: LabRunOptions): Promise<RunReport> {
  const { log, status } = options;
  const began = Date.now();
  const scenarios = loadScenarios(options.files);
  const env = options.env ?? process.env;
  const stack = loadStackConfig(env);
  const missing = missingBinaries(stack);
  if (missing.length > 0)
    throw new Error(`the local stack's tools are missing (${missing.join(', ')}): run \`talon setup\``);
  log('stack: starting what is not running');
  await stackUp(stack, (l) => log(`  ${l}`));
  const unlock = await lock(stack);

  const run = runId();
  const out = options.outDir;
  const timelineDir = join(out, 'timelines');
  const logDir = join(out, 'logs');
  await mkdir(timelineDir, { recursive: true });
  const planPath = join(out, 'plan.json');
  const items: Item[] = [];
  for (let r = 0; r < options.repeat; r++) for (const scenario of scenarios) items.push({ scenario, repeat: r });
  // Longest scenarios first, so each batch holds scenarios of similar length and none waits long for another.
  items.sort((a, b) => b.scenario.durationSeconds - a.scenario.durationSeconds);
  const batches: Item[][] = [];
  for (let i = 0; i < items.length; i += options.parallel) batches.push(items.slice(i, i + options.parallel));
  const runName = (it: Item) =>
    options.repeat > 1 ? `${it.scenario.name.slice(0, 20)}-r${it.repeat + 1}` : it.scenario.name;
  // Every copy is known now: Talon's protected namespaces are fixed when its worker starts.
  const allCopies = items.flatMap((it) =>
    options.engines.map((e) => planCopy(run, { ...it.scenario, name: runName(it) }, e, 0)),
  );
  log(
    `run ${run}: ${scenarios.length} scenario(s) × ${options.engines.length} engine(s) × ${options.repeat}, ${batches.length} batch(es) of up to ${options.parallel}; output ${out}`,
  );

  const kube = createKubeClients(
    loadKubeConfig({ kubeconfigPath: stackEndpoints(stack).kubeconfigPath, inCluster: false }),
  );
  const endpoints = stackEndpoints(stack);
  const prometheus = new PrometheusClient({ url: endpoints.prometheusUrl });
  const services: Service[] = [];
  let seed: RunningSeed | undefined;
  let client: TalonClient | undefined;
  let aborted = false;
  const onSignal = (): void => {
    if (aborted) return;
    aborted = true;
    log('\ninterrupted: stopping and removing what this run started (Ctrl-C again does not skip it)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const check = (): void => {
    if (aborted) throw new Aborted('interrupted');
  };

  const scenarioReports: ScenarioReport[] = [];
  const notes: string[] = [];
  const chaosEvents: ChaosEvent[] = [];
  const restartable = new Map<string, Restartable>();
  const random = seededRandom(options.chaos?.seed ?? 1);
  const report = (): RunReport => ({
    run,
    command: options.command,
    startedAt: new Date(began).toISOString(),
    wallSeconds: (Date.now() - began) / 1000,
    engines: options.engines,
    repeat: options.repeat,
    scenarios: scenarioReports,
    notes,
    ...(options.chaos
      ? { chaos: { ...options.chaos, events: chaosEvents, summary: summariseChaos(chaosEvents) } }
      : {}),
  });
  const writeReport = (): Promise<void> => writeReportFiles(out, report());

  /** Kills (or restarts) one component and starts it again; how long until it answered. */
  async function disrupt(step: ChaosStep): Promise<ChaosEvent> {
    const began = Date.now();
    try {
      if (step.kind === 'restart-temporal') {
        await temporalComponent.stop(stack);
        await temporalComponent.start(stack, () => undefined);
      } else {
        const r = restartable.get(step.kind === 'kill-worker' ? 'talon-worker' : 'talon-webhook')!;
        try {
          process.kill(-r.service.child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
        await r.service.exited;
        r.service = await startService(r.name, r.args, r.env, logDir);
        services.push(r.service);
        await waitForHttp(r.service, r.readyUrl, 120_000);
      }
      return { ...step, recoveredSeconds: (Date.now() - began) / 1000, ok: true };
    } catch (err) {
      return { ...step, recoveredSeconds: (Date.now() - began) / 1000, ok: false, detail: String(err) };
    }
  }

  try {
    await writePlan(planPath, { run, copies: [], timelineDir });
    status('starting the lab driver');
    const driver = await startService(
      'lab-driver',
      [join(__dirname, '..', 'driver', 'main.ts'), '--plan', planPath, '--targets-dir', labTargetsDir(stack)],
      env,
      logDir,
    );
    services.push(driver);
    await waitForLine(driver, /lab-driver (http:\/\/\S+)/, 60_000);

    const talonEngines = options.engines.filter((e) => isTalonEngine(e));
    let talonUrl: string | undefined;
    if (talonEngines.length > 0) {
      status('starting Talon (worker + webhook) on the run’s own task queue');
      const ports = { webhook: await freePort(), metrics: await freePort() };
      // One workflow bundle for the run: the worker starts (and restarts, under --chaos) without webpack.
      const bundle = join(out, 'workflow-bundle.js');
      const bundler = await startService(
        'bundle-workflows',
        talonArgs('bundle-workflows', '--out', bundle),
        env,
        logDir,
      );
      if ((await bundler.exited) !== 0) throw new Error(`bundling the workflows failed (see ${bundler.logPath})`);
      // talon-predictive: an operator policy file turning the predictive watch on for its copies.
      const policy = labPolicy(run, allCopies);
      const policyPath = join(out, 'talon-policy.yaml');
      if (policy) await writeFile(policyPath, policy);
      const tenv = {
        ...talonEnv(env, run, ports, allCopies),
        TALON_WORKFLOW_BUNDLE: bundle,
        ...(policy ? { TALON_POLICY_FILE: policyPath } : {}),
      };
      talonUrl = `http://127.0.0.1:${ports.webhook}`;
      const specs = [
        {
          name: 'talon-worker',
          args: talonArgs('worker'),
          env: tenv,
          readyUrl: `http://127.0.0.1:${ports.metrics}/readyz`,
        },
        { name: 'talon-webhook', args: talonArgs('webhook'), env: tenv, readyUrl: `${talonUrl}/readyz` },
      ];
      for (const spec of specs) {
        const service = await startService(spec.name, spec.args, spec.env, logDir);
        services.push(service);
        restartable.set(spec.name, { ...spec, service });
      }
      await Promise.all(specs.map((spec) => waitForHttp(restartable.get(spec.name)!.service, spec.readyUrl, 240_000)));
      client = await TalonClient.connect(loadTalonConfig(tenv).temporal);
    }
    if (options.engines.includes('seed-orchestrator')) {
      const config = loadTalonConfig(env);
      const model = await loadPolicyModel(config.modelPath).catch((err: unknown) => {
        notes.push(`seed-orchestrator: policy model unusable (${String(err)}); it decided with the rule thresholds`);
        return undefined;
      });
      seed = await startSeedOrchestrator({
        clients: kube,
        prometheus,
        ...(model ? { model } : {}),
        windowStepSeconds: 5,
        log: () => undefined,
      });
    }
    await wireRun(stack, run, allCopies, { ...(talonUrl ? { talonUrl } : {}), ...(seed ? { seedUrl: seed.url } : {}) });

    for (const [index, batch] of batches.entries()) {
      check();
      const batchBegan = Date.now();
      const names = batch.map((it) => runName(it));
      const prefix = `batch ${index + 1}/${batches.length} · ${names.join(', ')}`;
      const pending = allCopies.filter((c) => names.includes(c.scenario.name));
      status(`${prefix} · creating ${pending.length} copies`);
      const manifests = pending.flatMap((c) => copyManifests(run, c));
      const first = (m: Record<string, unknown>) => m.kind === 'Namespace' || m.kind === 'Node';
      // Nodes first, and usable, so that every copy's pods start where the scenario places them (placement.ts).
      await applyManifests(stack, manifests.filter(first));
      const show = (what: string) => (reason: string) => {
        check();
        status(`${prefix} · waiting for ${what} (${reason})`);
      };
      await waitUntil(
        'nodes',
        60_000,
        async () =>
          copyNodesWaiting((await kube.core.listNode({ labelSelector: `${LAB_LABELS.run}=${run}` })).items, pending),
        show('nodes'),
      );
      await applyManifests(
        stack,
        manifests.filter((m) => !first(m)),
      );
      // The last listing that found every pod Ready is the one whose placement is judged: no second read.
      let pods: V1Pod[] = [];
      await waitUntil(
        'pods',
        180_000,
        async () => {
          pods = (await kube.core.listPodForAllNamespaces({ labelSelector: `${LAB_LABELS.run}=${run}` })).items;
          return podsWaiting(pods, pending);
        },
        show('pods'),
      );
      for (const line of misplacedPods(pods, pending)) notes.push(`placement differs from the scenario: ${line}`);
      const startAt = Date.now() / 1000 + options.warmupSeconds;
      const copies = pending.map((c) => ({ ...c, startAt }));
      await writePlan(planPath, { run, copies, timelineDir });
      const longest = Math.max(...copies.map((c) => c.scenario.durationSeconds));
      const endAt = startAt + longest + TAIL_SECONDS;
      const later = batches
        .slice(index + 1)
        .reduce(
          (a, b) =>
            a +
            Math.max(...b.map((it) => it.scenario.durationSeconds)) +
            options.warmupSeconds +
            BATCH_OVERHEAD_SECONDS,
          0,
        );
      const chaos: ChaosStep[] =
        options.chaos && restartable.size > 0
          ? chaosSchedule(random, options.chaos.perBatch, startAt + 5, startAt + longest - 15)
          : [];
      while (Date.now() / 1000 < endAt) {
        check();
        if (chaos.length > 0 && chaos[0]!.at <= Date.now() / 1000) {
          const step = chaos.shift()!;
          status(`${prefix} · chaos: ${step.kind}`);
          chaosEvents.push(await disrupt(step));
          continue;
        }
        const now = Date.now() / 1000;
        const phase =
          now < startAt ? `warm-up ${Math.ceil(startAt - now)}s` : `running ${Math.floor(now - startAt)}/${longest}s`;
        status(
          `${prefix} · ${phase} · elapsed ${mmss((Date.now() - began) / 1000)} · remaining ~${mmss(endAt - now + later + 15)}`,
        );
        await sleep(1000);
      }
      status(`${prefix} · collecting`);
      for (const it of batch) {
        const name = runName(it);
        // `none` first: its timeline is the counterfactual the others' changes are judged against.
        const mine = copies
          .filter((c) => c.scenario.name === name)
          .sort((a, b) => Number(b.engine === 'none') - Number(a.engine === 'none'));
        let baseline: TimelinePoint[] | undefined;
        const scores: (CopyScore & { repeat: number })[] = [];
        const series = [];
        for (const copy of mine) {
          const timeline = await readTimeline(timelineDir, copy);
          const episodes = await alertEpisodes(prometheus, copy).catch((err: unknown) => {
            notes.push(`${copy.id}: alerts could not be read from Prometheus (${String(err)})`);
            return [];
          });
          let remediations;
          let receipts;
          if (isTalonEngine(copy.engine) && client) {
            remediations = await talonRemediations(client, copy);
          } else if (copy.engine === 'seed-orchestrator' && seed) {
            ({ remediations, receipts } = seedActivity(seed.records(), copy));
          }
          const input = {
            copy,
            episodes,
            ...(remediations ? { remediations } : {}),
            ...(receipts ? { receipts } : {}),
          };
          // What was collected, beside the timeline, so `talon lab rescore` can recompute the report offline.
          await mkdir(join(out, 'raw'), { recursive: true });
          await writeFile(join(out, 'raw', `${copy.id}.json`), JSON.stringify({ ...input, repeat: it.repeat }));
          const score = scoreCopy({ ...input, timeline, ...(baseline ? { baseline } : {}) });
          if (copy.engine === 'none') baseline = timeline;
          scores.push({ ...score, repeat: it.repeat });
          series.push({ engine: copy.engine, timeline, actions: score.actionLog, episodes, startAt: copy.startAt });
        }
        scores.sort(
          (a, b) => options.engines.indexOf(a.engine as Engine) - options.engines.indexOf(b.engine as Engine),
        );
        series.sort(
          (a, b) => options.engines.indexOf(a.engine as Engine) - options.engines.indexOf(b.engine as Engine),
        );
        const picture = `${name}.svg`;
        await writeFile(join(out, picture), scenarioSvg({ ...it.scenario, name }, series));
        const s = it.scenario;
        scenarioReports.push({
          name,
          scenario: s.name,
          source: relative(process.cwd(), s.source) || s.source,
          description: s.description,
          ...(s.expect ? { expect: s.expect } : {}),
          sloText: sloText(s),
          wallSeconds: (Date.now() - batchBegan) / 1000,
          copies: scores,
          picture,
        });
        log(
          `✓ ${name}: ${scores.map((c) => `${c.engine} SLO ${c.sloViolationSeconds}s, harmful ${c.harmfulActions}, lost ${c.alertsLost ?? '–'}`).join(' · ')}`,
        );
      }
      await writeReport();
      status(`${prefix} · removing its copies`);
      await writePlan(planPath, { run, copies: [], timelineDir });
      await deleteCopies(stack, run, pending);
    }
    return report();
  } catch (err) {
    if (err instanceof Aborted) notes.push('the run was interrupted; the report covers the scenarios that finished');
    else notes.push(`the run failed: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  } finally {
    status('cleaning up');
    await writeReport().catch(() => undefined);
    if (seed) {
      const lines = seed.records().map((r) => JSON.stringify(r));
      await mkdir(logDir, { recursive: true }).catch(() => undefined);
      await writeFile(join(logDir, 'seed-orchestrator.jsonl'), lines.length > 0 ? `${lines.join('\n')}\n` : '').catch(
        () => undefined,
      );
    }
    await seed?.stop().catch(() => undefined);
    // The run's predictive watch would go on ticking on a task queue nobody serves any more.
    if (client && options.engines.includes('talon-predictive'))
      await client.temporal.workflow
        .getHandle(predictiveWatchId(`talon-lab-${run}`))
        .terminate('lab run over')
        .catch(() => undefined);
    await client?.close().catch(() => undefined);
    for (const s of [...services].reverse()) await stopService(s).catch(() => undefined);
    await unwireRun(stack, run).catch((e: unknown) => log(`could not unwire: ${String(e)}`));
    await deleteCopies(stack, run).catch((e: unknown) => log(`could not delete the run's objects: ${String(e)}`));
    await unlock();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    status('');
  }
}

/** Deletes the copies' namespaces and nodes (every copy of the run when none are named). */
async function deleteCopies(stack: StackConfig, run: string, copies?: readonly CopyPlan[]): Promise<void> {
  const selector = copies ? `${LAB_LABELS.copy} in (${copies.map((c) => c.id).join(',')})` : `${LAB_LABELS.run}=${run}`;
  await kubectl(stack, ['delete', 'namespaces', '-l', selector, '--wait=false', '--ignore-not-found']);
  await kubectl(stack, ['delete', 'nodes', '-l', selector, '--wait=false', '--ignore-not-found']);
}
