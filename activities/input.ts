/** Validation of activity inputs: a bad input is a permanent failure that names every wrong field. */
import type { z } from 'zod';
import { FAILURE_TYPES } from '../src/contracts/failures';
import { permanentFailure } from './failures';

export function parseActivityInput<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw permanentFailure(FAILURE_TYPES.InvalidInput, `invalid ${what}: ${problems}`);
  }
  return r.data;
}
