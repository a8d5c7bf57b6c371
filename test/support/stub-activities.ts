/**
 * Talon's activities with every cluster, metrics and model call stubbed, for scale-out tests and the
 * benchmark: the real workflows run unchanged; applyPolicy takes `applyMs` (heartbeating) so a worker
 * can be killed while a cluster change is in flight.
 */
import { Context } from '@temporalio/activity';
import type { PolicyDecision } from '../../src/domain/policy';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import type { FeatureWindow } from '../../src/domain/window';
import { MODEL_FEATURES } from '../../src/domain/features';
import { nullOperatorActivities } from '../../activities/operator';

const RANKED: PolicyDecision = {
  source: 'model',
  ranked: [
    { policy: 'cpu_scale_up', score: 0.7, magnitude: 1.5, reason: 'cpu near limit' },
    { policy: 'replica_scale_up', score: 0.2, magnitude: 2, reason: 'spread load' },
    { policy: 'no_action', score: 0.1, magnitude: 1, reason: '' },
  ],
};

/** A full-quality feature window of 0.9 everywhere: enough for any policy stub to decide on. */
export function stubWindow(stepSeconds = 15): FeatureWindow {
  return {
    kind: 'window',
    target: { namespace: 'shop', pod: 'web' },
    source: 'prometheus',
    end: 1_795_000_000,
    stepSeconds,
    steps: 10,
    features: MODEL_FEATURES,
    values: Array.from({ length: 10 }, () => MODEL_FEATURES.map(() => 0.9)),
    observed: Array.from({ length: 10 }, () => MODEL_FEATURES.map(() => true)),
    absentFeatures: [],
    quality: { realFraction: 1, stalenessSeconds: 0, freshness: 1, score: 1, coverage: 1 },
  };
}

/** What readTarget answers for a running pod of a Deployment on edge-0. */
export function stubPodSnapshot(ref: { namespace: string; pod: string }) {
  return {
    namespace: ref.namespace,
    name: ref.pod,
    uid: 'u',
    node: 'edge-0',
    phase: 'Running',
    ready: true,
    owner: { kind: 'ReplicaSet', name: 'web-rs' },
    labels: {},
    annotations: {},
    containers: [],
    resourceVersion: '1',
  };
}

async function busy(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    Context.current().heartbeat();
    await new Promise((r) => setTimeout(r, Math.min(250, end - Date.now())));
  }
}

/** What workloadProfile answers for a workload with no remediation history (the cool-down uses its default). */
export const STUB_PROFILE = {
  namespace: 'shop',
  workload: 'web',
  sinceSeconds: 3600,
  history: {},
  remediations: { total: 0, byOutcome: {} },
};

export function stubActivities(applyMs: number): Record<string, (...args: never[]) => Promise<unknown>> {
  return {
    ...nullOperatorActivities(),
    readTarget: async (ref: { namespace: string; pod: string }) => stubPodSnapshot(ref),
    gatherWindow: async () => stubWindow(),
    decidePolicy: async () => RANKED,
    workloadProfile: async () => STUB_PROFILE,
    recordOutcome: async () => ({ written: true }),
    applyPolicy: async (input: ApplyPolicyInput): Promise<ApplyPolicyResult> => {
      if (applyMs > 0) await busy(applyMs);
      return {
        policy: input.policy,
        magnitude: input.magnitude,
        summary: `${input.policy} ×${input.magnitude} (stub)`,
        changes: [],
        noop: false,
        dryRun: input.dryRun,
        expectation: { kind: 'none', reason: 'stub' },
      };
    },
    verifyPolicy: async () => ({ ok: true, observed: 'stub' }),
  };
}
