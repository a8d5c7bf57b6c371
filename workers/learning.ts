/**
 * The worker's half of learning from real outcomes: the served model (a fixed file, or a registry pointer
 * followed without restarting), the shadow challenger, and the decision log writer. Kept apart from
 * ./activities.ts so that file only wires the result in.
 */
import type { LearningConfig } from '../src/config/learning';
import type { DecisionLogWriter, ExplorationSettings } from '../src/domain/decision-log';
import { influxDecisionLog } from '../src/metrics/decision-log';
import type { InfluxStore } from '../src/metrics/influx';
import type { PolicyModel } from '../src/policy/breaker';
import { loadPolicyModel } from '../src/policy/model';
import { versionModelPath } from '../src/policy/model-registry';
import { followRegistry, ModelSlot, type Follower, type SlotModel } from '../src/policy/model-slot';

import type { ModelStatus } from '../src/policy/model-status';

export type { ModelStatus } from '../src/policy/model-status';

export interface Learning {
  /** The served model (absent: the rules answer, saying no model is configured). */
  readonly model?: PolicyModel & { close(): Promise<void> };
  readonly status?: ModelStatus;
  readonly shadow?: ModelSlot;
  readonly decisionLog?: DecisionLogWriter;
  readonly exploration: ExplorationSettings;
  close(): Promise<void>;
}

/** Stands in for a model that failed to load, so the breaker opens with the real reason in every decision. */
export function unusableModel(reason: string): SlotModel {
  return {
    version: 'unusable',
    decide: () => {
      throw new Error(reason);
    },
    close: async () => undefined,
  };
}

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function assembleLearning(deps: {
  readonly modelPath?: string;
  readonly learning?: LearningConfig;
  readonly influx?: InfluxStore;
  /** Long-lived workers follow the registry; one-shot callers load once. */
  readonly longLived?: boolean;
  readonly log: (line: string) => void;
}): Promise<Learning> {
  const { learning, log } = deps;
  const followers: Follower[] = [];
  const closers: (() => Promise<void>)[] = [];
  let model: Learning['model'];
  let status: ModelStatus | undefined;

  const registry = learning?.registry;
  if (registry) {
    const slot = new ModelSlot(undefined, `no champion in the model registry ${registry.dir}`);
    const follower = followRegistry(slot, {
      registryDir: registry.dir,
      pointer: registry.champion,
      intervalMs: deps.longLived ? registry.reloadSeconds * 1000 : 0,
      log,
    });
    await follower.ready;
    followers.push(follower);
    model = slot;
    closers.push(() => slot.close());
    const path =
      typeof registry.champion === 'string'
        ? `${registry.dir} (${registry.champion})`
        : versionModelPath(registry.dir, registry.champion.version);
    status = slot.version
      ? { path, loaded: true, version: slot.version }
      : { path, loaded: false, reason: follower.problem() ?? `the registry ${registry.dir} names no champion` };
  } else if (deps.modelPath) {
    try {
      const loaded = await loadPolicyModel(deps.modelPath);
      model = loaded;
      status = { path: deps.modelPath, loaded: true, version: loaded.version };
      log(`policy model ${deps.modelPath} loaded`);
    } catch (err) {
      // The rules answer while the model is unusable; every decision carries the reason (via the breaker).
      const reason = `policy model ${deps.modelPath} unusable: ${describe(err)}`;
      log(`${reason}; the rule policy will answer`);
      model = unusableModel(reason);
      status = { path: deps.modelPath, loaded: false, reason };
    }
    const served = model;
    closers.push(() => served.close());
  }

  let shadow: ModelSlot | undefined;
  const wanted = learning?.shadow;
  if (wanted) {
    shadow = new ModelSlot(undefined, 'no challenger');
    if (typeof wanted === 'object' && 'path' in wanted) {
      try {
        await shadow.swap(await loadPolicyModel(wanted.path));
        log(`shadow challenger ${wanted.path} loaded (${shadow.version})`);
      } catch (err) {
        log(`shadow challenger ${wanted.path} unusable, no shadow decisions: ${describe(err)}`);
      }
    } else if (registry) {
      const follower = followRegistry(shadow, {
        registryDir: registry.dir,
        pointer: wanted,
        intervalMs: deps.longLived ? registry.reloadSeconds * 1000 : 0,
        log: (line) => log(`shadow: ${line}`),
      });
      await follower.ready;
      followers.push(follower);
    }
    const s = shadow;
    closers.push(() => s.close());
  }

  return {
    ...(model ? { model } : {}),
    ...(status ? { status } : {}),
    ...(shadow ? { shadow } : {}),
    ...(deps.influx && (learning?.decisionLog ?? true) ? { decisionLog: influxDecisionLog(deps.influx) } : {}),
    exploration: learning?.exploration ?? { epsilon: 0, namespaces: [] },
    async close() {
      for (const f of followers) f.stop();
      for (const c of closers) await c();
    },
  };
}
