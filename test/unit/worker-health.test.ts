/** The worker's probe endpoint: live unless failed/stopped, ready only while polling. */
import { healthAnswer, startHealthServer } from '../../workers/health';

describe('worker health endpoint', () => {
  it.each([
    ['RUNNING', 200, 200],
    ['DRAINING', 200, 503],
    ['INITIALIZED', 200, 503],
    ['FAILED', 503, 503],
    ['STOPPED', 503, 503],
  ] as const)('%s → /healthz %d, /readyz %d', (state, live, ready) => {
    expect(healthAnswer('/healthz', state).status).toBe(live);
    expect(healthAnswer('/readyz', state).status).toBe(ready);
  });

  it('serves the probes over HTTP and follows the worker state', async () => {
    let state: 'RUNNING' | 'DRAINING' = 'RUNNING';
    const server = await startHealthServer({ host: '127.0.0.1', port: 0, state: () => state });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      state = 'DRAINING';
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
