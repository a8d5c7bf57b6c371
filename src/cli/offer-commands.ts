/**
 * `talon offer` and `talon contract buy | submit | status | close`: Smart Pricing from the command line
 * (D3.6 §2.7). `offer` prices a bundle or a pay-as-you-go request with the same parameters and checks as
 * `GET /api/offers` — locally from Prometheus and Kubernetes, or from a running server with `--url` — and
 * can draw the price–demand balance (`--svg`). `contract buy` prices the offer and starts its contract;
 * tasks submitted under it are metered until it has nothing left. Each command is an exported action
 * function (tests call them without a process).
 */
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { TalonClient } from '../client/talon-client';
import {
  ContractClient,
  ContractRefusedError,
  OfferClient,
  type OfferParameters,
  type OfferResponse,
} from '../client/pricing';
import { termsFromOffer } from '../domain/pricing/contract-terms';
import type { Offer, OfferRequest } from '../domain/pricing/offer';
import { PricingInputError } from '../domain/pricing/stackelberg';
import { parsePriorities } from '../domain/priorities';
import { priceDemandSvg } from '../pricing/chart-svg';
import { pricingConfigFromEnv } from '../pricing/config';
import { parseOfferQuery } from '../pricing/offer-query';
import type { ContextStatus, PricedOffer } from '../pricing/offer-service';
import { offerServiceFromConfig } from '../pricing/service-factory';
import type { ContractStatus, ContractSubmitted } from '../contracts/pricing-contract';
import { loadTalonConfig, type TalonConfig } from '../config/talon-config';
import { CliError } from './errors';

export interface OfferCliIo {
  readonly out: (text: string) => void;
}

/** What the commands price with: the local OfferService (or a stand-in in tests). */
export interface LocalPricing {
  offer(request: OfferRequest): Promise<PricedOffer>;
  context(): Promise<ContextStatus>;
  stop?(): void;
}

export interface OfferCliDeps {
  readonly io?: OfferCliIo;
  readonly config?: TalonConfig;
  readonly pricing?: () => LocalPricing;
  readonly contracts?: () => Promise<{ contracts: ContractClient; close(): Promise<void> }>;
  readonly writeFile?: (path: string, text: string) => Promise<void>;
}

const processIo: OfferCliIo = { out: (text) => process.stdout.write(`${text}\n`) };

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export interface OfferOptions {
  readonly bundle?: string;
  readonly cpuTimeHours?: string;
  readonly vcpus?: string;
  readonly memoryGbs?: string;
  readonly elasticityCpu?: string;
  readonly elasticityRam?: string;
  readonly dynamicDiscount?: boolean;
  readonly start?: string;
  readonly url?: string;
  readonly token?: string;
  readonly json?: boolean;
  readonly svg?: string;
}

/** The options as the documents' query parameters (strings, as in a URL), validated like the REST route. */
export function offerQuery(opts: OfferOptions): Record<string, string> {
  const q: Record<string, string> = {};
  const set = (k: string, v: string | boolean | undefined) => {
    if (v !== undefined) q[k] = String(v);
  };
  set('bundle_name', opts.bundle);
  set('cpu_time_hours', opts.cpuTimeHours);
  set('vcpus', opts.vcpus);
  set('memory_GBs', opts.memoryGbs);
  set('elasticity_cpu', opts.elasticityCpu);
  set('elasticity_ram', opts.elasticityRam);
  if (opts.dynamicDiscount) set('apply_dynamic_discount', true);
  set('start', opts.start);
  return q;
}

function checkedRequest(opts: OfferOptions) {
  const parsed = parseOfferQuery(offerQuery(opts));
  if (!parsed.ok)
    throw new CliError(`${parsed.message}${parsed.problems.length ? `: ${parsed.problems.join('; ')}` : ''}`);
  return parsed.request;
}

function localPricing(deps: OfferCliDeps): LocalPricing {
  if (deps.pricing) return deps.pricing();
  const config = deps.config ?? loadTalonConfig();
  let pricing;
  try {
    pricing = pricingConfigFromEnv();
  } catch (err) {
    throw new CliError(message(err), err);
  }
  return offerServiceFromConfig({ prometheusUrl: config.prometheusUrl, kube: config.kube, pricing });
}

const eur = (v: number, digits = 2) => `${v.toFixed(digits)} €`;
const pct = (v: number) => `${Number(v.toFixed(2))} %`;

/** The offer in a few lines: what, prices before and after, totals, the provider's view, where it came from. */
export function formatOffer(body: OfferResponse): string {
  const t = body.talon as Record<string, unknown> & {
    bundle: string | null;
    vcpu_hours: number;
    ram_gb_hours: number;
    vcpus: number;
    hours: number;
    dynamic_discount_available_percent: number;
    user_owned_price_per_vcpu_hour: number;
    user_owned_price_per_gb_hour: number;
    valid_from: string;
    valid_until: string;
    context?: { history_steps: number; forecast: { cpu: { method: string } }; energy: string; notes: string[] };
  };
  const lines = [
    `${t.bundle ?? 'Pay-as-you-go'}: ${t.vcpu_hours} vCPU-hours, ${t.ram_gb_hours} GB-hours, ${t.vcpus} vCPUs for ${t.hours} h`,
    `  per vCPU-hour   ${body['Price per vCPU-hour before Discount (€/vCPU-hour)']} € → ${body['Price per vCPU-hour after Discount (€/vCPU-hour)']} €`,
    `  per GB-hour     ${body['Price per GB RAM-hour before Discount (€/GB-hour)']} € → ${body['Price per GB RAM-hour after Discount (€/GB-hour)']} €`,
    `  total           ${eur(body['Total Price before Discount (€)'])} → ${eur(body['Total Price after Discount (€)'])}`,
    `  discount        ${pct(body['Total Discount (%)'])} (bundle ${pct(body['Bundle Discount (%)'])}, dynamic ${pct(body['Dynamic Demand-based Discount (%)'])}; ${pct(t.dynamic_discount_available_percent)} available at these hours)`,
    `  provider        acceptance ${(body['Acceptance Probability'] * 100).toFixed(1)} %, expected revenue ${eur(body['Expected Revenue after Discount (€)'])}, electricity ${eur(body['Electricity Cost (€)'])}, utility ${eur(body['MEC Utility after Discount (€)'])}`,
    `  user-owned      ${t.user_owned_price_per_vcpu_hour} €/vCPU-hour, ${t.user_owned_price_per_gb_hour} €/GB-hour`,
    `  valid           ${t.valid_from} → ${t.valid_until}`,
  ];
  if (t.context) {
    lines.push(
      `  priced from     ${t.context.history_steps} steps of demand (${t.context.forecast.cpu.method}); energy: ${t.context.energy}`,
    );
    for (const note of t.context.notes) lines.push(`  note            ${note}`);
  }
  return lines.join('\n');
}

/** The SVG of an offer's game: each resource's demand, revenue and utility over the price, optimum marked. */
export function offerChart(offer: Offer, context: ContextStatus): string {
  const c = context.built.context;
  const game = (r: 'cpu' | 'ram') => ({
    marketPrice: offer.marketPrice[r],
    elasticity: offer.elasticity[r],
    unitCost: offer.unitCost[r],
    demand:
      c.periodDemand[r] > 0
        ? c.periodDemand[r]
        : r === 'cpu'
          ? offer.quantities.vcpuHours
          : offer.quantities.ramGbHours,
    ...(c.periodCapacity ? { capacity: c.periodCapacity[r] } : {}),
    ...(c.minPriceFactor !== undefined ? { minPriceFactor: c.minPriceFactor } : {}),
    ...(c.maxPriceFactor !== undefined ? { maxPriceFactor: c.maxPriceFactor } : {}),
  });
  return priceDemandSvg(
    [
      { title: `vCPU (elasticity ${offer.elasticity.cpu})`, unit: 'vCPU-hour', game: game('cpu') },
      { title: `RAM (elasticity ${offer.elasticity.ram})`, unit: 'GB-hour', game: game('ram') },
    ],
    {
      title: 'Price–demand balance: the Stackelberg optimum of the pricing period',
      subtitle:
        (c.periodDemand.cpu > 0
          ? `demand: ${c.period.hours} h forecast from ${context.built.report.historySteps} steps (${context.built.report.forecast.cpu.method})`
          : `demand: this offer's quantities (the ${c.period.hours} h forecast from ${context.built.report.historySteps} steps is 0)`) +
        `; electricity from ${context.built.report.power.source === 'kepler' ? 'Kepler' : 'power profiles'}`,
    },
  );
}

export async function offerAction(opts: OfferOptions, deps: OfferCliDeps = {}): Promise<OfferResponse> {
  const io = deps.io ?? processIo;
  const request = checkedRequest(opts);
  let body: OfferResponse;
  if (opts.url) {
    if (opts.svg) throw new CliError('--svg draws a locally priced offer: drop --url');
    try {
      body = await new OfferClient({ url: opts.url, ...(opts.token ? { bearerToken: opts.token } : {}) }).offer(
        offerQuery(opts) as unknown as OfferParameters,
      );
    } catch (err) {
      throw new CliError(message(err), err);
    }
  } else {
    const pricing = localPricing(deps);
    try {
      const priced = await pricing.offer(request);
      body = priced.body as unknown as OfferResponse;
      if (opts.svg) {
        await (deps.writeFile ?? ((p, t) => writeFile(p, t)))(
          opts.svg,
          offerChart(priced.offer, await pricing.context()),
        );
      }
    } catch (err) {
      if (err instanceof PricingInputError) throw new CliError(err.message, err);
      throw err;
    } finally {
      pricing.stop?.();
    }
  }
  io.out(opts.json ? JSON.stringify(body, null, 2) : formatOffer(body));
  if (opts.svg && !opts.json) io.out(`  picture         ${opts.svg}`);
  return body;
}

async function withContracts<T>(deps: OfferCliDeps, fn: (contracts: ContractClient) => Promise<T>): Promise<T> {
  if (deps.contracts) {
    const c = await deps.contracts();
    try {
      return await fn(c.contracts);
    } finally {
      await c.close();
    }
  }
  const config = deps.config ?? loadTalonConfig();
  let talon: TalonClient;
  try {
    talon = await TalonClient.connect(config.temporal);
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${config.temporal.address}: ${message(err)}`, err);
  }
  try {
    return await fn(new ContractClient(talon.temporal, talon.taskQueue));
  } finally {
    await talon.close();
  }
}

export interface BuyOptions extends OfferOptions {
  readonly budget?: string;
  readonly owner?: string;
  readonly namespace?: string;
}

export async function buyAction(id: string, opts: BuyOptions, deps: OfferCliDeps = {}): Promise<ContractStatus> {
  const io = deps.io ?? processIo;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(id)) {
    throw new CliError(`a contract id is letters, digits, dots, dashes and underscores, got ${JSON.stringify(id)}`);
  }
  const budget = opts.budget !== undefined ? Number(opts.budget) : undefined;
  if (budget !== undefined && !(budget > 0))
    throw new CliError(`--budget must be a positive amount of €, got ${opts.budget}`);
  const request = checkedRequest(opts);
  const pricing = localPricing(deps);
  let priced: PricedOffer;
  try {
    priced = await pricing.offer(request);
  } catch (err) {
    if (err instanceof PricingInputError) throw new CliError(err.message, err);
    throw err;
  } finally {
    pricing.stop?.();
  }
  const terms = termsFromOffer(priced.offer, budget !== undefined ? { budget } : {});
  const status = await withContracts(deps, async (contracts) => {
    const contract = await contracts
      .buy({
        contractId: id,
        terms,
        ...(opts.owner ? { owner: opts.owner } : {}),
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
      })
      .catch((err: unknown) => {
        throw new CliError(message(err), err);
      });
    return contract.status();
  });
  io.out(
    opts.json
      ? JSON.stringify({ offer: priced.body, contract: status }, null, 2)
      : `${formatOffer(priced.body as unknown as OfferResponse)}\n${formatContract(status)}`,
  );
  return status;
}

export function formatContract(s: ContractStatus): string {
  const t = s.terms;
  const r = s.remaining;
  const limit = (v: number | undefined, left: number | undefined, unit: string) =>
    v === undefined ? '' : `${Number(left?.toFixed(4))} of ${v} ${unit} left`;
  const lines = [
    `contract ${s.contractId} (${t.kind === 'bundle' ? `${t.bundle} bundle` : 'pay-as-you-go'}): ${s.state}`,
    `  prices       ${Number(t.pricePerVcpuHour.toFixed(5))} €/vCPU-hour, ${Number(t.pricePerGbHour.toFixed(5))} €/GB-hour${t.upfrontPrice !== undefined ? `, paid ${eur(t.upfrontPrice)} upfront` : ''}`,
    `  left         ${[limit(t.vcpuHours, r.vcpuHours, 'vCPU-hours'), limit(t.ramGbHours, r.gbHours, 'GB-hours'), limit(t.budget, r.budget, '€')].filter(Boolean).join(', ') || 'no volume limit'}${t.validUntil ? `; until ${t.validUntil}` : ''}`,
    `  used         ${Number(s.used.vcpuHours.toFixed(6))} vCPU-hours, ${Number(s.used.gbHours.toFixed(6))} GB-hours in ${s.jobsMetered} Job(s); cost ${eur(s.cost, 4)}`,
    `  user-owned   ${(s.userOwnedShare * 100).toFixed(1)} % of the vCPU-hours ran on user-owned nodes`,
    `  tasks        ${s.submitted} submitted, ${s.running.length} running, ${s.refused} refused${s.lastRefusal ? ` (last: ${s.lastRefusal})` : ''}`,
  ];
  for (const task of s.tasks.slice(-5)) {
    lines.push(
      `    ${task.taskId}  ${task.task} ${task.outcome}, ${task.jobs} Job(s), ${Number(task.vcpuHours.toFixed(6))} vCPU-h, ${eur(task.cost, 4)}`,
    );
  }
  return lines.join('\n');
}

export async function contractStatusAction(id: string, opts: { json?: boolean }, deps: OfferCliDeps = {}) {
  const io = deps.io ?? processIo;
  const status = await withContracts(deps, (contracts) =>
    contracts
      .contract(id)
      .status()
      .catch((err: unknown) => {
        throw new CliError(message(err), err);
      }),
  );
  io.out(opts.json ? JSON.stringify(status, null, 2) : formatContract(status));
  return status;
}

export interface ContractSubmitOptions {
  readonly priorities: string;
  readonly namespace?: string;
  readonly json?: boolean;
}

export async function contractSubmitAction(
  id: string,
  task: string,
  opts: ContractSubmitOptions,
  deps: OfferCliDeps = {},
): Promise<ContractSubmitted> {
  const io = deps.io ?? processIo;
  let priorities: Record<string, number>;
  try {
    priorities = parsePriorities(opts.priorities);
  } catch (err) {
    throw new CliError(message(err), err);
  }
  const submitted = await withContracts(deps, (contracts) =>
    contracts
      .contract(id)
      .submit({ task, priorities, ...(opts.namespace ? { namespace: opts.namespace } : {}) })
      .catch((err: unknown) => {
        if (err instanceof ContractRefusedError) throw new CliError(`refused (${err.code}): ${err.message}`, err);
        throw new CliError(message(err), err);
      }),
  );
  io.out(
    opts.json
      ? JSON.stringify(submitted, null, 2)
      : `${submitted.taskId} (deadline ${submitted.runTimeoutSeconds} s, reserved ${Number(submitted.reservation.vcpuHours.toFixed(6))} vCPU-hours; follow it with \`talon task status ${submitted.taskId}\`)`,
  );
  return submitted;
}

export async function contractCloseAction(id: string, opts: { reason?: string }, deps: OfferCliDeps = {}) {
  const io = deps.io ?? processIo;
  await withContracts(deps, (contracts) =>
    contracts
      .contract(id)
      .close(opts.reason)
      .catch((err: unknown) => {
        throw new CliError(message(err), err);
      }),
  );
  io.out(`contract ${id}: closing (running tasks are metered first)`);
}

const text = (value: string) => {
  if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
  return value;
};

function offerOptions(cmd: Command): Command {
  return cmd
    .option('--bundle <name>', 'a bundle: basic, standard, professional, enterprise, ultimate (or "Ultimate Bundle")')
    .option('--cpu-time-hours <n>', 'pay-as-you-go: total CPU time in vCPU-hours')
    .option('--vcpus <n>', 'pay-as-you-go: vCPUs at once (1-128)')
    .option('--memory-gbs <n>', 'pay-as-you-go: RAM in GB (1-256)')
    .option('--elasticity-cpu <x>', 'price elasticity of demand for CPU (default 0.5)')
    .option('--elasticity-ram <x>', 'price elasticity of demand for RAM (default 0.5)')
    .option('--dynamic-discount', 'apply the demand-based discount of the forecast hours')
    .option('--start <iso>', 'when the resources are first used (default now)');
}

export function registerPricingCommands(program: Command, deps: OfferCliDeps = {}): Command {
  offerOptions(
    program.command('offer').description('price a bundle or a pay-as-you-go request (Smart Pricing, D3.6 §2.7)'),
  )
    .option('--url <url>', 'ask a running Talon server (GET /api/offers) instead of pricing locally')
    .option('--token <token>', 'bearer token for --url')
    .option('--svg <file>', 'also write the price–demand balance of the offer as SVG')
    .option('--json', "print the documents' response fields as JSON")
    .action(async (opts: OfferOptions) => {
      await offerAction(opts, deps);
    });

  const contract = program.command('contract').description('bundles and pay-as-you-go contracts, metered durably');
  offerOptions(
    contract.command('buy').description('price the offer and start its contract').argument('<id>', 'a new contract id'),
  )
    .option('--budget <eur>', 'pay-as-you-go: most the contract may cost')
    .option('--owner <name>', 'who bought it', text)
    .option('--namespace <ns>', 'namespace of its task Jobs (default: default)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: BuyOptions) => {
      await buyAction(id, opts, deps);
    });
  contract
    .command('submit')
    .description('run a task under the contract; refused when the contract cannot pay for it')
    .argument('<id>', 'the contract id')
    .argument('<task>', 'a task of the taxonomy')
    .requiredOption('-p, --priorities <list>', 'what to optimise, e.g. quality=70,energy=30')
    .option('--namespace <ns>', 'namespace of the Job')
    .option('--json', 'print JSON')
    .action(async (id: string, task: string, opts: ContractSubmitOptions) => {
      await contractSubmitAction(id, task, opts, deps);
    });
  contract
    .command('status')
    .description('what the contract has used and has left, its running and metered tasks')
    .argument('<id>', 'the contract id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await contractStatusAction(id, opts, deps);
    });
  contract
    .command('close')
    .description('accept no more submissions; the contract ends once its running tasks are metered')
    .argument('<id>', 'the contract id')
    .option('--reason <text>', 'why', text)
    .action(async (id: string, opts: { reason?: string }) => {
      await contractCloseAction(id, opts, deps);
    });
  return program;
}
