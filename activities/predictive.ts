/**
 * The predictive watch's activity: one forecast round. It takes the policy's `predictive` section in force, reads
 * the watched containers' usage through the metrics activities' Prometheus reader (src/metrics/usage.ts), runs
 * the breach predictor (src/domain/forecast/breach.ts) on each, and answers only what the workflow acts on: the
 * breaches, the containers already over their threshold, and counts. A read: safe to retry.
 */
import { z } from 'zod';
import { globMatches, type OperatorPolicy } from '../src/domain/autonomy';
import { predictBreach } from '../src/domain/forecast/breach';
import { predictedKey, type ForecastBreach } from '../src/domain/predictive';
import type { ForecastBreachesInput, ForecastTick, PredictiveActivities } from '../src/contracts/predictive-watch';
import type { ContainerUsage, UsageRequest } from '../src/metrics/usage';
import { toActivityFailure } from './failures';
import { parseActivityInput as parse } from './input';

export interface PredictiveActivityDeps {
  /** The policy in force; undefined when the worker runs without a policy file (the watch is off). */
  readonly policy: () => OperatorPolicy | undefined;
  /** Reads the usage (the metrics activities' reader over the worker's Prometheus client). */
  readonly usage: (request: UsageRequest) => Promise<ContainerUsage[]>;
  /** Talon's own namespace: never watched, whatever the file says. */
  readonly talonNamespace: string;
  /** Range of the CPU rate (the alert rules' rate window; at least two scrapes). */
  readonly rateSeconds?: number;
  /** Told each round (the worker's log and counters). */
  readonly onRound?: (tick: ForecastTick) => void;
}

const inputSchema = z.object({ at: z.number().positive().finite() });

const DISABLED: Omit<ForecastTick, 'intervalSeconds' | 'confidence' | 'horizonSeconds' | 'resolveAfter'> = {
  enabled: false,
  breaches: [],
  handovers: [],
  forecast: 0,
  clear: 0,
  refused: {},
};

export function createPredictiveActivities(deps: PredictiveActivityDeps): PredictiveActivities {
  return {
    async forecastBreaches(input: ForecastBreachesInput): Promise<ForecastTick> {
      const { at } = parse(inputSchema, input, 'forecastBreaches input');
      const policy = deps.policy();
      const p = policy?.predictive;
      const settings = {
        intervalSeconds: p?.intervalSeconds ?? 60,
        confidence: p?.confidence ?? 0.9,
        horizonSeconds: p?.horizonSeconds ?? 300,
        resolveAfter: p?.resolveAfter ?? 2,
      };
      if (!policy || !p?.enabled) {
        return { ...DISABLED, ...settings, ...(policy ? { policyVersion: policy.version } : {}) };
      }
      let usage: ContainerUsage[];
      try {
        usage = await deps.usage({
          namespaces: p.namespaces,
          exclude: [...policy.protectedNamespaces, deps.talonNamespace],
          resources: p.resources,
          end: at,
          lookbackSeconds: p.lookbackSeconds,
          stepSeconds: p.stepSeconds,
          rateSeconds: deps.rateSeconds ?? Math.max(2 * p.stepSeconds, 20),
        });
      } catch (err) {
        throw toActivityFailure(err);
      }
      const breaches: ForecastBreach[] = [];
      const handovers: string[] = [];
      const refused: Record<string, number> = {};
      let clear = 0;
      for (const u of usage) {
        // The Prometheus side matched namespaces by regex; the policy's own matcher has the last word.
        if (!p.namespaces.some((pattern) => globMatches(pattern, u.namespace))) continue;
        const thresholdShare = p.thresholds[u.resource];
        const answer = predictBreach({
          series: u.samples,
          stepSeconds: p.stepSeconds,
          limit: u.limit,
          thresholdShare,
          horizonSeconds: p.horizonSeconds,
          confidence: p.confidence,
        });
        if (answer.verdict === 'refused') {
          refused[answer.reason] = (refused[answer.reason] ?? 0) + 1;
          if (answer.reason === 'already_breaching') handovers.push(predictedKey(u));
        } else if (answer.verdict === 'clear') clear++;
        else
          breaches.push({
            namespace: u.namespace,
            pod: u.pod,
            container: u.container,
            resource: u.resource,
            inSeconds: answer.inSeconds!,
            probability: answer.probability,
            thresholdShare,
            lastShare: answer.lastShare!,
            peakShare: answer.peakShare,
            model: answer.model,
            detail: answer.detail,
          });
      }
      const tick: ForecastTick = {
        enabled: true,
        policyVersion: policy.version,
        ...settings,
        breaches,
        handovers,
        forecast: breaches.length + clear + Object.values(refused).reduce((a, b) => a + b, 0),
        clear,
        refused,
      };
      deps.onRound?.(tick);
      return tick;
    },
  };
}
