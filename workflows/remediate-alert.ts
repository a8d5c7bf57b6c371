/**
 * One alert episode, from first notification to outcome. Deterministic: everything that touches the
 * world happens in activities; time only through workflow timers.
 */
import { condition, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { TargetActivities } from '../activities/target';
import { describeTarget, type TalonAlert } from '../src/domain/alert';
import {
  alertFiredSignal,
  alertResolvedSignal,
  cancelSignal,
  stateQuery,
  type RemediationOutcome,
  type RemediationState,
  type RemediationStep,
} from '../src/shared/definitions';

export interface RemediateAlertInput {
  readonly alert: TalonAlert;
  /** How long to wait for the alert to resolve before calling a human; ISO or ms string (e.g. '10m'). */
  readonly resolveWithin?: string;
}

export interface RemediateAlertResult {
  readonly outcome: RemediationOutcome;
  readonly notifications: number;
  readonly target: string;
}

const { readTarget } = proxyActivities<TargetActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

export async function remediateAlert(input: RemediateAlertInput): Promise<RemediateAlertResult> {
  const { alert } = input;
  let step: RemediationStep = 'starting';
  let firing = alert.status === 'firing';
  let notifications = 0;
  let cancelled = false;
  let targetSnapshot: unknown;
  let outcome: RemediationOutcome | undefined = undefined;

  setHandler(alertFiredSignal, () => {
    notifications += 1;
    firing = true;
  });
  setHandler(alertResolvedSignal, () => {
    firing = false;
  });
  setHandler(cancelSignal, () => {
    cancelled = true;
  });
  setHandler(stateQuery, (): RemediationState => ({
    workflowId: workflowInfo().workflowId,
    alert,
    step,
    firing,
    notifications,
    attempts: [],
    ...(outcome ? { outcome } : {}),
    ...(targetSnapshot ? { targetSnapshot } : {}),
  }));

  upsertSearchAttributes({
    TalonAlertName: [alert.alertName],
    TalonTarget: [describeTarget(alert.target)],
    ...(alert.target.kind === 'pod' ? { TalonNamespace: [alert.target.namespace] } : {}),
  });

  step = 'gather';
  if (alert.target.kind === 'pod') {
    targetSnapshot = await readTarget({ namespace: alert.target.namespace, pod: alert.target.pod });
  }

  step = 'cooldown';
  await condition(() => !firing || cancelled, input.resolveWithin ?? '10m');
  outcome = cancelled ? 'cancelled' : firing ? 'needs_human' : 'resolved';
  step = 'done';
  upsertSearchAttributes({ TalonOutcome: [outcome] });
  return { outcome, notifications, target: describeTarget(alert.target) };
}
