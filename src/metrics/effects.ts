/**
 * The pod's own rates as verification by effect reads them: after data offloading, did its disk I/O (or the
 * counter the workload named) drop; after network QoS, are its received and sent rates under the caps. One
 * instant query per figure, `sum(rate(series[range]))` at a chosen time, so a baseline before a change and a
 * reading after it come from the same series and the same arithmetic.
 */
import type { SignalName } from '../domain/signals';
import type { PrometheusClient } from './prometheus';
import { podMatchers, promString, selector, signalRateExpression, type MetricsConfig } from './queries';

/** What to measure: some of the window's signals (summed), or a counter the workload names. */
export type RateSource = { readonly signals: readonly SignalName[] } | { readonly metric: string };

export interface PodRateProbe {
  /**
   * The per-second rate over `[at − rangeSeconds, at]` (unix seconds), summed over the sources; undefined when
   * Prometheus has no series for the pod (nothing to judge by).
   */
  podRate(
    target: { readonly namespace: string; readonly pod: string },
    source: RateSource,
    at: number,
    rangeSeconds: number,
  ): Promise<number | undefined>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export class PrometheusRateProbe implements PodRateProbe {
  constructor(
    private readonly client: PrometheusClient,
    private readonly config: MetricsConfig,
  ) {}

  async podRate(
    target: { readonly namespace: string; readonly pod: string },
    source: RateSource,
    at: number,
    rangeSeconds: number,
  ): Promise<number | undefined> {
    const range = `[${Math.max(1, Math.round(rangeSeconds))}s]`;
    let expressions: string[];
    if ('metric' in source) {
      if (!METRIC_NAME.test(source.metric)) throw new Error(`not a Prometheus metric name: ${source.metric}`);
      const c = this.config.containers;
      const matchers = podMatchers(c.labels, target, []).slice(0, 2);
      expressions = [`sum(rate(${selector({ metric: source.metric, matchers: {} }, matchers)}${range}))`];
    } else {
      expressions = source.signals.map((s) => signalRateExpression(this.config, target, s, range));
    }
    const values = await Promise.all(expressions.map(async (e) => (await this.client.query(e, at))[0]?.sample.v));
    const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
    return known.length === 0 ? undefined : known.reduce((a, b) => a + b, 0);
  }
}

/** For messages: the PromQL label matchers of a pod. */
export function describePod(target: { readonly namespace: string; readonly pod: string }): string {
  return `{namespace=${promString(target.namespace)}, pod=${promString(target.pod)}}`;
}
