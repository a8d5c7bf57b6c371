/**
 * The operator's commands: `talon policy check|show|schema` (the policy file, validated and resolved for an
 * alert the way the worker does) and `talon brake status|release|engage` (the storm brake, counted as the worker
 * counts it: remediations in Temporal visibility, pods and nodes in the cluster, the manual latch Lease).
 */
import type { Command } from 'commander';
import { createOperatorActivities } from '../../activities/operator';
import { liveBrakeSources } from '../../activities/brake-sources';
import { PolicyFileError, policyJsonSchema, readPolicyFile } from '../config/policy-file';
import { loadTalonConfig, type TalonConfig } from '../config/talon-config';
import {
  DEFAULT_STORM_BRAKE,
  describeBrake,
  resolvePolicy,
  type BrakeScope,
  type BrakeState,
  type OperatorPolicy,
  type OperatorSettings,
} from '../domain/autonomy';
import { createKubeClients } from '../kube/client';
import { loadKubeConfig } from '../kube/config';
import { BrakeLatchStore, isBrakeScope, type BrakeLatch } from '../kube/storm-brake';
import { checkPolicyRules } from '../policy/rules';
import { withTalonClient } from './connect';
import { CliError, errorMessage } from './errors';

export interface OperatorCliDeps {
  readonly out?: (text: string) => void;
  readonly config?: TalonConfig;
}

const say = (deps: OperatorCliDeps, text: string): void => (deps.out ?? ((t) => process.stdout.write(`${t}\n`)))(text);

async function loadPolicy(path: string): Promise<OperatorPolicy> {
  try {
    return await readPolicyFile(path, checkPolicyRules);
  } catch (err) {
    if (err instanceof PolicyFileError) throw new CliError(err.message, err);
    throw err;
  }
}

function describeSettings(s: OperatorSettings): string[] {
  const approval = s.requireApproval.length > 0 ? s.requireApproval.join(', ') : 'none';
  return [
    `autonomy ${s.autonomy}; allowed: ${s.allowedPolicies.join(', ')}`,
    `approval needed for: ${s.autonomy === 'approve' ? 'every change' : approval} (approvers: ${s.approvers.join(', ')}; timeout ${s.approvalTimeoutSeconds}s)`,
    `max attempts ${s.maxAttempts}; cool-down ${s.cooldown.minSeconds}-${s.cooldown.maxSeconds}s (default ${s.cooldown.defaultSeconds}s, history ×${s.cooldown.historyFactor}); untaint after ${s.untaintAfterSeconds}s`,
    ...(Object.keys(s.rules).length > 0 ? [`rule thresholds: ${JSON.stringify(s.rules)}`] : []),
    ...(Object.keys(s.growth).length > 0 ? [`growth caps: ${JSON.stringify(s.growth)}`] : []),
  ];
}

/** The whole policy in words: what `talon policy check` prints for a valid file. Pure. */
export function describePolicy(policy: OperatorPolicy): string {
  const b = policy.stormBrake;
  const limits = [
    b.maxAlerts !== undefined ? `more than ${b.maxAlerts} alert remediations` : undefined,
    b.maxNamespacePodsPercent !== undefined
      ? `more than ${b.maxNamespacePodsPercent}% of a namespace's pods`
      : undefined,
    b.maxClusterNodesPercent !== undefined ? `more than ${b.maxClusterNodesPercent}% of the nodes` : undefined,
  ].filter(Boolean);
  const budget = (w: { maxWrites: number; windowSeconds: number }) => `${w.maxWrites} writes per ${w.windowSeconds}s`;
  return [
    `version ${policy.version}`,
    'defaults:',
    ...describeSettings(policy.defaults).map((l) => `  ${l}`),
    `overrides (${policy.overrides.length}, applied in order):`,
    ...policy.overrides.map(
      (o, i) =>
        `  ${i + 1}. ${o.name ?? `overrides[${i}]`}: when ${JSON.stringify(o.match)} set ${JSON.stringify(o.set)}`,
    ),
    `protected namespaces: ${policy.protectedNamespaces.join(', ') || 'none'} (and Talon's own)`,
    `write budgets: ${budget(policy.writeBudgets.perNamespace)} per namespace${policy.writeBudgets.cluster ? `; ${budget(policy.writeBudgets.cluster)} cluster-wide` : ''}`,
    b.enabled
      ? `storm brake: engages on ${limits.join(', ') || 'nothing (no limit set)'} (percentages from ${b.minRemediations} remediations); held remediations ${b.action === 'wait' ? `wait (recheck ${b.recheckSeconds}s, at most ${b.maxWaitSeconds}s)` : 'only observe'}; release ${b.release}`
      : 'storm brake: off (a brake engaged by hand still holds)',
  ].join('\n');
}

function labelsOf(values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new CliError(`--label takes key=value, got ${JSON.stringify(v)}`);
    labels[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return labels;
}

function policyPath(file: string | undefined, deps: OperatorCliDeps): string {
  const path = file ?? (deps.config ?? loadTalonConfig()).policy?.path;
  if (!path) throw new CliError('no policy file: pass --file or set TALON_POLICY_FILE');
  return path;
}

export async function policyCheckAction(
  file: string,
  opts: { json?: boolean },
  deps: OperatorCliDeps = {},
): Promise<OperatorPolicy> {
  const policy = await loadPolicy(file);
  say(deps, opts.json ? JSON.stringify(policy, null, 2) : `${file}: valid\n${describePolicy(policy)}`);
  return policy;
}

export async function policyShowAction(
  opts: { file?: string; alert: string; namespace?: string; node?: boolean; label?: string[]; json?: boolean },
  deps: OperatorCliDeps = {},
) {
  const path = policyPath(opts.file, deps);
  const policy = await loadPolicy(path);
  const resolved = resolvePolicy(policy, {
    alertName: opts.alert,
    labels: {
      alertname: opts.alert,
      ...labelsOf(opts.label ?? []),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
    },
    kind: opts.node ? 'node' : 'pod',
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
  });
  const text = [
    `policy ${resolved.version} for ${opts.alert}${opts.namespace ? ` in ${opts.namespace}` : ''}:`,
    `overrides applied: ${resolved.matched.join(', ') || 'none (defaults)'}`,
    ...(resolved.protectedBy !== undefined ? [`PROTECTED (${resolved.protectedBy}): Talon changes nothing here`] : []),
    ...describeSettings(resolved.settings),
  ].join('\n');
  say(deps, opts.json ? JSON.stringify(resolved, null, 2) : text);
  return resolved;
}

/** The scopes `talon brake status` reports and the state of each. */
export interface BrakeReport {
  readonly scopes: readonly { readonly scope: BrakeScope; readonly state: BrakeState }[];
  readonly latches: readonly BrakeLatch[];
  readonly policyVersion?: string;
}

async function withBrake<T>(
  deps: OperatorCliDeps,
  fn: (tools: {
    config: TalonConfig;
    latches: BrakeLatchStore;
    check: ReturnType<typeof createOperatorActivities>['checkStormBrake'];
    policy?: OperatorPolicy;
  }) => Promise<T>,
): Promise<T> {
  const config = deps.config ?? loadTalonConfig();
  let clients;
  try {
    clients = createKubeClients(loadKubeConfig(config.kube));
  } catch (err) {
    throw new CliError(`cannot reach Kubernetes: ${errorMessage(err)}`, err);
  }
  const latches = new BrakeLatchStore(clients, config.talonNamespace);
  const policy = config.policy ? await loadPolicy(config.policy.path) : undefined;
  return withTalonClient(config, async (talon) => {
    const activities = createOperatorActivities({
      policy: () => policy,
      talonNamespace: config.talonNamespace,
      taskQueue: config.temporal.taskQueue,
      brake: { ...liveBrakeSources(talon.temporal.workflow, clients, config.talonNamespace), latches },
      cacheMs: 0,
    });
    return fn({ config, latches, check: (input) => activities.checkStormBrake(input), ...(policy ? { policy } : {}) });
  });
}

export async function brakeStatusAction(
  opts: { namespace?: string[]; json?: boolean },
  deps: OperatorCliDeps = {},
): Promise<BrakeReport> {
  const report = await withBrake(deps, async ({ check, latches, policy }) => {
    const config = policy?.stormBrake ?? DEFAULT_STORM_BRAKE;
    const scopes: { scope: BrakeScope; state: BrakeState }[] = [];
    const nodes = await check({ kind: 'node', config });
    scopes.push({ scope: 'cluster', state: nodes }, { scope: 'nodes', state: nodes });
    for (const namespace of opts.namespace ?? []) {
      scopes.push({ scope: `namespace/${namespace}`, state: await check({ kind: 'pod', namespace, config }) });
    }
    return { scopes, latches: await latches.read(), ...(policy ? { policyVersion: policy.version } : {}) };
  });
  say(deps, opts.json ? JSON.stringify(report, null, 2) : formatBrake(report));
  return report;
}

/** One line per scope: engaged or released, why, and the latches. Pure. */
export function formatBrake(report: BrakeReport): string {
  const engagedIn = (scope: BrakeScope, state: BrakeState) =>
    state.trips.some((t) => t.scope === scope) || state.latched.some((l) => l.scope === scope);
  const lines = report.scopes.map(({ scope, state }) => {
    const counts =
      scope === 'cluster'
        ? `${state.counts.remediations} remediations running`
        : scope === 'nodes'
          ? `${state.counts.nodes?.underRemediation ?? 0} of ${state.counts.nodes?.total ?? '?'} nodes under remediation`
          : `${state.counts.namespace?.underRemediation ?? 0} of ${state.counts.namespace?.pods ?? '?'} pods under remediation${state.counts.namespace?.remediations !== undefined ? ` (${state.counts.namespace.remediations} remediations)` : ''}`;
    return `${scope.padEnd(24)} ${engagedIn(scope, state) ? 'ENGAGED ' : 'released'}  ${counts}`;
  });
  const held = report.scopes.find(({ state }) => state.engaged);
  return [
    `storm brake (policy ${report.policyVersion ?? 'none: built-in limits'})`,
    ...lines,
    ...(held ? [describeBrake(held.state)] : []),
    ...(report.latches.length > 0
      ? [
          'held until released by hand:',
          ...report.latches.map((l) => `  ${l.scope} since ${l.since} by ${l.by}: ${l.reason}`),
        ]
      : []),
  ].join('\n');
}

function checkScope(value: string): BrakeScope {
  if (!isBrakeScope(value))
    throw new CliError(`--scope must be cluster, nodes or namespace/<name>, got ${JSON.stringify(value)}`);
  return value;
}

export async function brakeReleaseAction(
  opts: { scope?: string; all?: boolean; by: string },
  deps: OperatorCliDeps = {},
) {
  if (!opts.all && !opts.scope) throw new CliError('say which: --scope <cluster|nodes|namespace/<name>> or --all');
  const scope = opts.all ? 'all' : checkScope(opts.scope!);
  const released = await withBrake(deps, ({ latches }) => latches.release(scope));
  say(
    deps,
    released.length === 0
      ? `nothing was held by hand${scope === 'all' ? '' : ` in ${scope}`} (an automatic brake releases by itself once the counts are back under the limits)`
      : `released by ${opts.by}: ${released.map((l) => l.scope).join(', ')}`,
  );
  return released;
}

export async function brakeEngageAction(
  opts: { scope: string; reason: string; by: string },
  deps: OperatorCliDeps = {},
) {
  const scope = checkScope(opts.scope);
  const latched = await withBrake(deps, ({ latches }) =>
    latches.latch([{ scope, since: new Date().toISOString(), reason: opts.reason, by: opts.by }]),
  );
  say(deps, `storm brake engaged by ${opts.by} for ${scope} until \`talon brake release --scope ${scope}\``);
  return latched;
}

export function registerOperatorCommands(program: Command, deps: OperatorCliDeps = {}): void {
  const policy = program
    .command('policy')
    .description('the operator policy file (autonomy, approvals, limits, storm brake)');
  policy
    .command('check')
    .description('validate a policy file and describe it (exit 1 with the error when it is not valid)')
    .argument('<file>', 'the YAML policy file')
    .option('--json', 'print the resolved policy as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      await policyCheckAction(file, opts, deps);
    });
  policy
    .command('show')
    .description('what the policy lets Talon do for one alert (the overrides that apply, the settings in force)')
    .requiredOption('--alert <name>', 'the alert name')
    .option('--namespace <ns>', 'the target namespace (pod alerts)')
    .option('--node', 'a node alert')
    .option('--label <key=value>', 'an alert label (repeatable)', (v: string, all: string[] = []) => [...all, v])
    .option('--file <file>', 'the policy file (default: TALON_POLICY_FILE)')
    .option('--json', 'print the resolution as JSON')
    .action(
      async (opts: {
        alert: string;
        namespace?: string;
        node?: boolean;
        label?: string[];
        file?: string;
        json?: boolean;
      }) => {
        await policyShowAction(opts, deps);
      },
    );
  policy
    .command('schema')
    .description("print the policy file's JSON Schema")
    .action(() => say(deps, JSON.stringify(policyJsonSchema(), null, 2)));

  const brake = program.command('brake').description('the storm brake: status, release, engage by hand');
  brake
    .command('status')
    .description('whether the storm brake holds remediations, per scope, with the counts it is judged on')
    .option('--namespace <ns>', 'also judge this namespace (repeatable)', (v: string, all: string[] = []) => [
      ...all,
      v,
    ])
    .option('--json', 'print the report as JSON')
    .action(async (opts: { namespace?: string[]; json?: boolean }) => {
      await brakeStatusAction(opts, deps);
    });
  brake
    .command('release')
    .description('release a brake held by hand or under release: manual')
    .option('--scope <scope>', 'cluster, nodes or namespace/<name>')
    .option('--all', 'every scope')
    .requiredOption('--by <who>', 'who releases it, for the record')
    .action(async (opts: { scope?: string; all?: boolean; by: string }) => {
      await brakeReleaseAction(opts, deps);
    });
  brake
    .command('engage')
    .description('hold new remediations of a scope until released by hand (maintenance, an incident)')
    .requiredOption('--scope <scope>', 'cluster, nodes or namespace/<name>')
    .requiredOption('--reason <text>', 'why, shown to everyone the brake holds')
    .requiredOption('--by <who>', 'who engages it, for the record')
    .action(async (opts: { scope: string; reason: string; by: string }) => {
      await brakeEngageAction(opts, deps);
    });
}
