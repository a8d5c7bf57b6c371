/**
 * One onnxruntime session for the policy model. onnxruntime-node's public `session.run()` defers every call
 * to `setImmediate` and goes through onnxruntime-common's wrapper, which costs about 10 µs on a graph that
 * itself runs in about 50 µs. The native binding underneath runs synchronously, so when it is present and
 * has the shape this module knows, the session runs there; otherwise (another onnxruntime-node version, a
 * bundler that dropped the file) it falls back to the public async API, which computes the same thing.
 */
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

export type SessionMode = 'native-sync' | 'public-async';

/** An input or output as the loader checks it; `shape` names dynamic dimensions. */
export interface GraphValue {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape: readonly (number | string)[];
}

export type Feeds = Record<string, ort.Tensor>;
export type Fetched = Readonly<Record<string, { readonly data: unknown } | undefined>>;

export interface PolicySession {
  readonly mode: SessionMode;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly GraphValue[];
  readonly outputMetadata: readonly GraphValue[];
  /** Every output; the value itself in native-sync mode, a promise of it otherwise. */
  run(feeds: Feeds): Fetched | Promise<Fetched>;
  release(): Promise<void>;
}

interface NativeValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly symbolicDimensions: readonly string[];
  readonly shape: readonly number[];
  readonly type: number;
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  readonly inputMetadata: readonly NativeValueMetadata[];
  readonly outputMetadata: readonly NativeValueMetadata[];
  run(feeds: Feeds, fetches: Record<string, null>): unknown;
  dispose(): void;
}

export interface NativeBinding {
  readonly initOrt: () => void;
  readonly InferenceSession: new () => NativeSession;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

/**
 * The binding module (`onnxruntime-node/dist/binding`) if it has the shape this module was written against
 * (onnxruntime-node 1.23): `initOrt()` and an `InferenceSession` class with `loadModel`, `run` and `dispose`.
 */
export function asNativeBinding(module: unknown): NativeBinding | undefined {
  if (!isObject(module) || typeof module.initOrt !== 'function' || !isObject(module.binding)) return undefined;
  const ctor = module.binding.InferenceSession;
  if (typeof ctor !== 'function') return undefined;
  const proto: unknown = ctor.prototype;
  if (!isObject(proto) || !['loadModel', 'run', 'dispose'].every((m) => typeof proto[m] === 'function')) {
    return undefined;
  }
  return { initOrt: module.initOrt as () => void, InferenceSession: ctor as new () => NativeSession };
}

let cached: NativeBinding | null | undefined;

/** onnxruntime-node's native binding, once per process; undefined when it cannot be used. */
export function nativeBinding(): NativeBinding | undefined {
  if (cached === undefined) {
    try {
      cached = asNativeBinding(createRequire(__filename)('onnxruntime-node/dist/binding')) ?? null;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}

function isNativeMetadata(m: unknown): m is NativeValueMetadata {
  return (
    isObject(m) &&
    typeof m.name === 'string' &&
    typeof m.isTensor === 'boolean' &&
    typeof m.type === 'number' &&
    Array.isArray(m.shape) &&
    Array.isArray(m.symbolicDimensions)
  );
}

/** ONNX TensorProto element types, as onnxruntime-common names them (only float32 is ever accepted). */
const ELEMENT_TYPES: Readonly<Record<number, string>> = { 1: 'float32', 6: 'int32', 7: 'int64', 11: 'float64' };

function fromNative(m: NativeValueMetadata): GraphValue {
  return {
    name: m.name,
    isTensor: m.isTensor,
    type: ELEMENT_TYPES[m.type] ?? `element type ${m.type}`,
    shape: m.shape.map((d, i) => (d >= 0 ? d : (m.symbolicDimensions[i] ?? 'dynamic'))),
  };
}

function fromPublic(m: ort.InferenceSession.ValueMetadata): GraphValue {
  return m.isTensor
    ? { name: m.name, isTensor: true, type: m.type, shape: m.shape }
    : { name: m.name, isTensor: false, shape: [] };
}

/** Loads the model on the native binding; undefined if the loaded session does not look as expected. */
function openNative(native: NativeBinding, bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) {
  native.initOrt();
  const session = new native.InferenceSession();
  // A rejected file throws here, as InferenceSession.create would: the caller reports it.
  session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, options);
  const inputs: unknown = session.inputMetadata;
  const outputs: unknown = session.outputMetadata;
  const wellFormed = (list: unknown): list is NativeValueMetadata[] =>
    Array.isArray(list) && (list as unknown[]).every(isNativeMetadata);
  if (!wellFormed(inputs) || !wellFormed(outputs)) {
    session.dispose();
    return undefined;
  }
  const inputMetadata = inputs.map(fromNative);
  const outputMetadata = outputs.map(fromNative);
  // Built once: the binding only reads which outputs to fetch (null = let onnxruntime allocate them).
  const fetches: Record<string, null> = Object.fromEntries(outputMetadata.map((m) => [m.name, null]));
  const policySession: PolicySession = {
    mode: 'native-sync',
    inputNames: inputMetadata.map((m) => m.name),
    outputNames: outputMetadata.map((m) => m.name),
    inputMetadata,
    outputMetadata,
    // Two arguments: the binding then uses its default run options instead of parsing a new set per call.
    run: (feeds) => session.run(feeds, fetches) as Fetched,
    release: () => {
      session.dispose();
      return Promise.resolve();
    },
  };
  return policySession;
}

async function openPublic(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<PolicySession> {
  const session = await ort.InferenceSession.create(bytes, options);
  return {
    mode: 'public-async',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata.map(fromPublic),
    outputMetadata: session.outputMetadata.map(fromPublic),
    run: (feeds) => session.run(feeds),
    release: () => session.release(),
  };
}

/**
 * Opens `bytes` on the native binding when `native` is usable, else (and always for null) on the public
 * API. Throws what onnxruntime throws for a file it rejects.
 */
export async function openPolicySession(
  bytes: Uint8Array,
  options: ort.InferenceSession.SessionOptions,
  native: NativeBinding | null = nativeBinding() ?? null,
): Promise<PolicySession> {
  const fast = native ? openNative(native, bytes, options) : undefined;
  return fast ?? openPublic(bytes, options);
}
