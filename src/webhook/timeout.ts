/**
 * The backstop behind every hand-off's gRPC deadline: should a sink ignore its deadline, the caller still
 * answers. The timer is unref'd, so a hand-off still pending never keeps a stopping process alive.
 */

export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  message = `Temporal did not answer within ${ms} ms`,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
