/**
 * How apiserver answers become typed errors and Temporal failures, against a local HTTP server that plays
 * the apiserver (403, 404, 409, 422, 429, 503, a hang, a refused connection), and the activity layer's input
 * and guard checks, which must refuse before a single request is sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createKubeActivities,
  defaultOperationId,
  toActivityFailure,
  type RemediationInput,
} from '../../activities/kube';
import { GuardRefusedError } from '../../src/domain/errors';
import { createKubeClients, RequestCounter, routeOf } from '../../src/kube/client';
import type { ActionResult } from '../../src/kube/types';
import {
  KubeConflictError,
  KubeForbiddenError,
  KubeInvalidError,
  KubeNotFoundError,
  KubeUnavailableError,
  kubeCall,
  toKubeError,
} from '../../src/kube/errors';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let handler: Handler = (_req, res) => res.end();
const seen: string[] = [];

function status(code: number, reason: string, message: string): Handler {
  return (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }));
  };
}

function kubeConfigFor(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'talon', token: 'not-a-real-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'talon' }],
    currentContext: 'fake',
  });
  return kc;
}

let port = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
});

async function readPodFailure(timeoutMs = 2_000): Promise<Error> {
  const clients = createKubeClients(kubeConfigFor(port), { timeoutMs });
  try {
    await kubeCall('read Pod shop/web', () => clients.core.readNamespacedPod({ name: 'web', namespace: 'shop' }));
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

describe('apiserver answers become typed errors', () => {
  it.each([
    [403, 'Forbidden', KubeForbiddenError, false],
    [404, 'NotFound', KubeNotFoundError, false],
    [409, 'Conflict', KubeConflictError, true],
    [422, 'Invalid', KubeInvalidError, false],
    [429, 'TooManyRequests', KubeUnavailableError, true],
    [500, 'InternalError', KubeUnavailableError, true],
    [503, 'ServiceUnavailable', KubeUnavailableError, true],
  ] as const)('HTTP %i %s → %p (retryable %s)', async (code, reason, type, retryable) => {
    handler = status(code, reason, `the apiserver says ${reason}`);
    const err = await readPodFailure();
    expect(err).toBeInstanceOf(type);
    const kerr = err as KubeForbiddenError;
    expect(kerr.retryable).toBe(retryable);
    expect(kerr.status).toEqual({ code, reason, message: `the apiserver says ${reason}` });
    expect(kerr.message).toBe(`read Pod shop/web failed with HTTP ${code}: the apiserver says ${reason}`);
    const failure = toActivityFailure(err) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(type.name);
    expect(failure.nonRetryable).toBe(!retryable);
    expect(seen).toEqual(['GET /api/v1/namespaces/shop/pods/web']);
  });

  it('401 without a body is forbidden too', async () => {
    handler = (_req, res) => {
      res.writeHead(401);
      res.end();
    };
    const err = await readPodFailure();
    expect(err).toBeInstanceOf(KubeForbiddenError);
    expect((toActivityFailure(err) as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('a request that hangs times out as retryable', async () => {
    handler = () => undefined;
    const started = Date.now();
    const err = await readPodFailure(200);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect(err.message).toContain('timed out');
    expect((toActivityFailure(err) as ApplicationFailure).nonRetryable).toBe(false);
  });

  it('a refused connection is retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const clients = createKubeClients(kubeConfigFor(deadPort));
    const err = (await kubeCall('read Pod shop/web', () =>
      clients.core.readNamespacedPod({ name: 'web', namespace: 'shop' }),
    ).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect(err.message).toContain('could not reach the apiserver');
  });

  it('keeps typed errors and unknown errors as they are', () => {
    const typed = new KubeConflictError('x', {}, 'x');
    expect(toKubeError(typed, 'y')).toBe(typed);
    const plain = new TypeError('boom');
    expect(toKubeError(plain, 'y')).toBe(plain);
    expect(toKubeError('text', 'op').message).toBe('op failed: text');
    expect(toActivityFailure(plain)).toBe(plain);
  });
});

describe('request counting', () => {
  it('counts requests by route with names elided', async () => {
    handler = status(404, 'NotFound', 'no');
    const counter = new RequestCounter();
    const clients = createKubeClients(kubeConfigFor(port), { counter });
    await clients.core.readNamespacedPod({ name: 'a', namespace: 'x' }).catch(() => undefined);
    await clients.core.readNamespacedPod({ name: 'b', namespace: 'y' }).catch(() => undefined);
    await clients.apps.readNamespacedDeployment({ name: 'd', namespace: 'y' }).catch(() => undefined);
    expect(counter.snapshot()).toEqual({
      total: 3,
      byRoute: {
        'GET /api/v1/namespaces/*/pods/*': 2,
        'GET /apis/apps/v1/namespaces/*/deployments/*': 1,
      },
    });
    counter.reset();
    expect(counter.total).toBe(0);
    expect(routeOf('https://h:1/api/v1/namespaces/s/pods/p/resize?dryRun=All')).toBe(
      '/api/v1/namespaces/*/pods/*/resize',
    );
    expect(routeOf('https://h:1/api/v1/nodes/edge-0')).toBe('/api/v1/nodes/*');
  });
});

describe('the activity layer refuses before any request', () => {
  const activities = () =>
    createKubeActivities({
      kubeConfig: kubeConfigFor(port),
      budget: false,
      guards: { containerCpu: { min: '1m', max: '4' } },
    });

  async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
    try {
      await p;
    } catch (err) {
      if (err instanceof ApplicationFailure) return err;
      throw err;
    }
    throw new Error('expected a failure');
  }

  it('protected namespace: GuardRefused, non-retryable, no request sent', async () => {
    handler = status(500, 'InternalError', 'must not be called');
    const f = await failureOf(
      activities().applyRemediation({
        policy: 'cpu_scale_up',
        magnitude: 1.5,
        namespace: 'kube-system',
        pod: 'coredns-1',
        operationId: 'op-1',
      }),
    );
    expect(f.type).toBe('GuardRefused');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('namespace kube-system is protected');
    expect(f.details?.[0]).toMatchObject({ guard: 'protected_namespace', namespace: 'kube-system' });
    expect(f.cause).toBeInstanceOf(GuardRefusedError);
    expect(seen).toEqual([]);
  });

  it('magnitude outside the guide: GuardRefused, no request sent', async () => {
    const f = await failureOf(
      activities().scaleResources({
        policy: 'cpu_scale_up',
        namespace: 'shop',
        pod: 'web',
        factor: 7,
        operationId: 'op',
      }),
    );
    expect(f.type).toBe('GuardRefused');
    expect(f.details?.[0]).toMatchObject({ guard: 'factor_bounds', magnitude: 7 });
    expect(seen).toEqual([]);
  });

  it('invalid input and node_overload through applyRemediation are InvalidInput, non-retryable', async () => {
    const a = activities();
    const bad = await failureOf(a.scaleResources({ policy: 'cpu_scale_up', namespace: '', pod: 'p', factor: 1.5 }));
    expect(bad.type).toBe('InvalidInput');
    expect(bad.nonRetryable).toBe(true);
    expect(bad.message).toContain('namespace');
    const node = await failureOf(
      a.applyRemediation({ policy: 'node_overload', magnitude: 1, namespace: 'shop', pod: 'p', operationId: 'x' }),
    );
    expect(node.type).toBe('InvalidInput');
    const noId = await failureOf(
      a.applyRemediation({ policy: 'no_action', magnitude: 1, namespace: 'shop', pod: 'p' }),
    );
    expect(noId.message).toContain('operationId is required');
    expect(seen).toEqual([]);
  });

  it('no_action answers without touching the cluster, with an id from the activity context', async () => {
    const env = new MockActivityEnvironment({ activityId: '7' });
    const a = activities();
    const input: RemediationInput = { policy: 'no_action', magnitude: 1, namespace: 'shop', pod: 'web' };
    const result = await env.run<[RemediationInput], ActionResult, (i: RemediationInput) => Promise<ActionResult>>(
      (i) => a.applyRemediation(i),
      input,
    );
    expect(result).toMatchObject({ policy: 'no_action', applied: false, mechanism: 'none', expect: { kind: 'none' } });
    expect(result.operationId).toBe(defaultOperationId(env.context.info));
    expect(result.operationId).toMatch(/:7$/);
    expect(seen).toEqual([]);
  });

  it('shortens very long operation ids deterministically', () => {
    const info = { ...new MockActivityEnvironment().context.info, activityId: 'a'.repeat(300) };
    const id = defaultOperationId(info);
    expect(id.length).toBeLessThanOrEqual(200);
    expect(defaultOperationId(info)).toBe(id);
  });
});
