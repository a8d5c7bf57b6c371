/**
 * The promotion gate of `talon model promote`: a challenger replaces the champion only if the decision log
 * supports a claim (./off-policy: enough decisions, support, effective sample size), the doubly-robust estimate
 * of challenger − champion cost is below zero with its whole 95 % interval, it takes no new harmful action, and
 * — where an incident-lab suite is plugged in — the lab agrees. Every reason is kept, so a refusal says why.
 *
 * The incident lab (tools/lab, issue 16's sibling work) is not part of this build: `LabSuite` is the hook it
 * plugs into (run both models over its scenarios, say whether the challenger is at least as good), and until
 * then the gate records "lab not run" and does not block unless asked to (`requireLab`).
 */
import { champion as currentChampion, promoteVersion, readRegistry, readVersion } from '../src/policy/model-registry';
import { loadPolicyModel, type LoadedPolicyModel } from '../src/policy/model';
import { ruleConfig } from '../src/policy/rules';
import type { JoinedDecision } from '../src/domain/decision-log';
import { modelEngine } from './evaluation';
import { evaluateFromLog, type OpeOptions, type OpeReport } from './off-policy';

/** What an incident-lab run answers about a challenger against the champion. */
export interface LabVerdict {
  /** The challenger is at least as good as the champion on the lab's suite. */
  readonly passed: boolean;
  readonly summary: string;
}

/** The hook the incident lab plugs into: run both model files over the suite. */
export interface LabSuite {
  readonly name: string;
  run(challengerModelPath: string, championModelPath: string): Promise<LabVerdict>;
}

export interface GateOptions {
  readonly ope: OpeOptions;
  readonly lab?: LabSuite;
  /** Refuse when no lab suite is available (off until the lab is merged). */
  readonly requireLab: boolean;
}

export interface GateResult {
  readonly challenger: string;
  readonly champion: string;
  readonly promote: boolean;
  readonly reasons: readonly string[];
  readonly ope: OpeReport;
  readonly lab: LabVerdict | 'not run: no incident-lab suite in this build';
}

async function engineOf(path: string, name: string) {
  const model: LoadedPolicyModel = await loadPolicyModel(path);
  return { model, engine: modelEngine(name, name, model, ruleConfig()) };
}

/** Runs the gate for `challenger` (a registered version) against the registry's current champion. */
export async function runGate(
  registryDir: string,
  challengerVersion: string,
  log: readonly JoinedDecision[],
  options: GateOptions,
): Promise<GateResult> {
  const state = await readRegistry(registryDir);
  const championVersion = currentChampion(state);
  if (!championVersion) throw new Error(`the registry ${registryDir} has no champion to compare with`);
  if (championVersion === challengerVersion) throw new Error(`${challengerVersion} is already the champion`);
  const [c, b] = await Promise.all([
    readVersion(registryDir, challengerVersion),
    readVersion(registryDir, championVersion),
  ]);
  const challenger = await engineOf(c.modelPath, `challenger ${challengerVersion}`);
  const champion = await engineOf(b.modelPath, `champion ${championVersion}`);
  try {
    const ope = await evaluateFromLog(log, challenger.engine, champion.engine, options.ope);
    const reasons: string[] = [];
    if (!ope.claim.made) reasons.push(`no off-policy claim: ${ope.claim.reasons.join('; ')}`);
    const dr = ope.difference.dr;
    if (ope.claim.made && !(dr.high < 0)) {
      reasons.push(
        dr.estimate > 0
          ? `worse than the champion: DR cost difference ${dr.estimate.toFixed(1)} s [${dr.low.toFixed(1)}, ${dr.high.toFixed(1)}]`
          : `not shown better: DR cost difference ${dr.estimate.toFixed(1)} s [${dr.low.toFixed(1)}, ${dr.high.toFixed(1)}] includes 0`,
      );
    }
    if (ope.newHarmful.length > 0) {
      reasons.push(
        `${ope.newHarmful.length} new harmful action(s), e.g. ${ope.newHarmful[0]!.action.policy}: ${ope.newHarmful[0]!.why}`,
      );
    }
    let lab: GateResult['lab'] = 'not run: no incident-lab suite in this build';
    if (options.lab) {
      lab = await options.lab.run(c.modelPath, b.modelPath);
      if (!lab.passed) reasons.push(`incident lab (${options.lab.name}): ${lab.summary}`);
    } else if (options.requireLab) {
      reasons.push('the incident lab is required (--require-lab) but no suite is available');
    }
    return {
      challenger: challengerVersion,
      champion: championVersion,
      promote: reasons.length === 0,
      reasons,
      ope,
      lab,
    };
  } finally {
    await challenger.model.close();
    await champion.model.close();
  }
}

/** The gate, then the promotion if it passed; the registry history keeps the gate's figures as the reason. */
export async function gatedPromote(
  registryDir: string,
  challengerVersion: string,
  log: readonly JoinedDecision[],
  options: GateOptions,
  by?: string,
): Promise<GateResult> {
  const gate = await runGate(registryDir, challengerVersion, log, options);
  if (gate.promote) {
    const dr = gate.ope.difference.dr;
    await promoteVersion(
      registryDir,
      challengerVersion,
      `gate passed: DR cost ${dr.estimate.toFixed(1)} s [${dr.low.toFixed(1)}, ${dr.high.toFixed(1)}] vs ${gate.champion} on ${gate.ope.usable} logged decisions; ESS ${gate.ope.challenger.ess.toFixed(1)}; lab: ${typeof gate.lab === 'string' ? gate.lab : gate.lab.summary}`,
      by,
    );
  }
  return gate;
}
