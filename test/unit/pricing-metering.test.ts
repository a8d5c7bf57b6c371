/** Metering: one charge per Job uid, the user-owned incentive, and admission that never lets a contract overrun. */
import {
  admitSubmission,
  applyUsage,
  EMPTY_LEDGER,
  exhausted,
  remaining,
  type ContractTerms,
  type JobUsage,
  type Reservation,
} from '../../src/domain/pricing/metering';

const terms: ContractTerms = {
  kind: 'bundle',
  bundle: 'basic',
  vcpuHours: 1,
  ramGbHours: 4,
  maxSimultaneousVcpus: 2,
  pricePerVcpuHour: 0.08,
  pricePerGbHour: 0.01,
  userOwnedIncentivePercent: 20,
};
const job = (uid: string, over: Partial<JobUsage> = {}): JobUsage => ({
  uid,
  job: `job-${uid}`,
  namespace: 'default',
  userOwned: false,
  vcpus: 0.5,
  memoryGb: 1,
  seconds: 720,
  ...over,
});
const now = Date.parse('2025-03-03T12:00:00Z');

describe('applyUsage', () => {
  it('charges requests × observed run time', () => {
    const { ledger, charged } = applyUsage(EMPTY_LEDGER, terms, [job('a')], 'interpolation');
    expect(charged).toHaveLength(1);
    expect(ledger.used.vcpuHours).toBeCloseTo(0.1, 12);
    expect(ledger.used.gbHours).toBeCloseTo(0.2, 12);
    expect(ledger.cost).toBeCloseTo(0.1 * 0.08 + 0.2 * 0.01, 12);
  });

  it('counts a Job once however often it is seen', () => {
    const first = applyUsage(EMPTY_LEDGER, terms, [job('a'), job('b')], 't');
    const again = applyUsage(first.ledger, terms, [job('b'), job('c'), job('c')], 't');
    expect(again.duplicates).toEqual(['b', 'c']);
    expect(Object.keys(again.ledger.charges).sort()).toEqual(['a', 'b', 'c']);
    expect(again.ledger.used.vcpuHours).toBeCloseTo(0.3, 12);
    // A Job without a uid cannot be told apart from another: not charged.
    expect(applyUsage(EMPTY_LEDGER, terms, [job('')], 't').charged).toHaveLength(0);
  });

  it('work on user-owned nodes is debited less and reported', () => {
    const { ledger } = applyUsage(EMPTY_LEDGER, terms, [job('a', { userOwned: true, node: 'edge-home-1' })], 't');
    expect(ledger.used.vcpuHours).toBeCloseTo(0.1, 12);
    expect(ledger.charged.vcpuHours).toBeCloseTo(0.08, 12);
    expect(ledger.userOwnedVcpuHours).toBeCloseTo(0.1, 12);
  });
});

describe('admitSubmission', () => {
  const reservation = (vcpus: number, vcpuHours: number): Reservation => ({
    taskId: 'x',
    task: 't',
    vcpus,
    memoryGb: 1,
    runTimeoutSeconds: 600,
    attempts: 1,
    vcpuHours,
    gbHours: 0,
    cost: 0,
    reservedAt: new Date(now).toISOString(),
  });

  it('admits with the requested deadline when the contract can pay for it, and reserves the worst case', () => {
    const a = admitSubmission(terms, EMPTY_LEDGER, [], { vcpus: 0.5, memoryGb: 1 }, 600, 2, now);
    expect(a).toMatchObject({ ok: true, runTimeoutSeconds: 600 });
    if (a.ok) expect(a.reservation.vcpuHours).toBeCloseTo((0.5 * 600 * 2) / 3600, 12);
  });

  it('shortens the deadline to what is left, so a run to the deadline cannot overrun', () => {
    const used = applyUsage(EMPTY_LEDGER, terms, [job('a', { vcpus: 1, seconds: 3240 })], 't').ledger; // 0.9 vCPU-h
    const a = admitSubmission(terms, used, [], { vcpus: 1, memoryGb: 0.5 }, 600, 1, now);
    expect(a).toMatchObject({ ok: true, runTimeoutSeconds: 360 });
    if (a.ok) expect(used.charged.vcpuHours + a.reservation.vcpuHours).toBeLessThanOrEqual(terms.vcpuHours! + 1e-12);
  });

  it('refuses what would exceed the contract, saying what is left', () => {
    const used = applyUsage(EMPTY_LEDGER, terms, [job('a', { vcpus: 1, seconds: 3590 })], 't').ledger;
    const a = admitSubmission(terms, used, [], { vcpus: 1, memoryGb: 0.5 }, 600, 1, now);
    expect(a).toMatchObject({ ok: false, code: 'ContractExhausted' });
    if (!a.ok) expect(a.reason).toMatch(/0\.0028 vCPU-hours left/);
    // Running tasks' reservations count as spent.
    const b = admitSubmission(
      terms,
      EMPTY_LEDGER,
      [reservation(0.5, 0.995)],
      { vcpus: 0.5, memoryGb: 0.5 },
      600,
      1,
      now,
    );
    expect(b).toMatchObject({ ok: false, code: 'ContractExhausted' });
  });

  it('refuses beyond the simultaneous vCPUs', () => {
    const a = admitSubmission(terms, EMPTY_LEDGER, [reservation(1.5, 0.1)], { vcpus: 1, memoryGb: 1 }, 600, 1, now);
    expect(a).toMatchObject({ ok: false, code: 'ContractBusy' });
  });

  it('refuses after the contract ended and when the budget is spent', () => {
    const payg: ContractTerms = {
      ...terms,
      kind: 'payg',
      vcpuHours: undefined,
      ramGbHours: undefined,
      budget: 0.01,
      validUntil: '2025-03-03T11:00:00Z',
    };
    expect(admitSubmission(payg, EMPTY_LEDGER, [], { vcpus: 1, memoryGb: 1 }, 600, 1, now)).toMatchObject({
      ok: false,
      code: 'ContractExpired',
    });
    const open = { ...payg, validUntil: '2025-03-10T00:00:00Z' };
    // 0.01 € buys 0.01 / 0.09 h ≈ 400 s of 1 vCPU + 1 GB.
    expect(admitSubmission(open, EMPTY_LEDGER, [], { vcpus: 1, memoryGb: 1 }, 600, 1, now)).toMatchObject({
      ok: true,
      runTimeoutSeconds: 400,
    });
    const spent = applyUsage(EMPTY_LEDGER, open, [job('a', { vcpus: 1, seconds: 400 })], 't').ledger;
    expect(admitSubmission(open, spent, [], { vcpus: 1, memoryGb: 1 }, 600, 1, now)).toMatchObject({
      ok: false,
      code: 'ContractExhausted',
    });
  });

  it('a long expected run needs that much left', () => {
    const a = admitSubmission(terms, EMPTY_LEDGER, [], { vcpus: 2, memoryGb: 1, expectedSeconds: 3000 }, 3600, 1, now);
    expect(a).toMatchObject({ ok: false, code: 'ContractExhausted' });
  });
});

describe('remaining and exhausted', () => {
  it('a bundle whose vCPU-hours are spent is exhausted', () => {
    const spent = applyUsage(EMPTY_LEDGER, terms, [job('a', { vcpus: 1, seconds: 3600, memoryGb: 0 })], 't').ledger;
    expect(remaining(terms, spent, []).vcpuHours).toBeCloseTo(0, 12);
    expect(exhausted(terms, spent)).toBe(true);
    expect(exhausted(terms, EMPTY_LEDGER)).toBe(false);
  });
});

describe('billing granularity', () => {
  it('a Job that started and finished within the same second is billed the minimum', () => {
    const { ledger } = applyUsage(EMPTY_LEDGER, terms, [job('a', { seconds: 0, vcpus: 1, memoryGb: 0 })], 't');
    expect(ledger.used.vcpuHours).toBeCloseTo(1 / 3600, 12);
    const coarse = applyUsage(
      EMPTY_LEDGER,
      { ...terms, minBilledSeconds: 60 },
      [job('b', { seconds: 5, vcpus: 1 })],
      't',
    );
    expect(coarse.charged[0]!.seconds).toBe(60);
  });
});
