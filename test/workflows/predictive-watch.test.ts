/**
 * The predictive watch on the real Temporal dev server: the real forecastBreaches activity (policy file, breach
 * predictor) over a scripted usage reader, the real dispatchAlerts hand-off, real remediation workflows with stubbed
 * cluster activities and the operator policy resolved from the same file. A forecast breach becomes the workload's
 * remediation, which only recommends (the default predictiveAutonomy); the real alert arriving afterwards starts its
 * own episode and applies (autonomy auto); the predicted alert resolves once the forecast clears; the watch ends
 * when the policy disables it. With TALON_RECORD_HISTORIES=1 the watch's and the remediation's histories are exported
 * for the replay tier.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createIntakeActivities } from '../../activities/intake';
import { nullOperatorActivities } from '../../activities/operator';
import { createPredictiveActivities } from '../../activities/predictive';
import { handOffAlert } from '../../src/client/hand-off';
import { startPredictiveWatch } from '../../src/client/predictive-watch';
import { loadStackConfig, stackEndpoints } from '../../src/config/local-stack';
import { parsePolicyFile } from '../../src/config/policy-file';
import { stateQuery, type RemediationState } from '../../src/contracts/alert-episode';
import type { AuditEntry, OperatorActivities } from '../../src/contracts/operator';
import { AUDIT_MEMO_KEY } from '../../src/contracts/operator';
import {
  predictiveWatchId,
  predictiveWatchStateQuery,
  type PredictiveWatchResult,
} from '../../src/contracts/predictive-watch';
import { alertWorkflowId, type TalonAlert } from '../../src/domain/alert';
import { resolvePolicy } from '../../src/domain/autonomy';
import type { ApplyPolicyInput } from '../../src/domain/remediation';
import type { ContainerUsage } from '../../src/metrics/usage';
import { bundleWorkflows } from '../../workers/bundle';
import { waitFor } from '../support/kube';
import { stubActivities } from '../support/stub-activities';

jest.setTimeout(180_000);

const address = stackEndpoints(loadStackConfig()).temporalAddress;
const record = process.env.TALON_RECORD_HISTORIES === '1';
let bundle: WorkflowBundleWithSourceMap;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  bundle = await bundleWorkflows();
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

const eventually = <T>(probe: () => Promise<T | undefined>, what: string, ms = 90_000): Promise<T> =>
  waitFor(what, ms, probe, 300);

const policyText = (enabled: boolean) => `apiVersion: talon.io/v1alpha1
kind: TalonPolicy
version: 'predictive-test'
defaults:
  autonomy: auto
  cooldown: { defaultSeconds: 2, minSeconds: 1, maxSeconds: 5, historyFactor: 1 }
stormBrake: { enabled: false }
predictive:
  enabled: ${enabled}
  intervalSeconds: 5
  resolveAfter: 1
  resources: [cpu]
`;

describe('predictiveWatch', () => {
  it('raises a forecast breach as a predicted alert, recommends, lets the real alert act, resolves, and ends when disabled', async () => {
    const taskQueue = `predictive-test-${randomBytes(4).toString('hex')}`;
    const namespace = `shop-${randomBytes(3).toString('hex')}`;
    let enabled = true;
    // 2-core limit, usage rising 0.016 cores per 30 s sample: at 77 % of the limit now, over the 80 % line in about 2 minutes.
    let usage: 'ramp' | 'flat' = 'ramp';
    const series = (): ContainerUsage[] => [
      {
        namespace,
        pod: 'web-7c9f8b6d4-x2x9z',
        container: 'app',
        resource: 'cpu',
        limit: 2,
        samples: Array.from({ length: 60 }, (_, i) => (usage === 'ramp' ? 0.6 + 0.016 * i : 0.6)),
      },
    ];
    const policy = () => parsePolicyFile(policyText(enabled), 'policy.yaml');
    const operator: OperatorActivities = {
      ...nullOperatorActivities(),
      resolveOperatorPolicy: async (scope) => resolvePolicy(policy(), scope),
    };
    const applies: (ApplyPolicyInput & { afterRealAlert: boolean })[] = [];
    let realAlertSent = false;
    const stubs = stubActivities(0);
    const workerConnection = await NativeConnection.connect({ address });
    const worker = await Worker.create({
      connection: workerConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: {
        ...stubs,
        ...operator,
        applyPolicy: async (input: ApplyPolicyInput) => {
          applies.push({ ...input, afterRealAlert: realAlertSent });
          return (stubs.applyPolicy as (i: ApplyPolicyInput) => Promise<unknown>)(input);
        },
        ...createIntakeActivities({ temporal: client }),
        ...createPredictiveActivities({ policy, usage: async () => series(), talonNamespace: 'talon-system' }),
      },
    });
    const remediationId = `remediate/${namespace}/web`;
    const remediation = () => client.workflow.getHandle(remediationId);
    const state = (): Promise<RemediationState> => remediation().query(stateQuery);
    try {
      await worker.runUntil(async () => {
        expect(await startPredictiveWatch(client, taskQueue)).toBe('started');
        expect(await startPredictiveWatch(client, taskQueue)).toBe('running');
        const watch = client.workflow.getHandle(predictiveWatchId(taskQueue));

        // The forecast breach: a predicted alert, the workload's own remediation, a recommendation only.
        const recommended = await eventually(async () => {
          const s = await state().catch(() => undefined);
          return s?.outcome === 'no_action' ? s : undefined;
        }, 'the predicted remediation to recommend');
        expect(recommended.alert).toMatchObject({
          alertName: 'TalonPredictedCpuSaturation',
          labels: { talon_predicted: 'true', talon_resource: 'cpu' },
          target: { namespace, pod: 'web-7c9f8b6d4-x2x9z', container: 'app' },
        });
        expect(recommended.alert.annotations.talon_forecast_in_seconds).toMatch(/^\d+$/);
        expect(recommended.operator).toMatchObject({ autonomy: 'recommend' });
        expect(recommended.attempts[0]).toMatchObject({ policy: 'cpu_scale_up', applied: false });
        expect(applies).toEqual([]);
        const memo = (await remediation().describe()).memo?.[AUDIT_MEMO_KEY] as AuditEntry[];
        expect(memo.map((e) => e.decision)).toContain('recommend');
        const watching = await watch.query(predictiveWatchStateQuery);
        expect(watching.firing).toEqual([
          expect.objectContaining({
            alert: 'TalonPredictedCpuSaturation',
            target: `${namespace}/web-7c9f8b6d4-x2x9z/app`,
          }),
        ]);
        expect(watching.last).toMatchObject({ enabled: true, forecast: 1, breaches: 1 });

        // The real alert comes while the forecast still fires: its own episode, at its own autonomy (auto).
        const real: TalonAlert = {
          source: 'alertmanager',
          alertName: 'TalonPodCpuNearLimit',
          status: 'firing',
          fingerprint: `real-${randomBytes(4).toString('hex')}`,
          target: { kind: 'pod', namespace, pod: 'web-7c9f8b6d4-x2x9z', container: 'app' },
          labels: { alertname: 'TalonPodCpuNearLimit', talon_resource: 'cpu' },
          annotations: {},
          startsAt: new Date().toISOString(),
        };
        expect(alertWorkflowId(real)).toBe(remediationId);
        realAlertSent = true;
        await handOffAlert(client, taskQueue, {}, real);
        await eventually(async () => (applies.length >= 1 ? true : undefined), 'the real alert’s change');
        // The change relieved it: the rule resolves (before the cool-down's next policy, in all likelihood).
        await handOffAlert(client, taskQueue, {}, { ...real, status: 'resolved' });
        expect(applies[0]).toMatchObject({ policy: 'cpu_scale_up', target: { namespace, pod: 'web-7c9f8b6d4-x2x9z' } });
        const acting = await state();
        expect(acting.episode).toBe(2);
        expect(acting.operator).toMatchObject({ autonomy: 'auto' });

        // The forecast clears: the predicted alert resolves (resolveAfter 1), nothing more is raised.
        usage = 'flat';
        await eventually(async () => {
          const s = await watch.query(predictiveWatchStateQuery);
          return s.firing.length === 0 && (s.last?.breaches ?? 1) === 0 ? s : undefined;
        }, 'the predicted alert to resolve');

        // The policy turns the watch off: it ends, saying why.
        enabled = false;
        const result = (await watch.result()) as PredictiveWatchResult;
        expect(result.reason).toMatch(/^disabled by policy predictive-test@/);
        expect(result.rounds).toBeGreaterThanOrEqual(3);
        // Nothing was ever changed on the forecast's account.
        expect(applies.every((a) => a.afterRealAlert)).toBe(true);
        if (record) {
          const histories = join(__dirname, '..', 'replay', 'histories');
          await writeFile(join(histories, 'predictive-watch.json'), historyToJSON(await watch.fetchHistory()));
          // The workload's remediation: a recommendation on the forecast, then the real alert's own episode.
          await writeFile(
            join(histories, 'predicted-then-real-alert.json'),
            historyToJSON(await remediation().fetchHistory()),
          );
        }
      });
    } finally {
      await remediation()
        .terminate('test over')
        .catch(() => undefined);
      await workerConnection.close();
    }
  });
});
