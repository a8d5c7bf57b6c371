/**
 * Metering of a purchased bundle or a pay-as-you-go contract: what a task Job consumed (its requests times
 * its observed run time), the ledger that charges each Job once (keyed by the Job's uid, so a retried or
 * replayed metering cannot count anything twice), and the admission rule that refuses a submission the
 * contract could not pay for. Pure: the `contract` workflow keeps the ledger, activities read the Jobs.
 *
 * Admission reserves the worst case: every attempt of the task running until its deadline. The deadline is
 * the submission's own, shortened to what the contract has left, so even a Job that runs to its deadline
 * cannot take the contract past its limits. A submission that could not run for `minRunSeconds` (or for its
 * expected run time, when longer) is refused. The reservation is released when the task is metered.
 */
import type { BundleId } from './bundles';

export interface ContractTerms {
  readonly kind: 'bundle' | 'payg';
  readonly bundle?: BundleId;
  /** vCPU-hours the contract covers (a bundle's total); unbounded when absent. */
  readonly vcpuHours?: number;
  /** RAM GB-hours the contract covers; unbounded when absent. */
  readonly ramGbHours?: number;
  /** vCPUs requested at once by the contract's running tasks; unbounded when absent. */
  readonly maxSimultaneousVcpus?: number;
  /** Prices after discount, fixed for the contract's life (€ per vCPU-hour and per GB-hour). */
  readonly pricePerVcpuHour: number;
  readonly pricePerGbHour: number;
  /** Discount (%) on work that ran on user-owned (non-commercial) nodes. */
  readonly userOwnedIncentivePercent: number;
  /** Pay-as-you-go: most the contract may cost (€); unbounded when absent. */
  readonly budget?: number;
  /** Submissions are refused from then on (ISO); a pay-as-you-go contract ends with its pricing period. */
  readonly validUntil?: string;
  /** Shortest run a submission must be able to afford, in seconds (default 60). */
  readonly minRunSeconds?: number;
  /** What the buyer paid upfront (a bundle's total after discount), for the statement. */
  readonly upfrontPrice?: number;
  /**
   * Shortest run time billed, in seconds (default 1): Kubernetes records Job times in whole seconds, and a
   * Job that started and finished within one still held its requests.
   */
  readonly minBilledSeconds?: number;
}

export const DEFAULT_MIN_BILLED_SECONDS = 1;

export const DEFAULT_MIN_RUN_SECONDS = 60;

/** What one Job used, as read from Kubernetes once it finished. */
export interface JobUsage {
  readonly uid: string;
  readonly job: string;
  readonly namespace: string;
  readonly node?: string;
  readonly userOwned: boolean;
  /** CPU cores and memory (GiB) the Job's pod requested. */
  readonly vcpus: number;
  readonly memoryGb: number;
  /** Observed run time: Job start to completion (or failure), whole seconds. */
  readonly seconds: number;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

export interface Charge {
  readonly uid: string;
  readonly job: string;
  readonly task: string;
  readonly node?: string;
  readonly userOwned: boolean;
  /** Billed run time: the observed one, at least the contract's minimum. */
  readonly seconds: number;
  /** Consumed: requests × run time. */
  readonly vcpuHours: number;
  readonly gbHours: number;
  /** Debited: consumed, less the user-owned incentive. */
  readonly chargedVcpuHours: number;
  readonly chargedGbHours: number;
  readonly cost: number;
}

export interface Totals {
  readonly vcpuHours: number;
  readonly gbHours: number;
}

export interface Ledger {
  /** Every Job charged, by uid. */
  readonly charges: Readonly<Record<string, Charge>>;
  readonly used: Totals;
  readonly charged: Totals;
  readonly cost: number;
  /** Consumed vCPU-hours that ran on user-owned nodes. */
  readonly userOwnedVcpuHours: number;
}

export const EMPTY_LEDGER: Ledger = {
  charges: {},
  used: { vcpuHours: 0, gbHours: 0 },
  charged: { vcpuHours: 0, gbHours: 0 },
  cost: 0,
  userOwnedVcpuHours: 0,
};

/** The charge for one Job under the contract's terms. */
export function chargeFor(terms: ContractTerms, usage: JobUsage, task: string): Charge {
  const seconds = Math.max(terms.minBilledSeconds ?? DEFAULT_MIN_BILLED_SECONDS, usage.seconds);
  const hours = seconds / 3600;
  const vcpuHours = Math.max(0, usage.vcpus) * hours;
  const gbHours = Math.max(0, usage.memoryGb) * hours;
  const factor = usage.userOwned ? 1 - terms.userOwnedIncentivePercent / 100 : 1;
  const chargedVcpuHours = vcpuHours * factor;
  const chargedGbHours = gbHours * factor;
  return {
    uid: usage.uid,
    job: usage.job,
    task,
    ...(usage.node ? { node: usage.node } : {}),
    userOwned: usage.userOwned,
    seconds,
    vcpuHours,
    gbHours,
    chargedVcpuHours,
    chargedGbHours,
    cost: chargedVcpuHours * terms.pricePerVcpuHour + chargedGbHours * terms.pricePerGbHour,
  };
}

export interface Applied {
  readonly ledger: Ledger;
  readonly charged: readonly Charge[];
  /** Jobs already in the ledger: seen again, counted once. */
  readonly duplicates: readonly string[];
}

/** Adds the Jobs not charged yet; a uid already in the ledger (or twice in `usages`) is skipped. */
export function applyUsage(ledger: Ledger, terms: ContractTerms, usages: readonly JobUsage[], task: string): Applied {
  const charges: Record<string, Charge> = { ...ledger.charges };
  const charged: Charge[] = [];
  const duplicates: string[] = [];
  let { used, cost, userOwnedVcpuHours } = ledger;
  let debited = ledger.charged;
  for (const usage of usages) {
    if (!usage.uid || charges[usage.uid]) {
      duplicates.push(usage.uid);
      continue;
    }
    const c = chargeFor(terms, usage, task);
    charges[usage.uid] = c;
    charged.push(c);
    used = { vcpuHours: used.vcpuHours + c.vcpuHours, gbHours: used.gbHours + c.gbHours };
    debited = { vcpuHours: debited.vcpuHours + c.chargedVcpuHours, gbHours: debited.gbHours + c.chargedGbHours };
    cost += c.cost;
    if (c.userOwned) userOwnedVcpuHours += c.vcpuHours;
  }
  return { ledger: { charges, used, charged: debited, cost, userOwnedVcpuHours }, charged, duplicates };
}

/** A running submission's hold on the contract: its worst case, until it is metered. */
export interface Reservation {
  readonly taskId: string;
  readonly task: string;
  readonly vcpus: number;
  readonly memoryGb: number;
  readonly runTimeoutSeconds: number;
  readonly attempts: number;
  readonly vcpuHours: number;
  readonly gbHours: number;
  readonly cost: number;
  readonly reservedAt: string;
}

export interface SubmissionEstimate {
  /** Requests of the task's Job (cores, GiB), as placement will set them. */
  readonly vcpus: number;
  readonly memoryGb: number;
  /** Expected run time from the algorithm's measurements, when known. */
  readonly expectedSeconds?: number;
}

export type Admission =
  | {
      readonly ok: true;
      readonly runTimeoutSeconds: number;
      readonly reservation: Omit<Reservation, 'taskId' | 'task' | 'reservedAt'>;
    }
  | {
      readonly ok: false;
      readonly code: 'ContractExpired' | 'ContractBusy' | 'ContractExhausted' | 'ContractClosed';
      readonly reason: string;
    };

const sum = (rs: readonly Reservation[], f: (r: Reservation) => number) => rs.reduce((a, r) => a + f(r), 0);

export interface Remaining {
  readonly vcpuHours?: number;
  readonly gbHours?: number;
  readonly budget?: number;
}

/** What the contract has left once what ran and what is reserved are taken off. */
export function remaining(terms: ContractTerms, ledger: Ledger, reservations: readonly Reservation[]): Remaining {
  return {
    ...(terms.vcpuHours !== undefined
      ? { vcpuHours: terms.vcpuHours - ledger.charged.vcpuHours - sum(reservations, (r) => r.vcpuHours) }
      : {}),
    ...(terms.ramGbHours !== undefined
      ? { gbHours: terms.ramGbHours - ledger.charged.gbHours - sum(reservations, (r) => r.gbHours) }
      : {}),
    ...(terms.budget !== undefined ? { budget: terms.budget - ledger.cost - sum(reservations, (r) => r.cost) } : {}),
  };
}

const fmt = (v: number, digits = 4) => Number(v.toFixed(digits)).toString();

/**
 * Whether the contract takes a submission needing `estimate`, wanting to run up to `runTimeoutSeconds` per
 * attempt for `attempts` attempts, at `now` (ms). When it does, the deadline it may run with and its
 * reservation.
 */
export function admitSubmission(
  terms: ContractTerms,
  ledger: Ledger,
  reservations: readonly Reservation[],
  estimate: SubmissionEstimate,
  runTimeoutSeconds: number,
  attempts: number,
  now: number,
): Admission {
  if (terms.validUntil !== undefined && now >= Date.parse(terms.validUntil)) {
    return { ok: false, code: 'ContractExpired', reason: `the contract ended at ${terms.validUntil}` };
  }
  const vcpus = Math.max(estimate.vcpus, 1e-3);
  const memoryGb = Math.max(estimate.memoryGb, 0);
  if (terms.maxSimultaneousVcpus !== undefined) {
    const busy = sum(reservations, (r) => r.vcpus);
    if (busy + vcpus > terms.maxSimultaneousVcpus + 1e-9) {
      return {
        ok: false,
        code: 'ContractBusy',
        reason: `${fmt(busy, 3)} vCPUs already run under the contract; ${fmt(vcpus, 3)} more exceed its ${terms.maxSimultaneousVcpus} simultaneous vCPUs`,
      };
    }
  }
  const left = remaining(terms, ledger, reservations);
  // Seconds per attempt each limit can pay for, all attempts running to their deadline.
  const perHour = {
    vcpuHours: vcpus,
    gbHours: memoryGb,
    budget: vcpus * terms.pricePerVcpuHour + memoryGb * terms.pricePerGbHour,
  };
  let affordable = runTimeoutSeconds;
  let limiting: keyof Remaining | undefined;
  for (const key of ['vcpuHours', 'gbHours', 'budget'] as const) {
    const have = left[key];
    if (have === undefined || perHour[key] <= 0) continue;
    const seconds = (Math.max(0, have) / perHour[key] / attempts) * 3600;
    if (seconds < affordable) {
      affordable = seconds;
      limiting = key;
    }
  }
  const needed = Math.max(terms.minRunSeconds ?? DEFAULT_MIN_RUN_SECONDS, estimate.expectedSeconds ?? 0);
  if (limiting && affordable < needed) {
    const unit = { vcpuHours: 'vCPU-hours', gbHours: 'GB-hours', budget: '€' }[limiting];
    return {
      ok: false,
      code: 'ContractExhausted',
      reason:
        `the contract has ${fmt(Math.max(0, left[limiting] ?? 0))} ${unit} left (after running tasks' reservations); ` +
        `${attempts} attempt(s) of ${fmt(vcpus, 3)} vCPUs and ${fmt(memoryGb, 3)} GB for ${Math.ceil(needed)} s would exceed it`,
    };
  }
  // The epsilon keeps float noise (0.1 h left = 359.999… s) from costing a whole second.
  const deadline = Math.max(1, Math.floor(affordable + 1e-6));
  const hours = (deadline * attempts) / 3600;
  return {
    ok: true,
    runTimeoutSeconds: deadline,
    reservation: {
      vcpus,
      memoryGb,
      runTimeoutSeconds: deadline,
      attempts,
      vcpuHours: vcpus * hours,
      gbHours: memoryGb * hours,
      cost: perHour.budget * hours,
    },
  };
}

/** Whether anything at all is left: a contract with nothing left is exhausted. */
export function exhausted(terms: ContractTerms, ledger: Ledger): boolean {
  const left = remaining(terms, ledger, []);
  return (
    (left.vcpuHours !== undefined && left.vcpuHours <= 1e-12) ||
    (left.gbHours !== undefined && left.gbHours <= 1e-12) ||
    (left.budget !== undefined && left.budget <= 1e-12)
  );
}
