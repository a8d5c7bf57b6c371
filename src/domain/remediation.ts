/**
 * The contract between the remediation workflows and the actuator activities: what to apply to which pod,
 * and what was applied and observed. Pure types. (The settings a remediation runs with are part of its
 * workflow's contract: src/contracts/remediate-alert.ts and node-overload.ts.)
 */
import type { PolicyName } from './policy';

export interface PodTarget {
  readonly namespace: string;
  readonly pod: string;
  readonly container?: string;
}

export interface ApplyPolicyInput {
  readonly target: PodTarget;
  readonly policy: PolicyName;
  readonly magnitude: number;
  /** Stable per workflow attempt so a retried activity recognises its own earlier write. */
  readonly operationId: string;
  readonly dryRun: boolean;
  /** The operator policy's limits for this change (the version that decided it); the worker's guards otherwise. */
  readonly limits?: OperatorLimits;
}

/**
 * What the policy file adds to a change's guards: its protected namespaces (added to the worker's), its write
 * budgets, and its growth caps (which only narrow the worker's bounds).
 */
export interface OperatorLimits {
  readonly policyVersion: string;
  readonly protectedNamespaces: readonly string[];
  readonly writeBudget: { readonly maxWrites: number; readonly windowSeconds: number };
  readonly clusterWriteBudget?: { readonly maxWrites: number; readonly windowSeconds: number };
  readonly containerCpuMax?: string;
  readonly containerMemoryMax?: string;
  readonly replicasMax?: number;
  readonly maxFactor?: Readonly<Partial<Record<PolicyName, number>>>;
}

export interface AppliedChange {
  readonly path: string;
  readonly from?: string;
  readonly to?: string;
}

export interface ApplyPolicyResult {
  readonly policy: PolicyName;
  readonly magnitude: number;
  /** One line for people: "scale cpu of shop/web-7f9 ×1.5 (500m → 750m)". */
  readonly summary: string;
  readonly changes: readonly AppliedChange[];
  /** Nothing had to change (already applied by an earlier attempt, or already at the target). */
  readonly noop: boolean;
  readonly dryRun: boolean;
  /** What verification should find; opaque to the workflow. */
  readonly expectation: unknown;
}

export interface VerifyPolicyResult {
  readonly ok: boolean;
  /** What was observed, e.g. "rollout complete: 2/2 replicas with cpu limit 750m". */
  readonly observed: string;
}
