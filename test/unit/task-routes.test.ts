/**
 * `/api/tasks` in-process (no sockets): validation against the taxonomy before anything starts, auth as
 * for alerts, 202 + Location on success, state/result/404 on GET, 503 when Temporal does not answer.
 */
import inject from 'light-my-request';
import type { SubmitTaskRequest, TaskStatus } from '../../src/client/talon-client';
import type { Taxonomy } from '../../src/domain/taxonomy';
import { TalonMetrics } from '../../src/observability/metrics';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';
import { webhookSettings } from '../../src/config/defaults';
import { createWebhookApp } from '../../src/webhook/app';
import type { TaskService } from '../../src/webhook/tasks';

const TOKEN = 'test-token-0123456789';
let taxonomy: Taxonomy;

beforeAll(async () => {
  const bundled = await loadTaxonomy();
  // A task without any algorithm, to exercise "no candidates".
  taxonomy = { ...bundled, tasks: [...bundled.tasks, { id: 'empty-task', name: 'Empty', description: '' }] };
});

class FakeService implements TaskService {
  readonly submitted: SubmitTaskRequest[] = [];
  unavailable = false;
  readonly known = new Map<string, TaskStatus>();
  async submitTask(request: SubmitTaskRequest) {
    if (this.unavailable) throw new Error('connection refused');
    this.submitted.push(request);
    return { id: `task-${request.task}-abc123` };
  }
  async taskStatus(id: string): Promise<TaskStatus> {
    const found = this.known.get(id);
    if (!found) throw Object.assign(new Error(`no task submission ${id}`), { name: 'TaskNotFoundError' });
    return found;
  }
}

function setup() {
  const service = new FakeService();
  const app = createWebhookApp({
    sink: { remediate: async () => ({ workflowId: 'x', action: 'started-or-signalled' }) },
    metrics: new TalonMetrics({ defaultMetrics: false }),
    auth: { bearerToken: TOKEN },
    ready: async () => true,
    settings: webhookSettings({ handoffTimeoutMs: 200 }),
    tasks: { service, taxonomy: async () => taxonomy },
  });
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    inject(app, {
      method: 'POST',
      url: '/api/tasks',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  const get = (id: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    inject(app, { method: 'GET', url: `/api/tasks/${id}`, headers });
  return { service, post, get };
}

describe('POST /api/tasks', () => {
  it('starts a submission and answers 202 with its id, a Location and the algorithm selection will pick', async () => {
    const { service, post } = setup();
    const res = await post({ task: 'interpolation', priorities: { quality: 70, energy: 30 } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      id: 'task-interpolation-abc123',
      status: 'RUNNING',
      location: '/api/tasks/task-interpolation-abc123',
      expectedAlgorithm: 'linear',
    });
    expect(res.headers.location).toBe('/api/tasks/task-interpolation-abc123');
    expect(service.submitted).toEqual([{ task: 'interpolation', priorities: { quality: 70, energy: 30 } }]);
  });

  it('accepts the compact priorities text and passes input and namespace on', async () => {
    const { service, post } = setup();
    const res = await post({
      task: 'outlier-removal',
      priorities: 'speed=1,cost=1',
      input: { path: '/data/in.csv', dataSite: 'plant-a' },
      namespace: 'analytics',
    });
    expect(res.statusCode).toBe(202);
    expect(service.submitted[0]).toEqual({
      task: 'outlier-removal',
      priorities: { speed: 1, cost: 1 },
      input: { path: '/data/in.csv', dataSite: 'plant-a' },
      namespace: 'analytics',
    });
  });

  it.each([
    ['negative priority', { task: 'interpolation', priorities: { quality: -1 } }, 'invalid_priorities', 'negative'],
    ['all zero', { task: 'interpolation', priorities: { quality: 0, energy: 0 } }, 'invalid_priorities', 'above zero'],
    ['unknown parameter', { task: 'interpolation', priorities: { beauty: 1 } }, 'invalid_priorities', 'beauty'],
    ['non-numeric', { task: 'interpolation', priorities: { quality: 'high' } }, 'invalid_priorities', 'finite number'],
    ['bad compact text', { task: 'interpolation', priorities: 'quality' }, 'invalid_priorities', 'name=value'],
    ['unknown task', { task: 'teleportation', priorities: { quality: 1 } }, 'unknown_task', 'interpolation'],
    ['no candidates', { task: 'empty-task', priorities: { quality: 1 } }, 'no_candidates', 'empty-task'],
    ['missing task', { priorities: { quality: 1 } }, 'invalid_request', 'task'],
    ['unknown field', { task: 'interpolation', priorities: { quality: 1 }, node: 'edge-0' }, 'invalid_request', 'node'],
    [
      'bad namespace',
      { task: 'interpolation', priorities: { quality: 1 }, namespace: 'Bad_NS' },
      'invalid_request',
      'namespace',
    ],
  ])('answers 400 on %s and starts nothing', async (_what, body, code, mention) => {
    const { service, post } = setup();
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: code });
    expect(JSON.stringify(res.json())).toContain(mention);
    expect(service.submitted).toHaveLength(0);
  });

  it('answers 400 on malformed JSON and 415 on another content type', async () => {
    const { post } = setup();
    expect((await post('{"task":')).json()).toMatchObject({ error: 'malformed_json' });
    const res = await post({ task: 'interpolation', priorities: { quality: 1 } }, { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
  });

  it('requires the same credentials as the alert routes', async () => {
    const { service, post } = setup();
    const res = await post({ task: 'interpolation', priorities: { quality: 1 } }, { authorization: 'Bearer wrong' });
    expect(res.statusCode).toBe(401);
    expect(service.submitted).toHaveLength(0);
  });

  it('answers 503 when Temporal cannot take the submission', async () => {
    const { service, post } = setup();
    service.unavailable = true;
    const res = await post({ task: 'interpolation', priorities: { quality: 1 } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'temporal_unavailable' });
  });
});

describe('GET /api/tasks/:id', () => {
  it('answers the state while running and the result when done', async () => {
    const { service, get } = setup();
    service.known.set('task-a', { id: 'task-a', status: 'RUNNING' });
    service.known.set('task-b', { id: 'task-b', status: 'COMPLETED', error: undefined });
    expect((await get('task-a')).json()).toEqual({ id: 'task-a', status: 'RUNNING' });
    const done = await get('task-b');
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({ status: 'COMPLETED' });
  });

  it('answers 404 for an unknown id and 401 without credentials', async () => {
    const { get } = setup();
    const res = await get('task-nope');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'not_found' });
    expect((await get('task-nope', {})).statusCode).toBe(401);
  });
});
