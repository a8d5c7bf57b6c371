/**
 * The webhook's reading of the operator policy file: an alert on a namespace the policy protects is refused at
 * the door (Talon would change nothing there, so no workflow is started for it), with a reason naming the rule
 * and the policy version. Everything else the policy decides happens in the worker, step by step.
 */
import { resolvePolicy, type OperatorPolicy } from '../domain/autonomy';
import type { NormalisedBatch, RejectedAlert } from './payloads';

export function screenByPolicy(batch: NormalisedBatch, policy: OperatorPolicy | undefined): NormalisedBatch {
  if (!policy) return batch;
  const refused: RejectedAlert[] = [];
  const indexes: number[] = [];
  const alerts = batch.alerts.filter((alert, i) => {
    const index = batch.indexes?.[i] ?? -1;
    if (alert.target.kind !== 'pod') {
      indexes.push(index);
      return true;
    }
    const resolved = resolvePolicy(policy, {
      alertName: alert.alertName,
      labels: alert.labels,
      kind: 'pod',
      namespace: alert.target.namespace,
    });
    if (resolved.protectedBy === undefined) {
      indexes.push(index);
      return true;
    }
    refused.push({
      index,
      alertname: alert.alertName,
      reason: `namespace ${alert.target.namespace} is protected by the operator policy (${resolved.protectedBy}, version ${policy.version}): Talon changes nothing there`,
    });
    return false;
  });
  if (refused.length === 0) return batch;
  const rejected = [...batch.rejected, ...refused].sort((a, b) => a.index - b.index);
  return { ...batch, alerts, indexes, rejected };
}
