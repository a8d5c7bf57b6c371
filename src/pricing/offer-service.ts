/**
 * Offers in well under 50 ms: the expensive part (demand history from Prometheus, the Holt–Winters fit,
 * energy, nodes) is a pricing context cached for `refreshSeconds` and rebuilt in the background; an offer
 * is then the Stackelberg optimum and a few multiplications. The first request waits for the first build;
 * a failed build keeps the last good context (and says so); with none, the context is built from the
 * configuration alone (flat demand, power profiles) and its notes say why.
 */
import type { PrometheusClient } from '../metrics/prometheus';
import type { MetricsConfig } from '../metrics/queries';
import { buildPricingContext, type BuiltContext, type DemandHistory } from '../domain/pricing/context';
import { offerResponse, priceOffer, type Offer, type OfferRequest } from '../domain/pricing/offer';
import type { PricingConfig } from './config';
import { readDemand, type DemandReading } from './demand';
import { combinePower, keplerPower, profilePower, type MeasuredPower } from './energy';
import type { PricingNode } from './nodes';

export interface OfferServiceDeps {
  readonly config: PricingConfig;
  /** Demand history and Kepler; without it, offers are priced from the configuration alone. */
  readonly prometheus?: Pick<PrometheusClient, 'query' | 'queryRange'>;
  readonly metrics?: MetricsConfig;
  /** The cluster's nodes (tier mix for the power profiles, user-owned share); none when absent. */
  readonly nodes?: () => Promise<readonly PricingNode[]>;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

export interface PricedOffer {
  readonly offer: Offer;
  /** The documents' response body plus Talon's extras (`talon`). */
  readonly body: Record<string, unknown>;
}

export interface ContextStatus {
  readonly built: BuiltContext;
  /** Age of the context (ms) and whether it came from the live sources. */
  readonly ageMs: number;
  readonly live: boolean;
  readonly nodes: readonly PricingNode[];
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class OfferService {
  private current: { built: BuiltContext; at: number; live: boolean; nodes: readonly PricingNode[] } | undefined;
  private building: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: OfferServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Rebuilds the context every `refreshSeconds` in the background (the timer does not hold the process). */
  start(): this {
    if (!this.timer) {
      this.timer = setInterval(() => this.refreshInBackground(), this.deps.config.refreshSeconds * 1000);
      this.timer.unref();
      this.refreshInBackground();
    }
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The cached context, building it first when there is none; a stale one is served while it is rebuilt. */
  async context(): Promise<ContextStatus> {
    if (!this.current) await this.refresh();
    else if (this.now() - this.current.at > this.deps.config.refreshSeconds * 1000) this.refreshInBackground();
    const c = this.current!;
    return { built: c.built, ageMs: this.now() - c.at, live: c.live, nodes: c.nodes };
  }

  async offer(request: OfferRequest): Promise<PricedOffer> {
    const { built, ageMs, live } = await this.context();
    const now = this.now();
    // An offer's pay-as-you-go prices hold for one period from when it is made.
    const offer = priceOffer(request, { ...built.context, now, period: { ...built.context.period, start: now } });
    const body = offerResponse(offer);
    (body.talon as Record<string, unknown>).context = {
      computed_at: built.report.computedAt,
      age_seconds: Math.round(ageMs / 1000),
      live,
      history_steps: built.report.historySteps,
      step_seconds: built.report.stepSeconds,
      forecast: built.report.forecast,
      capacity: built.report.capacity ?? null,
      energy: built.report.power.detail,
      notes: built.report.notes,
    };
    return { offer, body };
  }

  /** Rebuilds the context now (single flight: concurrent callers share one build). */
  refresh(): Promise<void> {
    this.building ??= this.build().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  /** A background rebuild never rejects: the last context keeps serving, and the failure is logged. */
  private refreshInBackground(): void {
    this.refresh().catch((err: unknown) => this.deps.log?.(`pricing context not rebuilt: ${message(err)}`));
  }

  private async build(): Promise<void> {
    const { config } = this.deps;
    const now = this.now();
    const notes: string[] = [];
    let live = true;
    let nodes: readonly PricingNode[] = [];
    if (this.deps.nodes) {
      try {
        nodes = await this.deps.nodes();
      } catch (err) {
        notes.push(`nodes unavailable (${message(err)}): the cloud power profile, no user-owned nodes`);
        nodes = this.current?.nodes ?? [];
      }
    }
    let reading: DemandReading | undefined;
    let measured: MeasuredPower | undefined;
    if (this.deps.prometheus) {
      try {
        const [demand, kepler] = await Promise.all([
          readDemand(this.deps.prometheus, {
            end: now,
            steps: config.historySteps,
            stepSeconds: config.stepSeconds,
            ...(this.deps.metrics ? { metrics: this.deps.metrics } : {}),
          }),
          keplerPower(this.deps.prometheus, config.energyWindow, this.deps.metrics),
        ]);
        reading = demand;
        notes.push(...demand.notes);
        if ('unavailable' in kepler) notes.push(`energy from power profiles: ${kepler.unavailable}`);
        else measured = kepler;
      } catch (err) {
        if (this.current?.live) {
          // Keep pricing from the last good sources rather than from nothing.
          this.deps.log?.(`pricing context not refreshed, Prometheus failed: ${message(err)}`);
          return;
        }
        live = false;
        notes.push(`Prometheus unavailable (${message(err)}): demand unknown, priced from the configuration`);
      }
    } else {
      live = false;
      notes.push('no Prometheus configured: demand unknown, priced from the configuration');
    }
    const empty: DemandHistory = { start: now, stepSeconds: config.stepSeconds, cpu: [], ram: [] };
    const built = buildPricingContext({
      now,
      history: reading?.history ?? empty,
      ...(reading?.capacity ? { capacity: reading.capacity } : {}),
      power: combinePower(measured, profilePower(nodes, config.powerProfiles)),
      settings: config,
      notes,
    });
    this.current = { built, at: now, live, nodes };
  }
}
