/**
 * The worker's health endpoint for Kubernetes probes: `/healthz` answers 200 while the worker has not
 * failed or stopped (liveness), `/readyz` answers 200 only while it polls its task queue (readiness; a
 * draining worker reports 503 so it leaves the rollout's ready count). Plain node:http, nothing else.
 */
import { createServer, type Server } from 'node:http';
import type { State } from '@temporalio/worker';

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  /** The worker's current state (Worker.getState). */
  readonly state: () => State;
}

export interface RunningHealthServer {
  readonly url: string;
  close(): Promise<void>;
}

const LIVE: readonly State[] = ['INITIALIZED', 'RUNNING', 'STOPPING', 'DRAINING', 'DRAINED'];

export function healthAnswer(path: string, state: State): { status: number; body: string } {
  if (path === '/healthz') {
    const ok = LIVE.includes(state);
    return { status: ok ? 200 : 503, body: JSON.stringify({ status: ok ? 'ok' : 'failed', worker: state }) };
  }
  if (path === '/readyz') {
    const ok = state === 'RUNNING';
    return { status: ok ? 200 : 503, body: JSON.stringify({ status: ok ? 'ready' : 'not polling', worker: state }) };
  }
  return { status: 404, body: JSON.stringify({ error: 'not_found' }) };
}

export async function startHealthServer(options: HealthServerOptions): Promise<RunningHealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const answer = req.method === 'GET' ? healthAnswer(path, options.state()) : { status: 405, body: '{}' };
    res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(answer.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
