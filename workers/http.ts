/**
 * The worker's small HTTP face for Prometheus and the kubelet: `/metrics`, `/healthz` (the process and its
 * worker are alive) and `/readyz` (the worker is polling Temporal). Plain node:http; nothing else is served.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { State } from '@temporalio/worker';
import type { TalonMetrics } from '../src/observability/metrics';

export interface WorkerHttp {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

const ALIVE: readonly State[] = ['INITIALIZED', 'RUNNING', 'STOPPING', 'DRAINING', 'DRAINED'];

export async function serveWorkerHttp(
  metrics: TalonMetrics,
  workerState: () => State,
  options: { port: number; host?: string },
): Promise<WorkerHttp> {
  const server = createServer((req, res) => {
    const send = (status: number, contentType: string, body: string): void => {
      res.writeHead(status, { 'content-type': contentType }).end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(405, 'application/json', JSON.stringify({ error: 'method_not_allowed' }));
    const state = workerState();
    switch (path) {
      case '/metrics':
        metrics.registry.metrics().then(
          (text) => send(200, metrics.registry.contentType, text),
          (err: unknown) => send(500, 'text/plain', String(err)),
        );
        return;
      case '/healthz':
        return send(ALIVE.includes(state) ? 200 : 503, 'application/json', JSON.stringify({ state }));
      case '/readyz':
        return send(state === 'RUNNING' ? 200 : 503, 'application/json', JSON.stringify({ state }));
      default:
        return send(404, 'application/json', JSON.stringify({ error: 'not_found', path }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
