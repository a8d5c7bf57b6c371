/**
 * The Smart Pricing SDK: ask a Talon server for an offer (`GET /api/offers`), buy a bundle or a
 * pay-as-you-go contract (a `pricingContract` workflow), submit tasks under it, read its status and close
 * it. A refused submission rejects with {@link ContractRefusedError} carrying the contract's reason.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ContractTerms } from '../domain/pricing/metering';
import {
  closeContractSignal,
  CONTRACT_REFUSALS,
  CONTRACT_WORKFLOW_TYPE,
  contractStatusQuery,
  contractWorkflowId,
  submitToContractUpdate,
  type ContractInput,
  type ContractRefusal,
  type ContractSettings,
  type ContractStatus,
  type ContractSubmission,
  type ContractSubmitted,
} from '../contracts/pricing-contract';

/** The documents' offer parameters (D3.6 Figure 7), plus Talon's `start`. */
export type OfferParameters =
  | ({ readonly bundle_name: string } & OfferOptions)
  | ({ readonly cpu_time_hours: number; readonly vcpus: number; readonly memory_GBs: number } & OfferOptions);

interface OfferOptions {
  readonly elasticity_cpu?: number;
  readonly elasticity_ram?: number;
  readonly apply_dynamic_discount?: boolean;
  readonly start?: string;
}

/** The documents' response fields (D3.6 Figure 8), and Talon's extras under `talon`. */
export interface OfferResponse {
  readonly 'Price per vCPU-hour before Discount (€/vCPU-hour)': number;
  readonly 'Price per GB RAM-hour before Discount (€/GB-hour)': number;
  readonly 'Total Price before Discount (€)': number;
  readonly 'Dynamic Demand-based Discount (%)': number;
  readonly 'Bundle Discount (%)': number;
  readonly 'Total Discount (%)': number;
  readonly 'Price per vCPU-hour after Discount (€/vCPU-hour)': number;
  readonly 'Price per GB RAM-hour after Discount (€/GB-hour)': number;
  readonly 'Total Price after Discount (€)': number;
  readonly 'Acceptance Probability': number;
  readonly 'Expected Revenue after Discount (€)': number;
  readonly 'Electricity Cost (€)': number;
  readonly 'MEC Utility after Discount (€)': number;
  readonly talon: Readonly<Record<string, unknown>>;
}

/** The server refused the offer request (4xx) or could not answer (5xx). */
export class OfferRequestError extends Error {
  override readonly name = 'OfferRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface OfferClientOptions {
  /** Base URL of a Talon webhook server, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly bearerToken?: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** Offers over HTTP, from a running Talon server. */
export class OfferClient {
  constructor(private readonly options: OfferClientOptions) {}

  async offer(params: OfferParameters): Promise<OfferResponse> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, String(v));
    const url = `${this.options.url.replace(/\/+$/, '')}/api/offers?${query.toString()}`;
    const res = await (this.options.fetch ?? fetch)(url, {
      headers: this.options.bearerToken ? { authorization: `Bearer ${this.options.bearerToken}` } : {},
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const details = body.details;
      const detail = Array.isArray(details) ? `: ${details.join('; ')}` : '';
      throw new OfferRequestError(
        res.status,
        typeof body.error === 'string' ? body.error : 'http_error',
        `${typeof body.message === 'string' ? body.message : `HTTP ${res.status}`}${detail}`,
        details,
      );
    }
    return body as unknown as OfferResponse;
  }
}

/** The contract refused the submission; `code` says why (exhausted, busy, expired, closed). */
export class ContractRefusedError extends Error {
  override readonly name = 'ContractRefusedError';
  constructor(
    readonly contractId: string,
    readonly code: ContractRefusal,
    message: string,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

export class ContractNotFoundError extends Error {
  override readonly name = 'ContractNotFoundError';
  constructor(
    readonly contractId: string,
    cause?: unknown,
  ) {
    super(`no contract ${contractId}`, { cause });
  }
}

export interface BuyContractRequest {
  readonly contractId: string;
  readonly terms: ContractTerms;
  readonly owner?: string;
  /** Namespace the contract's task Jobs run in (default `default`). */
  readonly namespace?: string;
  readonly settings?: Partial<ContractSettings>;
}

export interface ContractHandle {
  readonly contractId: string;
  readonly workflowId: string;
  /** Runs a task under the contract; rejects with ContractRefusedError when it cannot pay for it. */
  submit(submission: ContractSubmission): Promise<ContractSubmitted>;
  status(): Promise<ContractStatus>;
  /** No new submissions; the contract ends once its running tasks are metered. */
  close(reason?: string): Promise<void>;
  /** The final statement, once the contract has ended. */
  result(): Promise<ContractStatus>;
}

const isRefusal = (type: string | undefined | null): type is ContractRefusal =>
  (CONTRACT_REFUSALS as readonly string[]).includes(type ?? '');

/** Contracts through Temporal (`TalonClient.temporal` and its task queue). */
export class ContractClient {
  constructor(
    private readonly temporal: Client,
    private readonly taskQueue: string,
  ) {}

  /** Starts the contract's workflow; buying an id twice is an error, not a second contract. */
  async buy(request: BuyContractRequest): Promise<ContractHandle> {
    const input: ContractInput = {
      contractId: request.contractId,
      terms: request.terms,
      purchasedAt: new Date().toISOString(),
      ...(request.owner ? { owner: request.owner } : {}),
      ...(request.namespace ? { namespace: request.namespace } : {}),
      ...(request.settings ? { settings: request.settings } : {}),
    };
    try {
      await this.temporal.workflow.start(CONTRACT_WORKFLOW_TYPE, {
        workflowId: contractWorkflowId(request.contractId),
        taskQueue: this.taskQueue,
        args: [input],
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new Error(`contract ${request.contractId} already exists`, { cause: err });
      }
      throw err;
    }
    return this.contract(request.contractId);
  }

  contract(contractId: string): ContractHandle {
    const workflowId = contractWorkflowId(contractId);
    const handle = this.temporal.workflow.getHandle(workflowId);
    const notFound = (err: unknown): never => {
      if (err instanceof WorkflowNotFoundError) throw new ContractNotFoundError(contractId, err);
      throw err;
    };
    return {
      contractId,
      workflowId,
      submit: async (submission) => {
        try {
          return await handle.executeUpdate(submitToContractUpdate, { args: [submission] });
        } catch (err) {
          const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
          if (cause instanceof ApplicationFailure && isRefusal(cause.type)) {
            throw new ContractRefusedError(contractId, cause.type, cause.message, err);
          }
          if (err instanceof WorkflowNotFoundError) {
            // The workflow ended (closed, expired or exhausted): its statement says which.
            const final = await this.contract(contractId)
              .result()
              .catch(() => undefined);
            if (final) {
              const code: ContractRefusal =
                final.state === 'expired'
                  ? 'ContractExpired'
                  : final.state === 'exhausted'
                    ? 'ContractExhausted'
                    : 'ContractClosed';
              throw new ContractRefusedError(contractId, code, `the contract has ended (${final.state})`, err);
            }
          }
          return notFound(err);
        }
      },
      status: async () => {
        try {
          return await handle.query(contractStatusQuery);
        } catch (err) {
          return notFound(err);
        }
      },
      close: async (reason) => {
        try {
          await handle.signal(closeContractSignal, reason);
        } catch (err) {
          notFound(err);
        }
      },
      result: async () => {
        try {
          return (await handle.result()) as ContractStatus;
        } catch (err) {
          return notFound(err);
        }
      },
    };
  }
}
