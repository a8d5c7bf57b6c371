/**
 * The operator's policy file: one versioned YAML document (a ConfigMap in the cluster, a file locally) saying
 * what Talon may do per namespace, alert and label selector (src/domain/autonomy.ts applies it). Read and
 * validated here with a clear error naming the line or field; the published JSON Schema
 * (deploy/policy/talon-policy.schema.json) is generated from the same zod schema. The PolicyStore keeps the last
 * good policy in force and reloads the file when its content changes: a bad edit is refused, logged and
 * counted, and the previous version stays.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import {
  ACTIONABLE_POLICIES,
  AUTONOMY_LEVELS,
  DEFAULT_OPERATOR_SETTINGS,
  DEFAULT_STORM_BRAKE,
  DEFAULT_WRITE_BUDGETS,
  mergeSettings,
  type OperatorPolicy,
  type OperatorSettings,
} from '../domain/autonomy';
import { validateCooldown } from '../domain/cooldown';
import { DEFAULT_PREDICTIVE, predictiveProblems, type PredictiveConfig } from '../domain/predictive';
import { parseQuantity } from '../domain/quantity';
import { DEFAULT_PROTECTED_NAMESPACES } from '../domain/guards';

export const POLICY_API_VERSION = 'talon.io/v1alpha1';
export const POLICY_KIND = 'TalonPolicy';

const policyName = z.enum(ACTIONABLE_POLICIES);
const positiveInt = z.number().int().positive();
const seconds = z
  .number()
  .positive()
  .max(7 * 24 * 3600);
const share = z.number().positive().max(10);
const quantity = z
  .string()
  .min(1)
  .refine(
    (v) => {
      try {
        return parseQuantity(v).sign() > 0;
      } catch {
        return false;
      }
    },
    { message: 'a positive Kubernetes quantity such as 500m, 2 or 4Gi' },
  );
const k8sLabelKey = z.string().min(1).max(317);
const namespacePattern = z
  .string()
  .regex(/^(\*|[a-z0-9][-a-z0-9]*\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/, 'a namespace name, or a prefix ending in *');

const thresholds = z.strictObject({
  high: share.optional(),
  warn: share.optional(),
  low: share.optional(),
  target: share.optional(),
});

const settingsPatch = z.strictObject({
  autonomy: z.enum(AUTONOMY_LEVELS).optional().describe('observe | recommend | approve | auto'),
  predictiveAutonomy: z
    .enum(AUTONOMY_LEVELS)
    .optional()
    .describe(
      'the most a remediation of a predicted alert may do here (the more cautious of this and autonomy applies); default predictive.autonomy',
    ),
  allowedPolicies: z.array(policyName).optional().describe('policies Talon may choose (default: all)'),
  requireApproval: z.array(policyName).optional().describe('policies that wait for an approval even in auto'),
  approvers: z
    .array(z.string().min(1).max(256))
    .optional()
    .describe('identities allowed to approve: exact, * for anyone, or a prefix*/ *suffix pattern'),
  approvalTimeoutSeconds: seconds.optional(),
  maxAttempts: positiveInt.max(20).optional(),
  cooldown: z
    .strictObject({
      defaultSeconds: seconds.optional(),
      minSeconds: seconds.optional(),
      maxSeconds: seconds.optional(),
      historyFactor: z.number().positive().max(100).optional(),
    })
    .optional(),
  untaintAfterSeconds: seconds.optional(),
  rules: z
    .strictObject({
      cpu: thresholds.optional(),
      memory: thresholds.optional(),
      energyLimitWatts: z.number().positive().nullable().optional(),
      recentSteps: positiveInt.max(10).optional(),
      minQualityForScaleDown: z.number().min(0).max(1).optional(),
    })
    .optional()
    .describe('rule policy thresholds (shares of the limit) onto the defaults of docs/METRICS.md'),
  growth: z
    .strictObject({
      maxFactor: z.partialRecord(policyName, z.number().positive().max(10)).optional(),
      containerCpuMax: quantity.optional(),
      containerMemoryMax: quantity.optional(),
      replicasMax: positiveInt.max(10_000).optional(),
    })
    .optional()
    .describe('caps on how far one change may grow a target'),
});

const labelExpression = z
  .strictObject({
    key: k8sLabelKey,
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string().max(1024)).optional(),
  })
  .refine((e) => (e.operator === 'In' || e.operator === 'NotIn') === (e.values !== undefined && e.values.length > 0), {
    message: 'In and NotIn need values; Exists and DoesNotExist take none',
  });

const writeBudget = z.strictObject({ maxWrites: z.number().int().min(0), windowSeconds: seconds });

const limitShare = z.number().gt(0, 'a share of the limit above 0').max(2);
const predictive = z
  .strictObject({
    enabled: z.boolean().optional().describe('run the predictive watch (default false)'),
    autonomy: z
      .enum(AUTONOMY_LEVELS)
      .optional()
      .describe(
        'default predictiveAutonomy of every scope: the most a predicted remediation may do (default recommend)',
      ),
    horizonSeconds: z
      .number()
      .int()
      .min(10)
      .max(3600)
      .optional()
      .describe('how far ahead a breach is looked for (default 300)'),
    confidence: z
      .number()
      .gt(0.5, 'above 0.5 (a lower bound below the median is no bound)')
      .lt(1, 'below 1 (certainty is never reached)')
      .optional()
      .describe('confidence of the lower prediction bound that must cross the threshold (default 0.9)'),
    intervalSeconds: z
      .number()
      .int()
      .min(5)
      .max(3600)
      .optional()
      .describe('how often the watch forecasts (default 60)'),
    lookbackSeconds: z
      .number()
      .int()
      .min(60)
      .max(24 * 3600)
      .optional()
      .describe('usage history per forecast (default 1800)'),
    stepSeconds: z.number().int().min(1).max(600).optional().describe('spacing of the usage samples (default 30)'),
    namespaces: z
      .array(namespacePattern)
      .optional()
      .describe("namespaces watched (default ['*']; protected ones never)"),
    resources: z
      .array(z.enum(['cpu', 'memory']))
      .optional()
      .describe('what is forecast (default cpu and memory)'),
    thresholds: z
      .strictObject({ cpu: limitShare.optional(), memory: limitShare.optional() })
      .optional()
      .describe("shares of the limit a breach crosses (default the alert rules': cpu 0.8, memory 0.85)"),
    resolveAfter: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe('forecasts without a breach before a predicted alert resolves (default 2)'),
  })
  .describe('the predictive watch (issue 15 §3): forecast breaches raise predicted alerts before the real ones fire');

export const policyFileSchema = z
  .strictObject({
    apiVersion: z.literal(POLICY_API_VERSION),
    kind: z.literal(POLICY_KIND),
    version: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._:+-]+$/, 'letters, digits and . _ : + -')
      .describe('the operator-chosen version every decision records (with a hash of the content)'),
    defaults: settingsPatch.optional(),
    overrides: z
      .array(
        z.strictObject({
          name: z.string().min(1).max(128).optional(),
          match: z.strictObject({
            namespaces: z.array(namespacePattern).min(1).optional(),
            alertNames: z.array(z.string().min(1).max(256)).min(1).optional(),
            kinds: z
              .array(z.enum(['pod', 'node']))
              .min(1)
              .optional(),
            labels: z.record(k8sLabelKey, z.string().max(1024)).optional(),
            labelExpressions: z.array(labelExpression).min(1).optional(),
          }),
          set: settingsPatch,
        }),
      )
      .max(1000)
      .optional(),
    protectedNamespaces: z.array(namespacePattern).optional(),
    writeBudgets: z.strictObject({ perNamespace: writeBudget.optional(), cluster: writeBudget.optional() }).optional(),
    stormBrake: z
      .strictObject({
        enabled: z.boolean().optional(),
        maxAlerts: z.number().int().min(0).optional(),
        maxNamespacePodsPercent: z.number().min(0).max(100).optional(),
        maxClusterNodesPercent: z.number().min(0).max(100).optional(),
        minRemediations: positiveInt.optional(),
        action: z.enum(['wait', 'observe']).optional(),
        release: z.enum(['auto', 'manual']).optional(),
        recheckSeconds: z.number().min(1).max(3600).optional(),
        settleSeconds: z.number().min(0).max(300).optional(),
        maxWaitSeconds: seconds.optional(),
      })
      .optional(),
    predictive: predictive.optional(),
  })
  .describe(
    "Talon's operator policy (issue 17): autonomy, approvals, bounds, write budgets, the storm brake and the predictive watch",
  );

export type PolicyFile = z.infer<typeof policyFileSchema>;

/** The policy file cannot be used; the message names the file and the line or field. */
export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
}

/** Checks a policy's rule thresholds beyond the schema (src/policy/rules.ts' invariants); throws to refuse. */
export type PolicyCheck = (policy: OperatorPolicy) => void;

function checkSettings(where: string, settings: OperatorSettings, problems: string[]): void {
  try {
    validateCooldown(settings.cooldown);
  } catch (err) {
    problems.push(`${where}.cooldown: ${(err as Error).message}`);
  }
  if ((settings.autonomy === 'approve' || settings.requireApproval.length > 0) && settings.approvers.length === 0)
    problems.push(`${where}.approvers: approval can be required here, so at least one approver is needed`);
}

/** The policy a file describes, with Talon's defaults for what it leaves out. Throws PolicyFileError. */
export function parsePolicyFile(text: string, source: string, check?: PolicyCheck): OperatorPolicy {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyFileError(`${source}: not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  const parsed = policyFileSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 20)
      .map((i) => `${i.path.map(String).join('.') || '(document)'}: ${i.message}`);
    throw new PolicyFileError(`${source}: ${issues.join('; ')}`);
  }
  const file = parsed.data;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  const problems: string[] = [];
  const predictiveConfig: PredictiveConfig = {
    ...DEFAULT_PREDICTIVE,
    ...file.predictive,
    thresholds: { ...DEFAULT_PREDICTIVE.thresholds, ...file.predictive?.thresholds },
  };
  problems.push(...predictiveProblems(predictiveConfig).map((p) => `predictive.${p}`));
  const givenTwice =
    file.defaults?.predictiveAutonomy !== undefined &&
    file.predictive?.autonomy !== undefined &&
    file.defaults.predictiveAutonomy !== file.predictive.autonomy;
  if (givenTwice)
    problems.push(
      `defaults.predictiveAutonomy: ${file.defaults!.predictiveAutonomy} contradicts predictive.autonomy ${file.predictive!.autonomy}; set one of them`,
    );
  const defaults = mergeSettings(
    { ...DEFAULT_OPERATOR_SETTINGS, predictiveAutonomy: predictiveConfig.autonomy },
    file.defaults ?? {},
  );
  const overrides = (file.overrides ?? []).map((o) => ({ ...o, set: o.set }));
  checkSettings('defaults', defaults, problems);
  // An override is checked as it would apply on its own over the defaults (the common case); overrides that
  // only make sense stacked are still checked where they apply, at use.
  overrides.forEach((o, i) =>
    checkSettings(`overrides[${i}]${o.name ? ` (${o.name})` : ''}.set`, mergeSettings(defaults, o.set), problems),
  );
  const brake = { ...DEFAULT_STORM_BRAKE, ...file.stormBrake };
  if (brake.maxWaitSeconds < brake.recheckSeconds)
    problems.push('stormBrake.maxWaitSeconds: must be at least recheckSeconds');
  if (problems.length > 0) throw new PolicyFileError(`${source}: ${problems.join('; ')}`);
  const policy: OperatorPolicy = {
    version: `${file.version}@${hash}`,
    defaults,
    overrides,
    protectedNamespaces: file.protectedNamespaces ?? DEFAULT_PROTECTED_NAMESPACES,
    writeBudgets: {
      perNamespace: file.writeBudgets?.perNamespace ?? DEFAULT_WRITE_BUDGETS.perNamespace,
      ...(file.writeBudgets?.cluster ? { cluster: file.writeBudgets.cluster } : {}),
    },
    stormBrake: brake,
    predictive: { ...predictiveConfig, autonomy: defaults.predictiveAutonomy },
  };
  if (check) {
    try {
      check(policy);
    } catch (err) {
      throw new PolicyFileError(`${source}: ${(err as Error).message}`, { cause: err });
    }
  }
  return policy;
}

export async function readPolicyFile(path: string, check?: PolicyCheck): Promise<OperatorPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PolicyFileError(`cannot read the policy file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parsePolicyFile(text, path, check);
}

/** The published JSON Schema of the policy file (deploy/policy/talon-policy.schema.json). */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://talon.io/schemas/talon-policy.v1alpha1.json',
    title: 'TalonPolicy',
    ...(z.toJSONSchema(policyFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
  };
}

export interface PolicyStoreOptions {
  readonly path: string;
  /** How often the file is checked for a new content (ms); ConfigMap volumes change by symlink swap. */
  readonly reloadMs?: number;
  readonly check?: PolicyCheck;
  /** Told every load: the version now in force, or the refusal (the previous version stays). */
  readonly onLoad?: (event: { result: 'loaded'; version: string } | { result: 'refused'; error: string }) => void;
}

/**
 * The policy in force in one process, from `path`: loaded once at start (a bad file refuses the start), then
 * reloaded when the file's content changes. Reads are synchronous and cheap (the parsed policy is kept).
 */
export class PolicyStore {
  private policy: OperatorPolicy;
  private text: string;
  private timer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;

  private constructor(
    private readonly options: PolicyStoreOptions,
    policy: OperatorPolicy,
    text: string,
  ) {
    this.policy = policy;
    this.text = text;
  }

  /** Loads `path` (throws PolicyFileError when it is unusable) and starts watching it. */
  static async open(options: PolicyStoreOptions): Promise<PolicyStore> {
    let text: string;
    try {
      text = await readFile(options.path, 'utf8');
    } catch (err) {
      throw new PolicyFileError(`cannot read the policy file ${options.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const policy = parsePolicyFile(text, options.path, options.check);
    options.onLoad?.({ result: 'loaded', version: policy.version });
    const store = new PolicyStore(options, policy, text);
    const every = options.reloadMs ?? 5_000;
    if (every > 0) {
      store.timer = setInterval(() => void store.reload(), every);
      store.timer.unref();
    }
    return store;
  }

  /** The policy in force. */
  current(): OperatorPolicy {
    return this.policy;
  }

  /** Why the newest content of the file was refused, while an older version stays in force. */
  refusal(): string | undefined {
    return this.lastError;
  }

  /** Reads the file again; a changed, valid content replaces the policy, an invalid one is refused. */
  async reload(): Promise<'unchanged' | 'loaded' | 'refused'> {
    let text: string;
    try {
      text = await readFile(this.options.path, 'utf8');
    } catch (err) {
      return this.refuse(`cannot read the policy file ${this.options.path}: ${(err as Error).message}`, '');
    }
    if (text === this.text) return 'unchanged';
    try {
      const policy = parsePolicyFile(text, this.options.path, this.options.check);
      this.policy = policy;
      this.text = text;
      this.lastError = undefined;
      this.options.onLoad?.({ result: 'loaded', version: policy.version });
      return 'loaded';
    } catch (err) {
      return this.refuse((err as Error).message, text);
    }
  }

  private refuse(error: string, text: string): 'refused' | 'unchanged' {
    // The same bad content is reported once, not every few seconds.
    if (this.lastError === error && this.badText === text) return 'unchanged';
    this.lastError = error;
    this.badText = text;
    this.options.onLoad?.({ result: 'refused', error: `${error} (version ${this.policy.version} stays in force)` });
    return 'refused';
  }

  private badText: string | undefined;

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
