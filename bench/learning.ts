/**
 * What learning from real outcomes costs (docs/LEARNING.md), with the shipped models:
 *
 *   npx tsx bench/learning.ts [--iterations 2000] [--decisions 1000] [--retrain-decisions 200] [--skip-retrain]
 *
 * 1. One decision through the function the policy activity calls (src/policy/shadow.ts): the champion alone,
 *    with the decision log, and with the log and a shadow challenger (both ONNX, decided concurrently).
 * 2. Off-policy evaluation of a challenger on a synthetic log of --decisions (ε = 0.1; logged by the shipped
 *    model, costs that favour memory_scale_up): wall time, ESS, claim.
 * 3. `retrain --from-log` at its default sizes on a log of --retrain-decisions: wall and CPU time.
 * 4. A registry promotion seen by a following worker slot: read, load, validate, swap.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { memoryDecisionLog } from '../src/metrics/decision-log';
import { CircuitBreaker, createPolicyEngine } from '../src/policy/breaker';
import { loadPolicyModel } from '../src/policy/model';
import { promoteVersion, registerModel } from '../src/policy/model-registry';
import { followRegistry, ModelSlot } from '../src/policy/model-slot';
import { createRulePolicy, ruleConfig } from '../src/policy/rules';
import { createLoggedDecide } from '../src/policy/shadow';
import { modelEngine } from '../training/evaluation';
import { featureWindowOfLog } from '../training/log-data';
import { DEFAULT_OPE_OPTIONS, evaluateFromLog } from '../training/off-policy';
import { DEFAULT_RETRAIN_OPTIONS, retrainFromLog } from '../training/retrain';
import { syntheticLog } from '../test/support/decision-logs';
import { out, runMain, table } from './support/output';
import { percentile } from './support/stats';

const SERVED = 'models/policy.onnx';
const SEED1 = 'models/seeds/seed-1/policy.onnx';

function count(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '2000' },
      decisions: { type: 'string', default: '1000' },
      'retrain-decisions': { type: 'string', default: '200' },
      'skip-retrain': { type: 'boolean', default: false },
    },
  });
  const iterations = count('iterations', values.iterations);
  const decisions = count('decisions', values.decisions);
  const retrainDecisions = count('retrain-decisions', values['retrain-decisions']);

  const champion = await loadPolicyModel(SERVED);
  const challenger = await loadPolicyModel(SEED1);
  const log = await syntheticLog({
    decisions,
    epsilon: 0.1,
    seed: 7,
    champion,
    cost: { memory_scale_up: 30, cpu_scale_up: 330, data_offloading: 600 },
  });
  const windows = log.map(featureWindowOfLog);
  const context = { alertName: 'TalonPodCpuNearLimit', resource: 'cpu', tried: [], attempt: 1 };

  // 1. Decision latency.
  const engine = createPolicyEngine({
    model: champion,
    rules: createRulePolicy(ruleConfig()),
    breaker: new CircuitBreaker(),
  });
  const variants = {
    'champion only (no log)': createLoggedDecide({ engine }),
    'champion + decision log': createLoggedDecide({ engine, log: memoryDecisionLog() }),
    'champion + log + shadow challenger': createLoggedDecide({ engine, log: memoryDecisionLog(), shadow: challenger }),
  };
  const rows: [string, string][] = [];
  for (const [name, decide] of Object.entries(variants)) {
    const ms: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const started = process.hrtime.bigint();
      await decide(windows[i % windows.length]!, context, { workflowId: 'bench', runId: 'r', decisionId: String(i) });
      ms.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    rows.push([name, `p50 ${percentile(ms, 50).toFixed(3)} ms, p99 ${percentile(ms, 99).toFixed(3)} ms`]);
  }
  table(`one decision (${iterations} windows, batch 1, onnxruntime 1 thread)`, rows);

  // 2. Off-policy evaluation.
  const opeStarted = Date.now();
  const cpuBefore = process.cpuUsage();
  const report = await evaluateFromLog(
    log,
    modelEngine('seed-1', 'seed-1', challenger, ruleConfig()),
    modelEngine('served', 'served', champion, ruleConfig()),
    DEFAULT_OPE_OPTIONS,
  );
  const cpu = process.cpuUsage(cpuBefore);
  table(`off-policy evaluation (${decisions} logged decisions, ε = 0.1, 2,000 bootstrap resamples)`, [
    ['wall time', `${((Date.now() - opeStarted) / 1000).toFixed(2)} s`],
    ['CPU time', `${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`],
    ['ESS challenger / champion', `${report.challenger.ess.toFixed(1)} / ${report.champion.ess.toFixed(1)}`],
    [
      'DR challenger − champion',
      `${report.difference.dr.estimate.toFixed(1)} s [${report.difference.dr.low.toFixed(1)}, ${report.difference.dr.high.toFixed(1)}]`,
    ],
    ['claim', report.claim.made ? 'made' : `none: ${report.claim.reasons.join('; ')}`],
  ]);

  // 3. Retraining at its default sizes.
  const dir = await mkdtemp(join(tmpdir(), 'talon-bench-learning-'));
  try {
    if (!values['skip-retrain']) {
      const cpuRetrain = process.cpuUsage();
      const r = await retrainFromLog({
        ...DEFAULT_RETRAIN_OPTIONS,
        championPath: SERVED,
        log: log.slice(0, retrainDecisions),
        outDir: join(dir, 'retrained'),
        logDescription: 'bench: synthetic',
      });
      const used = process.cpuUsage(cpuRetrain);
      table(
        `retrain --from-log, default sizes (${DEFAULT_RETRAIN_OPTIONS.simSamples} simulated + ${retrainDecisions} logged × ${DEFAULT_RETRAIN_OPTIONS.logWeight}, ${DEFAULT_RETRAIN_OPTIONS.epochs} epochs)`,
        [
          ['wall time (all: data, training, export, checks)', `${r.totalSeconds.toFixed(1)} s`],
          ['of which training', `${r.trainSeconds.toFixed(1)} s`],
          ['CPU time', `${((used.user + used.system) / 1e6).toFixed(1)} s`],
          [
            'simulator outcome accuracy, parent → retrained',
            `${(100 * r.simulatorAccuracy.champion).toFixed(1)} % → ${(100 * r.simulatorAccuracy.retrained).toFixed(1)} %`,
          ],
        ],
      );
    }

    // 4. A promotion seen by a worker's slot.
    const registry = join(dir, 'registry');
    await registerModel(registry, SERVED);
    await registerModel(registry, SEED1);
    const slot = new ModelSlot();
    const follower = followRegistry(slot, { registryDir: registry, pointer: 'champion', intervalMs: 0 });
    await follower.ready;
    const idle: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = process.hrtime.bigint();
      await follower.check();
      idle.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    await promoteVersion(registry, 'outcome-s1-n12000-e16', 'bench');
    const started = process.hrtime.bigint();
    await follower.check();
    const swapMs = Number(process.hrtime.bigint() - started) / 1e6;
    table('registry reload in a worker', [
      ['a poll with nothing changed (read registry.json)', `p50 ${percentile(idle, 50).toFixed(3)} ms`],
      ['a promotion seen: read, load, validate, swap', `${swapMs.toFixed(1)} ms`],
      ['worst case after `talon model promote`', 'the poll interval (TALON_MODEL_RELOAD_SECONDS, 10 s) + the above'],
    ]);
    follower.stop();
    await slot.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
    await champion.close();
    await challenger.close();
  }
  out('');
}

runMain(main);
