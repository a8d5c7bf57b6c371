/**
 * Errors of the Kubernetes adapter. Every apiserver answer that is not a success is mapped once, by
 * {@link toKubeError}, into a class that says whether trying again can help: 401/403 and invalid requests
 * are permanent, 409 conflicts, 429, 5xx, timeouts and connection failures are transient, 404 is its own
 * type so callers can treat "already gone" as success where that is the idempotent answer.
 */

/** What the apiserver said, reduced to the fields of its v1.Status answer. */
export interface KubeStatus {
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

/** Base class: an apiserver call failed; `retryable` says whether the same call may succeed later. */
export abstract class KubeError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    readonly operation: string,
    readonly status: KubeStatus,
    message: string,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

/** 401/403: Talon's identity may not do this; fix RBAC (deploy/rbac) rather than retry. */
export class KubeForbiddenError extends KubeError {
  override readonly name = 'KubeForbiddenError';
  readonly retryable = false;
}

/** 404: the object (or the API) does not exist. */
export class KubeNotFoundError extends KubeError {
  override readonly name = 'KubeNotFoundError';
  readonly retryable = false;
}

/** 409: someone changed the object since it was read (or it already exists); read again and retry. */
export class KubeConflictError extends KubeError {
  override readonly name = 'KubeConflictError';
  readonly retryable = true;
}

/** 400/405/415/422: the request itself is wrong (validation, unsupported patch); retrying cannot help. */
export class KubeInvalidError extends KubeError {
  override readonly name = 'KubeInvalidError';
  readonly retryable = false;
}

/** 429, 5xx, timeouts and connection failures: the apiserver is busy or unreachable; retry with backoff. */
export class KubeUnavailableError extends KubeError {
  override readonly name = 'KubeUnavailableError';
  readonly retryable = true;
}

/** The target cannot be acted on as asked (no owner Talon can change, no container with that resource, ...). */
export class UnsupportedTargetError extends Error {
  override readonly name = 'UnsupportedTargetError';
  readonly retryable = false;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** No node qualifies as an offloading destination; carries why each node was left out. */
export class NoEligibleNodeError extends Error {
  override readonly name = 'NoEligibleNodeError';
  readonly retryable = false;
  constructor(
    message: string,
    readonly excluded: readonly { readonly node: string; readonly reason: string }[],
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

function parseStatus(body: unknown): KubeStatus {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      return body ? { message: body.slice(0, 500) } : {};
    }
  }
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    return {
      ...(typeof v.code === 'number' ? { code: v.code } : {}),
      ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
      ...(typeof v.message === 'string' ? { message: v.message } : {}),
    };
  }
  return {};
}

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Maps anything an apiserver call threw to a {@link KubeError}; `operation` names the call for the message
 * ("patch Deployment shop/web"). Errors that are already typed pass through unchanged.
 */
export function toKubeError(err: unknown, operation: string): Error {
  if (err instanceof KubeError || err instanceof UnsupportedTargetError || err instanceof NoEligibleNodeError) {
    return err;
  }
  const code = codeOf(err);
  if (code !== undefined && code >= 100 && code < 600) {
    const status = { code, ...parseStatus((err as { body?: unknown }).body) };
    const said = status.message ? `: ${status.message}` : status.reason ? `: ${status.reason}` : '';
    const message = `${operation} failed with HTTP ${code}${said}`;
    if (code === 401 || code === 403) return new KubeForbiddenError(operation, status, message, err);
    if (code === 404) return new KubeNotFoundError(operation, status, message, err);
    if (code === 409) return new KubeConflictError(operation, status, message, err);
    if (code === 429 || code >= 500 || code === 408) return new KubeUnavailableError(operation, status, message, err);
    return new KubeInvalidError(operation, status, message, err);
  }
  const e = err as { name?: unknown; type?: unknown; code?: unknown; message?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const detail = typeof e?.message === 'string' ? e.message : String(err);
  if (name === 'AbortError' || name === 'TimeoutError' || e?.type === 'aborted') {
    return new KubeUnavailableError(operation, {}, `${operation} timed out: ${detail}`, err);
  }
  if (name === 'FetchError' || typeof e?.code === 'string') {
    return new KubeUnavailableError(operation, {}, `${operation} could not reach the apiserver: ${detail}`, err);
  }
  return err instanceof Error ? err : new Error(`${operation} failed: ${detail}`, { cause: err });
}

/** Runs one apiserver call and maps its failure with {@link toKubeError}. */
export async function kubeCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toKubeError(err, operation);
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeNotFoundError;
}
