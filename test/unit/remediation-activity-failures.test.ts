/**
 * The failure types the remediation workflow matches on (workflows/remediate-alert.ts PERMANENT): a permanent
 * cause must arrive non-retryable with the short type, a transient one must stay retryable.
 */
import { ApplicationFailure } from '@temporalio/common';
import { toActivityFailure } from '../../activities/remediation';
import { GuardRefusedError, InvalidQuantityError } from '../../src/domain/errors';
import {
  KubeConflictError,
  KubeForbiddenError,
  KubeNotFoundError,
  KubeUnavailableError,
  NoEligibleNodeError,
} from '../../src/kube/errors';

function failure(err: unknown): ApplicationFailure {
  const mapped = toActivityFailure(err);
  expect(mapped).toBeInstanceOf(ApplicationFailure);
  return mapped as ApplicationFailure;
}

describe('remediation activity failures', () => {
  it.each([
    ['GuardRefused', new GuardRefusedError('write_budget', 'namespace spent its writes')],
    ['Forbidden', new KubeForbiddenError('patch deployment', { code: 403 }, 'forbidden')],
    ['TargetNotFound', new KubeNotFoundError('read pod', { code: 404 }, 'gone')],
    ['InvalidRequest', new InvalidQuantityError('12q', 'unknown suffix')],
    ['NoEligibleNode', new NoEligibleNodeError('cloud', [])],
  ])('maps a permanent cause to non-retryable %s', (type, err) => {
    const f = failure(err);
    expect(f.type).toBe(type);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toBe(err.message);
  });

  it.each([
    new KubeConflictError('patch deployment', { code: 409 }, 'conflict'),
    new KubeUnavailableError('patch deployment', { code: 503 }, 'apiserver restarting'),
  ])('keeps a transient apiserver answer retryable ($name)', (err) => {
    const f = failure(err);
    expect(f.type).toBe(err.name);
    expect(f.nonRetryable).toBe(false);
  });

  it('passes an ApplicationFailure through untouched and leaves unknown errors to the default retry', () => {
    const given = ApplicationFailure.nonRetryable('already typed', 'InvalidInput');
    expect(toActivityFailure(given)).toBe(given);
    const plain = new Error('socket hang up');
    expect(toActivityFailure(plain)).toBe(plain);
  });
});
