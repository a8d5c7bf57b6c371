/**
 * Configuration of learning from real outcomes (issue 15 §2): which model version the worker serves (a
 * registry pointer it follows without restarting, or a fixed file), the shadow challenger, the decision log
 * and bounded exploration. Read once per process with the rest of Talon's configuration.
 *
 * - TALON_MODEL_REGISTRY          folder of versioned models (src/policy/model-registry.ts); unset: serve
 *                                 TALON_MODEL_PATH as before
 * - TALON_MODEL_VERSION           `champion` (default: follow the registry's champion) or a version to pin
 * - TALON_MODEL_RELOAD_SECONDS    how often the registry is re-read (default 10; 0: load once)
 * - TALON_SHADOW_MODEL            `challenger` (default with a registry: follow its challenger pointer), `off`,
 *                                 a registry version, or a path to an .onnx file
 * - TALON_DECISION_LOG            `true` (default) / `false`: log decisions and applies to InfluxDB
 * - TALON_EXPLORE_NAMESPACES      comma-separated namespaces that opt in to exploration (default none)
 * - TALON_EXPLORE_EPSILON         exploration rate in those namespaces (default 0.05, at most 0.5)
 */
import { z } from 'zod';
import { MAX_EPSILON, type ExplorationSettings } from '../domain/decision-log';

export type ModelPointer = 'champion' | 'challenger' | { readonly version: string };

export interface LearningConfig {
  readonly registry?: {
    readonly dir: string;
    readonly champion: ModelPointer;
    readonly reloadSeconds: number;
  };
  /** The shadow challenger: a registry pointer or version (needs the registry), or a model file. */
  readonly shadow?: ModelPointer | { readonly path: string };
  readonly decisionLog: boolean;
  readonly exploration: ExplorationSettings;
}

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const schema = z.object({
  TALON_MODEL_REGISTRY: optional,
  TALON_MODEL_PATH: optional,
  TALON_MODEL_VERSION: optional,
  TALON_MODEL_RELOAD_SECONDS: z.coerce.number().int().min(0).max(86_400).default(10),
  TALON_SHADOW_MODEL: optional,
  TALON_DECISION_LOG: z.enum(['true', 'false']).default('true'),
  TALON_EXPLORE_NAMESPACES: optional,
  TALON_EXPLORE_EPSILON: z.coerce.number().gt(0).max(MAX_EPSILON).default(0.05),
});

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

function pointer(value: string | undefined, fallback: ModelPointer, variable: string): ModelPointer {
  if (value === undefined) return fallback;
  if (value === 'champion' || value === 'challenger') return value;
  if (!VERSION.test(value)) throw new Error(`invalid configuration: ${variable}: "${value}" is not a model version`);
  return { version: value };
}

export function learningConfigFromEnv(env: NodeJS.ProcessEnv): LearningConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const e = parsed.data;
  if (e.TALON_MODEL_REGISTRY && e.TALON_MODEL_PATH) {
    throw new Error(
      'invalid configuration: TALON_MODEL_REGISTRY and TALON_MODEL_PATH both name the served model; set one',
    );
  }
  if (!e.TALON_MODEL_REGISTRY && e.TALON_MODEL_VERSION) {
    throw new Error(
      'invalid configuration: TALON_MODEL_VERSION names a version of TALON_MODEL_REGISTRY, which is unset',
    );
  }
  if (e.TALON_MODEL_VERSION === 'challenger') {
    throw new Error(
      'invalid configuration: TALON_MODEL_VERSION: the served model cannot follow the challenger pointer',
    );
  }
  let shadow: LearningConfig['shadow'];
  const s = e.TALON_SHADOW_MODEL;
  if (s === 'off') shadow = undefined;
  else if (s !== undefined && /\.onnx$/i.test(s)) shadow = { path: s };
  else if (e.TALON_MODEL_REGISTRY) shadow = pointer(s, 'challenger', 'TALON_SHADOW_MODEL');
  else if (s !== undefined) {
    throw new Error(
      `invalid configuration: TALON_SHADOW_MODEL: "${s}" names a registry version or pointer, but TALON_MODEL_REGISTRY is unset (give an .onnx path instead)`,
    );
  }
  const namespaces = (e.TALON_EXPLORE_NAMESPACES ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  for (const n of namespaces) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) || n.length > 63) {
      throw new Error(`invalid configuration: TALON_EXPLORE_NAMESPACES: "${n}" is not a namespace name`);
    }
  }
  return {
    ...(e.TALON_MODEL_REGISTRY
      ? {
          registry: {
            dir: e.TALON_MODEL_REGISTRY,
            champion: pointer(e.TALON_MODEL_VERSION, 'champion', 'TALON_MODEL_VERSION'),
            reloadSeconds: e.TALON_MODEL_RELOAD_SECONDS,
          },
        }
      : {}),
    ...(shadow ? { shadow } : {}),
    decisionLog: e.TALON_DECISION_LOG === 'true',
    exploration: { epsilon: namespaces.length > 0 ? e.TALON_EXPLORE_EPSILON : 0, namespaces },
  };
}
