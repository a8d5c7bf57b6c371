/**
 * The contract between the remediation workflows and the actuator activities, and the settings a
 * remediation runs with (part of the workflow input, so a replay sees the same ones). Pure types.
 */
import { DEFAULT_COOLDOWN, type CooldownConfig } from './cooldown';
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

export interface RemediationSettings {
  /** Policies tried per episode before calling a human. */
  readonly maxAttempts: number;
  readonly cooldown: CooldownConfig;
  /** Policies that wait for an `approve` update before they are applied. */
  readonly requireApproval: readonly PolicyName[];
  readonly approvalTimeoutSeconds: number;
  /** Report what would change (server-side dry run) instead of changing it. */
  readonly dryRun: boolean;
}

export const DEFAULT_REMEDIATION_SETTINGS: RemediationSettings = {
  maxAttempts: 3,
  cooldown: DEFAULT_COOLDOWN,
  requireApproval: [],
  approvalTimeoutSeconds: 900,
  dryRun: false,
};

export interface NodeOverloadSettings {
  /** How long the node stays tainted after the eviction (D3.6 Rule 2: 60 s). */
  readonly untaintAfterSeconds: number;
  readonly dryRun: boolean;
}

/** Settings every remediation handed off by one face (webhook, CLI, SDK) starts with; part of the workflow input. */
export interface RemediationStartSettings {
  readonly remediation?: Partial<RemediationSettings>;
  readonly nodeOverload?: Partial<NodeOverloadSettings>;
}

export const DEFAULT_NODE_OVERLOAD_SETTINGS: NodeOverloadSettings = { untaintAfterSeconds: 60, dryRun: false };
