/**
 * What the faces (SDK, CLI) and the `pricingContract` workflow share about a purchased bundle or a
 * pay-as-you-go contract: its input, the submission update, the status query, the close signal and the
 * failure types a refused submission carries. Imported by workflows, so deterministic (no I/O).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Charge, ContractTerms, Ledger, Remaining, Reservation, Totals } from '../domain/pricing/metering';
import type { DeployTaskSettings, TaskDataInput } from './deploy-task';

export const CONTRACT_WORKFLOW_TYPE = 'pricingContract';

/** The workflow id of contract `id`: one workflow per contract. */
export function contractWorkflowId(id: string): string {
  return `contract-${id}`;
}

/** Why a submission was refused; each is the type of the update's ApplicationFailure. */
export const CONTRACT_REFUSALS = ['ContractExpired', 'ContractBusy', 'ContractExhausted', 'ContractClosed'] as const;
export type ContractRefusal = (typeof CONTRACT_REFUSALS)[number];

export interface ContractSettings {
  /** Once the contract has nothing left and no task runs, it ends after this long (default an hour). */
  readonly closeWhenExhaustedAfterSeconds: number;
  /** Metering re-reads a task's Jobs while one still runs, this often and this many times. */
  readonly meterRetrySeconds: number;
  readonly meterRetries: number;
  /** Charges kept in the status (the ledger keeps every uid). */
  readonly recentCharges: number;
}

export const DEFAULT_CONTRACT_SETTINGS: ContractSettings = {
  closeWhenExhaustedAfterSeconds: 3600,
  meterRetrySeconds: 10,
  meterRetries: 30,
  recentCharges: 20,
};

/** State a contract carries across continue-as-new. */
export interface ContractCarried {
  readonly ledger: Ledger;
  readonly submitted: number;
  readonly refused: number;
  readonly lastRefusal?: string;
  readonly tasks: readonly ContractTaskRecord[];
}

export interface ContractInput {
  readonly contractId: string;
  readonly terms: ContractTerms;
  /** Who bought it, free text for the statement. */
  readonly owner?: string;
  /** When it was bought (ISO); the workflow start time when absent. */
  readonly purchasedAt?: string;
  /** Namespace the contract's task Jobs run in unless a submission says otherwise (default `default`). */
  readonly namespace?: string;
  readonly settings?: Partial<ContractSettings>;
  /** Set by the workflow itself when it continues as new. */
  readonly carried?: ContractCarried;
}

/** A task submitted under a contract: the fields of a task submission. */
export interface ContractSubmission {
  readonly task: string;
  readonly priorities: Readonly<Record<string, number>>;
  readonly input?: TaskDataInput;
  readonly namespace?: string;
  readonly settings?: Partial<DeployTaskSettings>;
}

export interface ContractSubmitted {
  /** The `deployTask` workflow running the task (the SDK's task handle works with it). */
  readonly taskId: string;
  /** The Job deadline the contract allowed (the submission's own or less). */
  readonly runTimeoutSeconds: number;
  readonly reservation: Reservation;
}

export interface ContractTaskRecord {
  readonly taskId: string;
  readonly task: string;
  readonly outcome: 'succeeded' | 'failed' | 'cancelled';
  readonly jobs: number;
  readonly vcpuHours: number;
  readonly gbHours: number;
  readonly cost: number;
  readonly meteredAt: string;
}

export type ContractState = 'active' | 'exhausted' | 'expired' | 'closed';

export interface ContractStatus {
  readonly contractId: string;
  readonly state: ContractState;
  readonly terms: ContractTerms;
  readonly owner?: string;
  readonly purchasedAt: string;
  /** Consumed (requests × run time) and debited (less the user-owned incentive). */
  readonly used: Totals;
  readonly charged: Totals;
  readonly cost: number;
  /** What is left once what ran and what is reserved by running tasks are taken off. */
  readonly remaining: Remaining;
  readonly running: readonly Reservation[];
  readonly jobsMetered: number;
  /** Share of consumed vCPU-hours that ran on user-owned (non-commercial) nodes. */
  readonly userOwnedShare: number;
  readonly submitted: number;
  readonly refused: number;
  readonly lastRefusal?: string;
  readonly recentCharges: readonly Charge[];
  readonly tasks: readonly ContractTaskRecord[];
}

export const submitToContractUpdate = defineUpdate<ContractSubmitted, [ContractSubmission]>('submitToContract');
export const contractStatusQuery = defineQuery<ContractStatus>('contractStatus');
export const closeContractSignal = defineSignal<[reason?: string]>('closeContract');
