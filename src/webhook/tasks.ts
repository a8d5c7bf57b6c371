/**
 * Task submission over HTTP: `POST /api/tasks` checks the request (shape with zod, then the task, its
 * candidates and the priorities against the taxonomy) and starts a `deployTask` workflow, answering 202
 * with the id and a Location; `GET /api/tasks/:id` answers the live state while it runs and the result
 * (or the failure) once done. Errors are HttpErrors, turned into JSON by the app's error middleware.
 */
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { SubmitTaskRequest, TaskStatus } from '../client/talon-client';
import { parsePriorities } from '../domain/priorities';
import { selectAlgorithm, type SelectionResult } from '../domain/selection';
import type { Taxonomy } from '../domain/taxonomy';
import { holdingSlot, overloaded, type Admission } from './admission';
import { HttpError } from './errors';
import { withTimeout } from './timeout';
import { describeIssues } from './payloads';

/** What the routes need from Temporal; TalonClient implements it. */
export interface TaskService {
  /** Must give up (and stop retrying) at the deadline: until it settles it holds an admission slot. */
  submitTask(request: SubmitTaskRequest, deadline?: Date): Promise<{ readonly id: string }>;
  taskStatus(id: string): Promise<TaskStatus>;
}

export interface TaskRoutesDeps {
  readonly service: TaskService;
  /** The taxonomy submissions are checked against (the same one the worker selects from). */
  readonly taxonomy: () => Promise<Taxonomy>;
}

const k8sName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a Kubernetes name (lowercase letters, digits, dashes)');

/** Priorities as an object (`{"quality": 70, "energy": 30}`) or the compact text (`"quality=70,energy=30"`). */
const prioritiesSchema = z.union([z.record(z.string(), z.unknown()), z.string().min(1).max(500)]);

export const submitTaskSchema = z.strictObject({
  task: z.string().min(1).max(100),
  priorities: prioritiesSchema,
  input: z
    .strictObject({
      path: z.string().min(1).max(4096).optional(),
      output: z.string().min(1).max(4096).optional(),
      dataSite: z.string().min(1).max(253).optional(),
    })
    .optional(),
  namespace: k8sName.optional(),
});

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** The domain's answer to a bad submission, as a 400 with a stable code. */
const DOMAIN_ERRORS: Readonly<Record<string, string>> = {
  InvalidPrioritiesError: 'invalid_priorities',
  UnscorablePrioritiesError: 'unscorable_priorities',
  UnknownTaskError: 'unknown_task',
  NoCandidatesError: 'no_candidates',
};

/** Checks a submission against the taxonomy: the selection the workflow will make, or a 400. */
export function checkSubmission(
  taxonomy: Taxonomy,
  body: unknown,
): { request: SubmitTaskRequest; selection: SelectionResult } {
  const parsed = submitTaskSchema.safeParse(body);
  if (!parsed.success) {
    throw new HttpError(400, 'invalid_request', 'not a valid task submission', describeIssues(parsed.error));
  }
  const { task, input, namespace } = parsed.data;
  try {
    const raw = parsed.data.priorities;
    const priorities = typeof raw === 'string' ? parsePriorities(raw) : raw;
    const selection = selectAlgorithm(taxonomy, task, priorities);
    return {
      request: {
        task,
        priorities: priorities as Record<string, number>,
        ...(input ? { input } : {}),
        ...(namespace ? { namespace } : {}),
      },
      selection,
    };
  } catch (err) {
    const code = err instanceof Error ? DOMAIN_ERRORS[err.name] : undefined;
    if (code) throw new HttpError(400, code, (err as Error).message);
    throw err;
  }
}

/** The app's hand-off bound (a submission takes one slot) and timeout. */
export interface TaskAdmission {
  readonly admission: Admission;
  readonly retryAfterSeconds: number;
  /** Give up on Temporal after this long and answer 503. */
  readonly handoffTimeoutMs: number;
}

/** Routes mounted at `/api/tasks`; auth, the JSON body parser and admission are the app's. */
export function taskRoutes(deps: TaskRoutesDeps, limits: TaskAdmission): Router {
  const router = Router();
  const timeoutMs = limits.handoffTimeoutMs;

  const submit: RequestHandler = async (req, res) => {
    if (!req.is('application/json')) {
      throw new HttpError(415, 'unsupported_media_type', 'send Content-Type: application/json');
    }
    const { request, selection } = checkSubmission(await deps.taxonomy(), req.body);
    const permit = limits.admission.tryAcquire(1);
    if (!permit) throw overloaded('alerts and tasks', 1, limits.retryAfterSeconds);
    let id: string;
    try {
      ({ id } = await withTimeout(
        holdingSlot(permit, () => deps.service.submitTask(request, new Date(Date.now() + timeoutMs))),
        timeoutMs,
      ));
    } catch (err) {
      throw new HttpError(
        503,
        'temporal_unavailable',
        'the task could not be handed to Temporal; retry later',
        undefined,
        err,
      );
    }
    const location = `${req.baseUrl}/${encodeURIComponent(id)}`;
    res
      .status(202)
      .location(location)
      .json({ id, status: 'RUNNING', location, expectedAlgorithm: selection.selected.id });
  };

  const status: RequestHandler = async (req, res) => {
    const id = String(req.params.id ?? '');
    if (!TASK_ID.test(id)) throw new HttpError(404, 'not_found', `no task submission ${id}`);
    let found: TaskStatus;
    try {
      found = await withTimeout(deps.service.taskStatus(id), timeoutMs);
    } catch (err) {
      if (err instanceof Error && err.name === 'TaskNotFoundError') {
        throw new HttpError(404, 'not_found', `no task submission ${id}`);
      }
      throw new HttpError(503, 'temporal_unavailable', 'Temporal could not be asked; retry later', undefined, err);
    }
    res.status(200).json(found);
  };

  router.post('/', submit);
  router.get('/:id', status);
  return router;
}
