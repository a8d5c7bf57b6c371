/** The Prometheus client against an in-process HTTP server that plays Prometheus' documented answers. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  PrometheusQueryError,
  PrometheusRequestError,
  PrometheusResponseError,
  PrometheusUnavailableError,
} from '../../src/metrics/errors';
import { parseSampleValue, PrometheusClient } from '../../src/metrics/prometheus';

type Handler = (req: IncomingMessage, body: URLSearchParams, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
let requests: { path: string; body: URLSearchParams }[];

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = new URLSearchParams(raw);
      requests.push({ path: req.url ?? '', body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = [];
});

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const vector = (value: string) => ({
  status: 'success',
  data: { resultType: 'vector', result: [{ metric: { pod: 'a' }, value: [1700000000.5, value] }] },
});

function client(extra: Partial<ConstructorParameters<typeof PrometheusClient>[0]> = {}) {
  const sleeps: number[] = [];
  const c = new PrometheusClient({
    url: `${baseUrl}/`,
    timeoutMs: 300,
    retries: 2,
    backoffMs: 100,
    maxBackoffMs: 150,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    ...extra,
  });
  return { c, sleeps };
}

describe('PrometheusClient', () => {
  it('posts an instant query as a form and parses the vector', async () => {
    handler = (_req, _body, res) => json(res, 200, vector('0.25'));
    const { c } = client();
    const rows = await c.query('up{job="x"}', 1700000000);
    expect(rows).toEqual([{ metric: { pod: 'a' }, sample: { t: 1700000000.5, v: 0.25 } }]);
    expect(requests[0]!.path).toBe('/api/v1/query');
    expect(requests[0]!.body.get('query')).toBe('up{job="x"}');
    expect(requests[0]!.body.get('time')).toBe('1700000000');
    expect(requests[0]!.body.get('timeout')).toBe('1s');
  });

  it('parses a range query into per-series samples', async () => {
    handler = (_req, _body, res) =>
      json(res, 200, {
        status: 'success',
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: { f: 'cpu' },
              values: [
                [10, '1'],
                [15, 'NaN'],
                [20, '+Inf'],
              ],
            },
          ],
        },
      });
    const { c } = client();
    const series = await c.queryRange('x', 10, 20, 5);
    expect(requests[0]!.path).toBe('/api/v1/query_range');
    expect(Object.fromEntries(requests[0]!.body)).toMatchObject({ start: '10', end: '20', step: '5' });
    expect(series[0]!.samples[0]).toEqual({ t: 10, v: 1 });
    expect(series[0]!.samples[1]!.v).toBeNaN();
    expect(series[0]!.samples[2]!.v).toBe(Number.POSITIVE_INFINITY);
  });

  it('retries 5xx with growing backoff and succeeds when the server recovers', async () => {
    let calls = 0;
    handler = (_req, _body, res) => {
      calls++;
      if (calls < 3) json(res, 503, { status: 'error', errorType: 'unavailable', error: 'starting' });
      else json(res, 200, vector('1'));
    };
    const { c, sleeps } = client();
    await expect(c.query('up')).resolves.toHaveLength(1);
    expect(calls).toBe(3);
    expect(sleeps).toEqual([100, 150]);
    expect(c.stats).toEqual({ requests: 3, retries: 2, failures: 0 });
  });

  it('gives up after the last retry with a typed, retryable error naming the status', async () => {
    handler = (_req, _body, res) => json(res, 500, { status: 'error', errorType: 'internal', error: 'boom' });
    const { c } = client({ retries: 1 });
    const error = await c.query('up').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusUnavailableError);
    expect(error).toMatchObject({ reason: 'server', status: 500, attempts: 2, permanent: false });
    expect(c.stats.failures).toBe(1);
  });

  it('treats 429 as transient', async () => {
    handler = (_req, _body, res) => json(res, 429, { status: 'error', errorType: 'too_many', error: 'slow down' });
    const { c } = client({ retries: 0 });
    await expect(c.query('up')).rejects.toMatchObject({ name: 'PrometheusUnavailableError', status: 429 });
  });

  it('turns bad PromQL into a permanent query error without retrying', async () => {
    handler = (_req, _body, res) =>
      json(res, 400, { status: 'error', errorType: 'bad_data', error: 'parse error: unexpected "}"' });
    const { c } = client();
    const error = await c.query('sum(').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusQueryError);
    expect(error).toMatchObject({ status: 400, errorType: 'bad_data', query: 'sum(', permanent: true });
    expect(requests).toHaveLength(1);
  });

  it('turns a 422 execution error into a query error', async () => {
    handler = (_req, _body, res) =>
      json(res, 422, { status: 'error', errorType: 'execution', error: 'too many samples' });
    const { c } = client();
    await expect(c.query('x')).rejects.toMatchObject({ name: 'PrometheusQueryError', errorType: 'execution' });
  });

  it('turns other 4xx into a permanent request error', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(401);
      res.end('unauthorized');
    };
    const { c } = client();
    const error = await c.query('up').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusRequestError);
    expect(error).toMatchObject({ status: 401, permanent: true });
    expect(requests).toHaveLength(1);
  });

  it('rejects a 2xx body that is not the API shape', async () => {
    handler = (_req, _body, res) => json(res, 200, { status: 'success', data: { resultType: 'vector', result: 'x' } });
    const { c } = client();
    await expect(c.query('up')).rejects.toBeInstanceOf(PrometheusResponseError);
    handler = (_req, _body, res) => {
      res.writeHead(200);
      res.end('<html>proxy login</html>');
    };
    await expect(c.query('up')).rejects.toThrow(/non-JSON/);
  });

  it('rejects a result of the wrong type for the call', async () => {
    handler = (_req, _body, res) => json(res, 200, { status: 'success', data: { resultType: 'matrix', result: [] } });
    const { c } = client();
    await expect(c.query('x[1m]')).rejects.toThrow(/returned a matrix, expected a vector/);
    handler = (_req, _body, res) => json(res, 200, vector('1'));
    await expect(c.queryRange('x', 1, 2, 1)).rejects.toThrow(/expected a matrix/);
  });

  it('times out a silent server per attempt and retries', async () => {
    handler = () => undefined; // never answers
    const { c } = client({ timeoutMs: 50, retries: 1 });
    const started = Date.now();
    const error = await c.query('up').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrometheusUnavailableError);
    expect(error).toMatchObject({ reason: 'timeout', attempts: 2 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(requests).toHaveLength(2);
  });

  it('reports a refused connection as unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const c = new PrometheusClient({ url: `http://127.0.0.1:${port}`, retries: 0 });
    await expect(c.query('up')).rejects.toMatchObject({ name: 'PrometheusUnavailableError', reason: 'connection' });
    await expect(c.ready()).resolves.toBe(false);
  });

  it('answers ready() from /-/ready', async () => {
    handler = (req, _body, res) => {
      res.writeHead(req.url === '/-/ready' ? 200 : 404);
      res.end('Prometheus Server is Ready.');
    };
    await expect(client().c.ready()).resolves.toBe(true);
  });
});

describe('parseSampleValue', () => {
  it('reads Prometheus number strings including the special values', () => {
    expect(parseSampleValue('1.5e3')).toBe(1500);
    expect(parseSampleValue('-Inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseSampleValue('Inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseSampleValue('NaN')).toBeNaN();
  });
});
