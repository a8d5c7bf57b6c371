/** One OfferService from Talon's configuration: Prometheus for demand and Kepler, Kubernetes for the nodes. */
import { createKubeClients } from '../kube/client';
import { loadKubeConfig, type KubeConnectionOptions } from '../kube/config';
import { PrometheusClient } from '../metrics/prometheus';
import type { PricingConfig } from './config';
import { kubePricingNodes } from './nodes';
import { OfferService } from './offer-service';

export interface OfferServiceSettings {
  readonly prometheusUrl: string;
  readonly kube?: KubeConnectionOptions;
  readonly pricing: PricingConfig;
  readonly log?: (line: string) => void;
}

export function offerServiceFromConfig(settings: OfferServiceSettings): OfferService {
  let nodes: ReturnType<typeof kubePricingNodes> | undefined;
  if (settings.kube) {
    try {
      nodes = kubePricingNodes(createKubeClients(loadKubeConfig(settings.kube)), settings.pricing.userOwnedLabel);
    } catch (err) {
      // No cluster configured: offers still work, priced with the cloud power profile.
      settings.log?.(`pricing without nodes: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return new OfferService({
    config: settings.pricing,
    prometheus: new PrometheusClient({ url: settings.prometheusUrl, retries: 1 }),
    ...(nodes ? { nodes } : {}),
    ...(settings.log ? { log: settings.log } : {}),
  });
}
