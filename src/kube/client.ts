/**
 * The Kubernetes API clients Talon's actuator uses, built from an injected KubeConfig with one middleware
 * that bounds every request with a timeout and counts requests per verb and path (the benchmark reports
 * apiserver requests per action from it). Patches set their content type explicitly (see {@link patchAs}).
 */
import {
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  type ConfigurationOptions,
  type KubeConfig,
  type Middleware,
  type ObservableMiddleware,
} from '@kubernetes/client-node';

export { PatchStrategy };

/** Requests sent since the counter was last reset, by `METHOD /path` with names elided. */
export class RequestCounter {
  total = 0;
  readonly byRoute = new Map<string, number>();

  record(method: string, url: string): void {
    this.total += 1;
    const key = `${method} ${routeOf(url)}`;
    this.byRoute.set(key, (this.byRoute.get(key) ?? 0) + 1);
  }

  reset(): void {
    this.total = 0;
    this.byRoute.clear();
  }

  snapshot(): { total: number; byRoute: Record<string, number> } {
    return { total: this.total, byRoute: Object.fromEntries(this.byRoute) };
  }
}

/** `/api/v1/namespaces/shop/pods/web-1/resize?dryRun=All` → `/api/v1/namespaces/*\/pods/*\/resize`. */
export function routeOf(url: string): string {
  const path = new URL(url).pathname.split('/');
  const named = new Set(['namespaces', 'pods', 'nodes', 'deployments', 'statefulsets', 'daemonsets', 'replicasets']);
  const more = new Set(['jobs', 'leases', 'poddisruptionbudgets']);
  return path
    .map((seg, i) => (i > 0 && (named.has(path[i - 1] ?? '') || more.has(path[i - 1] ?? '')) ? '*' : seg))
    .join('/');
}

export interface KubeClientOptions {
  /** Per request; a request that takes longer fails as retryable. Default 15 s. */
  readonly timeoutMs?: number;
  /** Shared counter; a new one when absent. */
  readonly counter?: RequestCounter;
}

export interface KubeClients {
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly coordination: CoordinationV1Api;
  /** HorizontalPodAutoscalers: replica changes of a workload an HPA scales go through its bounds. */
  readonly autoscaling: AutoscalingV2Api;
  readonly counter: RequestCounter;
}

/** Builds the API clients; nothing is sent until an action runs. */
export function createKubeClients(kubeConfig: KubeConfig, options: KubeClientOptions = {}): KubeClients {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the KubeConfig has no current cluster');
  const counter = options.counter ?? new RequestCounter();
  const timeoutMs = options.timeoutMs ?? 15_000;
  const middleware: Middleware = {
    pre: async (context) => {
      counter.record(context.getHttpMethod().toString(), context.getUrl());
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return context;
    },
    post: async (response) => response,
  };
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [middleware],
  });
  return {
    kubeConfig,
    core: new CoreV1Api(configuration),
    apps: new AppsV1Api(configuration),
    batch: new BatchV1Api(configuration),
    coordination: new CoordinationV1Api(configuration),
    autoscaling: new AutoscalingV2Api(configuration),
    counter,
  };
}

/** Per-call options that send a patch with the given content type (the 1.x client defaults to JSON Patch). */
export function patchAs(strategy: PatchStrategy): ConfigurationOptions<ObservableMiddleware> {
  return setHeaderOptions('Content-Type', strategy);
}
