/** Validation of activity inputs: a bad input is a permanent failure that names every wrong field. */
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';

export function parseActivityInput<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw ApplicationFailure.create({
      message: `invalid ${what}: ${problems}`,
      type: 'InvalidInput',
      nonRetryable: true,
    });
  }
  return r.data;
}
