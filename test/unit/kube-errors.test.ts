/**
 * How apiserver answers become typed errors and Temporal failures, against a local HTTP server that plays
 * the apiserver (403, 404, 409, 422, 429, 503, a hang, a refused connection), and the activity layer's input
 * and guard checks, which must refuse before a single request is sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { toActivityFailure } from '../../activities/failures';
import {
  createRemediationActivities,
  type EvictPodInput,
  type RemediationActivityDeps,
} from '../../activities/remediation';
import { GuardRefusedError } from '../../src/domain/errors';
import type { ApplyPolicyInput, ApplyPolicyResult } from '../../src/domain/remediation';
import { createKubeClients, RequestCounter, routeOf } from '../../src/kube/client';
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
    [403, 'Forbidden', KubeForbiddenError, false, 'Forbidden'],
    [404, 'NotFound', KubeNotFoundError, false, 'TargetNotFound'],
    [409, 'Conflict', KubeConflictError, true, 'KubeConflictError'],
    [422, 'Invalid', KubeInvalidError, false, 'InvalidRequest'],
    [429, 'TooManyRequests', KubeUnavailableError, true, 'KubeUnavailableError'],
    [500, 'InternalError', KubeUnavailableError, true, 'KubeUnavailableError'],
    [503, 'ServiceUnavailable', KubeUnavailableError, true, 'KubeUnavailableError'],
  ] as const)('HTTP %i %s → %p (retryable %s, failure %s)', async (code, reason, type, retryable, failureType) => {
    handler = status(code, reason, `the apiserver says ${reason}`);
    const err = await readPodFailure();
    expect(err).toBeInstanceOf(type);
    const kerr = err as KubeForbiddenError;
    expect(kerr.retryable).toBe(retryable);
    expect(kerr.status).toEqual({ code, reason, message: `the apiserver says ${reason}` });
    expect(kerr.message).toBe(`read Pod shop/web failed with HTTP ${code}: the apiserver says ${reason}`);
    const failure = toActivityFailure(err) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(failureType);
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

describe('the registered activities refuse before any request', () => {
  const activities = (extra: Partial<RemediationActivityDeps> = {}) =>
    createRemediationActivities({
      clients: createKubeClients(kubeConfigFor(port)),
      budget: false,
      guards: { containerCpu: { min: '1m', max: '4' } },
      nodeUsage: async () => [],
      ...extra,
    });
  const apply = (over: Partial<ApplyPolicyInput> = {}): ApplyPolicyInput => ({
    target: { namespace: 'shop', pod: 'web' },
    policy: 'cpu_scale_up',
    magnitude: 1.5,
    operationId: 'op-1',
    dryRun: false,
    ...over,
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
    const f = await failureOf(activities().applyPolicy(apply({ target: { namespace: 'kube-system', pod: 'dns' } })));
    expect(f.type).toBe('GuardRefused');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('namespace kube-system is protected');
    expect(f.details).toEqual(['protected_namespace', expect.objectContaining({ namespace: 'kube-system' })]);
    expect(f.cause).toBeInstanceOf(GuardRefusedError);
    expect(seen).toEqual([]);
  });

  it('magnitude outside the guide: GuardRefused, no request sent', async () => {
    const f = await failureOf(activities().applyPolicy(apply({ magnitude: 7 })));
    expect(f.type).toBe('GuardRefused');
    expect(f.details?.[0]).toBe('factor_bounds');
    expect(f.details?.[1]).toMatchObject({ magnitude: 7 });
    expect(seen).toEqual([]);
  });

  it('a malformed input is InvalidInput naming the field; node_overload is no pod action', async () => {
    const a = activities();
    const bad = await failureOf(a.applyPolicy(apply({ target: { namespace: '', pod: 'p' } })));
    expect(bad).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect(bad.message).toContain('target.namespace');
    const noUid = await failureOf(
      a.evictPod({ namespace: 'shop', pod: 'p', operationId: 'x', dryRun: false } as unknown as EvictPodInput),
    );
    expect(noUid.message).toContain('uid');
    const node = await failureOf(a.applyPolicy(apply({ policy: 'node_overload', magnitude: 1 })));
    expect(node).toMatchObject({ type: 'GuardRefused', nonRetryable: true, details: ['invalid_request', {}] });
    const noId = await failureOf(a.applyPolicy(apply({ operationId: '' })));
    expect(noId.message).toContain('an operation id of 1 to 256 characters is required');
    expect(seen).toEqual([]);
  });

  it('verification stops waiting as soon as its activity is cancelled', async () => {
    handler = status(404, 'NotFound', 'pods "web" not found');
    const env = new MockActivityEnvironment();
    const a = activities({ verifyTimeoutMs: 60_000 });
    const applied: ApplyPolicyResult = {
      policy: 'cpu_scale_up',
      magnitude: 1.5,
      summary: '',
      changes: [],
      noop: false,
      dryRun: false,
      expectation: { kind: 'pod', namespace: 'shop', pod: 'web' },
    };
    const started = Date.now();
    const verifying = env.run((input: { applied: ApplyPolicyResult }) => a.verifyPolicy(input), { applied });
    await new Promise((r) => setTimeout(r, 300));
    env.cancel();
    await expect(verifying).rejects.toBeInstanceOf(CancelledFailure);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(seen.length).toBeGreaterThan(0);
  });

  it('the heaviest pod falls back to CPU requests when pod usage cannot be read', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const pod = (name: string, cpu: string) => ({
        metadata: { name, namespace: 'shop', uid: `uid-${name}` },
        spec: { nodeName: 'n1', containers: [{ name: 'app', resources: { requests: { cpu } } }] },
        status: { phase: 'Running' },
      });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', items: [pod('small', '100m'), pod('big', '2')] }));
    };
    const a = activities({
      podUsage: async () => {
        throw new Error('Prometheus unavailable');
      },
    });
    expect(await a.heaviestPod({ node: 'n1' })).toEqual({
      namespace: 'shop',
      pod: 'big',
      uid: 'uid-big',
      cpuCores: 2,
      basis: 'requests',
    });
  });
});
