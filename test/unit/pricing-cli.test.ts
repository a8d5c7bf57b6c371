/** `talon offer` and `talon contract` actions without a process: validation, output, the SVG, refusals. */
import { ContractRefusedError, type ContractClient } from '../../src/client/pricing';
import { buyAction, contractSubmitAction, offerAction, type OfferCliDeps } from '../../src/cli/offer-commands';
import { CliError } from '../../src/cli/errors';
import type { ContractStatus } from '../../src/contracts/pricing-contract';
import type { ContractTerms } from '../../src/domain/pricing/metering';
import { DEFAULT_PRICING_CONFIG } from '../../src/pricing/config';
import { OfferService } from '../../src/pricing/offer-service';

const NOW = Date.parse('2025-03-03T12:00:00Z');

function deps(extra: Partial<OfferCliDeps> = {}) {
  const out: string[] = [];
  const files = new Map<string, string>();
  const d: OfferCliDeps = {
    io: { out: (t) => out.push(t) },
    pricing: () => new OfferService({ config: DEFAULT_PRICING_CONFIG, now: () => NOW }),
    writeFile: async (p, t) => {
      files.set(p, t);
    },
    ...extra,
  };
  return { d, out, files };
}

describe('talon offer', () => {
  it('prints the offer and writes the picture', async () => {
    const { d, out, files } = deps();
    const body = await offerAction({ bundle: 'Ultimate Bundle', dynamicDiscount: true, svg: 'offer.svg' }, d);
    expect(body['Bundle Discount (%)']).toBe(25);
    expect(out.join('\n')).toMatch(/Ultimate Bundle: 3000 vCPU-hours, 12000 GB-hours, 32 vCPUs for 93.75 h/);
    expect(out.join('\n')).toMatch(/no Prometheus configured/);
    expect(files.get('offer.svg')).toMatch(/^<svg/);
  });

  it('prints the documents’ fields as JSON', async () => {
    const { d, out } = deps();
    await offerAction({ cpuTimeHours: '10', vcpus: '4', memoryGbs: '16', json: true }, d);
    expect(JSON.parse(out[0]!)).toHaveProperty('Total Price after Discount (€)');
  });

  it.each([
    [{ vcpus: '4' }, /cpu_time_hours is required/],
    [{ bundle: 'gold' }, /unknown bundle/],
    [{ bundle: 'basic', elasticityCpu: '-1' }, /elasticity_cpu must be at least/],
    [{ cpuTimeHours: '1', vcpus: '1', memoryGbs: '512' }, /memory_GBs must be at most 256/],
  ])('refuses %o with the parameter named', async (opts, why) => {
    const { d } = deps();
    const err = await offerAction(opts, d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(why);
  });
});

describe('talon contract', () => {
  const status = (terms: ContractTerms): ContractStatus => ({
    contractId: 'c1',
    state: 'active',
    terms,
    purchasedAt: new Date(NOW).toISOString(),
    used: { vcpuHours: 0, gbHours: 0 },
    charged: { vcpuHours: 0, gbHours: 0 },
    cost: 0,
    remaining: { vcpuHours: terms.vcpuHours, gbHours: terms.ramGbHours },
    running: [],
    jobsMetered: 0,
    userOwnedShare: 0,
    submitted: 0,
    refused: 0,
    recentCharges: [],
    tasks: [],
  });

  it('buy prices the offer and starts a contract with its terms', async () => {
    let bought: ContractTerms | undefined;
    const contracts = {
      buy: async (req: { terms: ContractTerms }) => {
        bought = req.terms;
        return { status: async () => status(req.terms) };
      },
    } as unknown as ContractClient;
    const { d, out } = deps({ contracts: async () => ({ contracts, close: async () => undefined }) });
    await buyAction('c1', { bundle: 'standard' }, d);
    expect(bought).toMatchObject({
      kind: 'bundle',
      bundle: 'standard',
      vcpuHours: 300,
      ramGbHours: 1200,
      maxSimultaneousVcpus: 4,
      userOwnedIncentivePercent: 15,
    });
    expect(bought!.upfrontPrice).toBeGreaterThan(0);
    expect(out.join('\n')).toMatch(/contract c1 \(standard bundle\): active/);
  });

  it('a refused submission is an error with the contract’s reason', async () => {
    const contracts = {
      contract: () => ({
        submit: async () =>
          Promise.reject(new ContractRefusedError('c1', 'ContractExhausted', 'the contract has 0 vCPU-hours left')),
      }),
    } as unknown as ContractClient;
    const { d } = deps({ contracts: async () => ({ contracts, close: async () => undefined }) });
    const err = await contractSubmitAction('c1', 'interpolation', { priorities: 'quality=70,energy=30' }, d).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toBe('refused (ContractExhausted): the contract has 0 vCPU-hours left');
  });
});
