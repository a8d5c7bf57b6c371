/**
 * A policy model that can be replaced while the worker runs: the policy engine holds the slot, the slot holds
 * the loaded model. A new model is loaded and fully validated (checksum, shapes, a trial inference) before it
 * goes in; a decision in flight finishes on the model it started with, and the old model is released only
 * after its last decision. `followRegistry` polls a registry pointer (champion or challenger) and swaps when
 * it moves; a version that fails to load leaves the previous model serving and is reported, not retried
 * until the pointer changes again.
 */
import { readFile } from 'node:fs/promises';
import type { PolicyDecision } from '../domain/policy';
import type { FeatureWindow } from '../domain/window';
import type { PolicyModel } from './breaker';
import { loadPolicyModel } from './model';
import { champion, readRegistry, registryFile, versionModelPath } from './model-registry';

/** What a slot can hold: the loaded ONNX model, or anything with the same face (tests). */
export type SlotModel = PolicyModel & { readonly version: string; close(): Promise<void> };

export class ModelSlot implements PolicyModel {
  private current: SlotModel | undefined;
  private inflight = new Map<SlotModel, number>();
  private retired = new Set<SlotModel>();
  private emptyReason: string;

  constructor(
    initial?: SlotModel,
    emptyReason = 'no model loaded',
    private readonly onSwap?: (from: string | undefined, to: string | undefined) => void,
  ) {
    this.current = initial;
    this.emptyReason = emptyReason;
  }

  /** The version now serving (undefined while empty). */
  get version(): string | undefined {
    return this.current?.version;
  }

  get loaded(): boolean {
    return this.current !== undefined;
  }

  async decide(window: FeatureWindow): Promise<PolicyDecision> {
    const model = this.current;
    if (!model) throw new Error(this.emptyReason);
    this.inflight.set(model, (this.inflight.get(model) ?? 0) + 1);
    try {
      return await model.decide(window);
    } finally {
      const left = (this.inflight.get(model) ?? 1) - 1;
      if (left > 0) this.inflight.set(model, left);
      else {
        this.inflight.delete(model);
        if (this.retired.delete(model)) await model.close().catch(() => undefined);
      }
    }
  }

  /** Puts `next` in (or empties the slot, saying why); the previous model is closed after its last decision. */
  async swap(next: SlotModel | undefined, emptyReason?: string): Promise<void> {
    const previous = this.current;
    this.current = next;
    if (!next && emptyReason) this.emptyReason = emptyReason;
    this.onSwap?.(previous?.version, next?.version);
    if (!previous || previous === next) return;
    if (this.inflight.has(previous)) this.retired.add(previous);
    else await previous.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.swap(undefined, 'closed');
  }
}

export type RegistryPointer = 'champion' | 'challenger' | { readonly version: string };

export interface FollowOptions {
  readonly registryDir: string;
  readonly pointer: RegistryPointer;
  /** How often the registry file is read; 0 loads once and never reloads. */
  readonly intervalMs: number;
  readonly log?: (line: string) => void;
  /** Loads a version's file (the ONNX loader by default; injected in tests). */
  readonly load?: (path: string) => Promise<SlotModel>;
}

export interface Follower {
  /** Resolves after the first look at the registry (whatever it found). */
  readonly ready: Promise<void>;
  /** Looks now (what the timer does); resolves when any swap is done. */
  check(): Promise<void>;
  /** The last problem (unreadable registry, a version that failed to load), if the last look had one. */
  problem(): string | undefined;
  stop(): void;
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Keeps `slot` on the version the registry pointer names, reloading when it changes. */
export function followRegistry(slot: ModelSlot, options: FollowOptions): Follower {
  const log = options.log ?? (() => undefined);
  const load = options.load ?? ((path: string): Promise<SlotModel> => loadPolicyModel(path));
  const what = typeof options.pointer === 'string' ? options.pointer : `version ${options.pointer.version}`;
  let lastText: string | undefined;
  let failedVersion: string | undefined;
  let problem: string | undefined;
  let running: Promise<void> | undefined;

  const wanted = async (): Promise<string | undefined> => {
    if (typeof options.pointer !== 'string') return options.pointer.version;
    const state = await readRegistry(options.registryDir);
    return options.pointer === 'champion' ? champion(state) : state.challenger;
  };

  const look = async (): Promise<void> => {
    let text: string | undefined;
    try {
      text = await readFile(registryFile(options.registryDir), 'utf8');
    } catch {
      text = undefined;
    }
    // Nothing moved since the last look: a version that failed to load is not retried until the file changes.
    if (text !== undefined && text === lastText) return;
    let version: string | undefined;
    try {
      version = await wanted();
    } catch (error) {
      problem = `model registry ${options.registryDir}: ${describe(error)}`;
      log(`${problem}; keeping ${slot.version ?? 'no model'}`);
      return;
    }
    lastText = text;
    if (version === slot.version) {
      problem = undefined;
      return;
    }
    if (version === undefined) {
      await slot.swap(undefined, `the registry names no ${what}`);
      problem = undefined;
      log(`model registry: no ${what}; slot emptied`);
      return;
    }
    if (version === failedVersion) return;
    const started = process.hrtime.bigint();
    try {
      const model = await load(versionModelPath(options.registryDir, version));
      const from = slot.version;
      await slot.swap(model);
      failedVersion = undefined;
      problem = undefined;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log(`model registry: ${what} ${from ?? '(none)'} → ${version}, loaded and validated in ${ms.toFixed(1)} ms`);
    } catch (error) {
      failedVersion = version;
      problem = `${what} ${version} failed to load: ${describe(error)}`;
      log(`model registry: ${problem}; keeping ${slot.version ?? 'no model'}`);
    }
  };

  const check = (): Promise<void> => {
    running ??= look().finally(() => {
      running = undefined;
    });
    return running;
  };
  const ready = check();
  const timer = options.intervalMs > 0 ? setInterval(() => void check(), options.intervalMs) : undefined;
  timer?.unref();
  return {
    ready,
    check,
    problem: () => problem,
    stop: () => {
      if (timer) clearInterval(timer);
    },
  };
}
