/**
 * One failure vocabulary: every adapter error class maps (activities/failures.ts) to a type of
 * src/contracts/failures.ts, retryable exactly when the error says so; the names recorded in the committed
 * histories and matched on by workflows are kept; every workflow takes its non-retryable list from the
 * constant. Renaming a type, or adding an error class nobody maps, fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { failureTypeOf, permanentFailure, toActivityFailure } from '../../activities/failures';
import { FAILURE_TYPES, NON_RETRYABLE_FAILURE_TYPES } from '../../src/contracts/failures';
import * as domainErrors from '../../src/domain/errors';
import * as taskErrors from '../../src/domain/task-errors';
import * as kubeErrors from '../../src/kube/errors';
import * as snapshot from '../../src/kube/snapshot';
import * as metricsErrors from '../../src/metrics/errors';
import * as policyErrors from '../../src/policy/errors';
import * as ruleErrors from '../../src/policy/rule-errors';

const root = join(__dirname, '..', '..');
const status = { code: 500 };

/** One instance of every adapter error, with the failure it must become. */
const CASES: readonly (readonly [Error, string, boolean])[] = [
  // [error, type, retryable]
  [new domainErrors.GuardRefusedError('write_budget', 'namespace spent its writes'), 'GuardRefused', false],
  [new domainErrors.InvalidQuantityError('12q', 'unknown suffix'), 'InvalidRequest', false],
  [new domainErrors.InvalidFactorError(-1, 'negative'), 'InvalidRequest', false],
  [new domainErrors.QuantityRangeError('too big'), 'InvalidRequest', false],
  [new kubeErrors.KubeForbiddenError('patch Deployment a/b', { code: 403 }, 'forbidden'), 'Forbidden', false],
  [new kubeErrors.KubeNotFoundError('read Pod a/b', { code: 404 }, 'gone'), 'TargetNotFound', false],
  [new kubeErrors.KubeInvalidError('patch Pod a/b', { code: 422 }, 'invalid'), 'InvalidRequest', false],
  [new kubeErrors.KubeConflictError('patch Pod a/b', { code: 409 }, 'conflict'), 'KubeConflictError', true],
  [new kubeErrors.KubeUnavailableError('patch Pod a/b', status, 'restarting'), 'KubeUnavailableError', true],
  [new kubeErrors.UnsupportedTargetError('a DaemonSet'), 'UnsupportedTarget', false],
  [new kubeErrors.NoEligibleNodeError('no node', [{ node: 'n1', reason: 'cordoned' }]), 'NoEligibleNode', false],
  [new snapshot.MalformedPodError('no containers'), 'MalformedPod', false],
  [new metricsErrors.WindowSpecError('steps'), 'WindowSpecError', false],
  [new metricsErrors.MetricsConfigError('labels'), 'MetricsConfigError', false],
  [new metricsErrors.PrometheusUnavailableError('http://p', 'timeout', 3), 'PrometheusUnavailableError', true],
  [new metricsErrors.PrometheusQueryError('up{', 400, 'bad_data', 'parse error'), 'PrometheusQueryError', false],
  [new metricsErrors.PrometheusRequestError('http://p', 401, 'no'), 'PrometheusRequestError', false],
  [new metricsErrors.PrometheusResponseError('not JSON'), 'PrometheusResponseError', false],
  [new metricsErrors.InfluxQueryError('flux rejected', true, 400), 'InfluxQueryError', false],
  [new metricsErrors.InfluxQueryError('influx down', false), 'InfluxQueryError', true],
  [new metricsErrors.InfluxClosedError(), 'InfluxClosedError', false],
  [new policyErrors.PolicyModelLoadError('m.onnx', 'missing'), 'PolicyModelLoadError', false],
  [new policyErrors.PolicyModelShapeError('m.onnx', 'inputs'), 'PolicyModelShapeError', false],
  [new policyErrors.PolicyModelOutputError('NaN'), 'PolicyModelOutputError', false],
  [new policyErrors.PolicyInputError('shape'), 'PolicyInputError', false],
  [new ruleErrors.RuleConfigError('low ≥ high'), 'RuleConfigError', false],
  [new ruleErrors.InvalidDecisionError('empty'), 'InvalidDecisionError', false],
  [new ruleErrors.ModelTimeoutError(50), 'ModelTimeoutError', true],
  [new ruleErrors.CircuitOpenError(0, undefined), 'CircuitOpenError', true],
  [new taskErrors.TaxonomyValidationError('t.json', ['x']), 'TaxonomyValidationError', false],
  [new taskErrors.UnknownTaskError('t', []), 'UnknownTaskError', false],
  [new taskErrors.UnknownAlgorithmError('t', 'a', []), 'UnknownAlgorithmError', false],
  [new taskErrors.NoCandidatesError('t'), 'NoCandidatesError', false],
  [new taskErrors.InvalidPrioritiesError(['x']), 'InvalidPrioritiesError', false],
  [new taskErrors.UnscorablePrioritiesError('t', ['x']), 'UnscorablePrioritiesError', false],
  [new taskErrors.InvalidPlacementInputError(['x']), 'InvalidPlacementInputError', false],
  [new taskErrors.NoFeasibleNodeError({ cpu: '1', memory: '1Gi' }, {}), 'NoFeasibleNodeError', false],
  [new taskErrors.TaskInputError('lengths differ'), 'TaskInputError', false],
];

/** Errors that never reach an activity boundary: bases of the families above, and training's own. */
// Base classes, training, and the model registry (read by the worker's reload loop and the CLI, never in an activity).
const NOT_RAISED_BY_ACTIVITIES = new Set(['KubeError', 'MetricsError', 'ModelTrainingError', 'ModelRegistryError']);

function errorClasses(module: Record<string, unknown>): [string, new (...args: never[]) => Error][] {
  return Object.entries(module).filter(
    (e): e is [string, new (...args: never[]) => Error] =>
      typeof e[1] === 'function' && (e[1] as { prototype?: unknown }).prototype instanceof Error,
  );
}

function failure(err: unknown): ApplicationFailure {
  const mapped = toActivityFailure(err);
  expect(mapped).toBeInstanceOf(ApplicationFailure);
  return mapped as ApplicationFailure;
}

describe('the failure vocabulary', () => {
  it.each(CASES.map(([err, type, retryable]) => [err.name, type, retryable, err] as const))(
    '%s → %s (retryable %s)',
    (_name, type, retryable, err) => {
      const f = failure(err);
      expect(f.type).toBe(type);
      expect(f.nonRetryable).toBe(!retryable);
      expect(f.message).toBe(err.message);
      expect(f.cause).toBe(err);
      expect(Object.values(FAILURE_TYPES)).toContain(f.type);
      expect(NON_RETRYABLE_FAILURE_TYPES.includes(type as never)).toBe(
        type === 'InfluxQueryError' ? false : !retryable,
      );
    },
  );

  it('covers every error class the adapters export', () => {
    const modules = [domainErrors, taskErrors, kubeErrors, snapshot, metricsErrors, policyErrors, ruleErrors];
    const exported = modules.flatMap((m) => errorClasses(m as Record<string, unknown>));
    const covered = new Set(CASES.map(([err]) => err.constructor));
    const missing = exported
      .filter(([name, cls]) => !NOT_RAISED_BY_ACTIVITIES.has(name) && !covered.has(cls))
      .map(([name]) => name);
    expect(missing).toEqual([]);
    for (const [err] of CASES) expect(failureTypeOf(err)).toBeDefined();
  });

  it('keeps the names in the committed histories and the ones workflows match on', () => {
    const recorded = new Set<string>();
    const dir = join(root, 'test', 'replay', 'histories');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const list of text.matchAll(/"nonRetryableErrorTypes":\s*\[([^\]]*)\]/g)) {
        for (const name of (list[1] ?? '').matchAll(/"([^"]+)"/g)) recorded.add(name[1]!);
      }
    }
    // The names the oldest histories carry must stay; newer histories carry the whole constant. Every recorded
    // name must still be non-retryable, or replaying them would change retry behaviour.
    expect([...recorded].sort()).toEqual(
      expect.arrayContaining([
        'Forbidden',
        'GuardRefused',
        'InvalidRequest',
        'MalformedPod',
        'NoEligibleNode',
        'TargetNotFound',
        'UnsupportedTarget',
      ]),
    );
    for (const name of recorded) expect(NON_RETRYABLE_FAILURE_TYPES).toContain(name);
    // What workflows and the CLI compare failure types with.
    expect(FAILURE_TYPES).toMatchObject({
      GuardRefused: 'GuardRefused',
      TargetNotFound: 'TargetNotFound',
      InvalidRequest: 'InvalidRequest',
      InvalidInput: 'InvalidInput',
      JobNameTaken: 'JobNameTaken',
      TaskFailed: 'TaskFailed',
    });
  });

  it('names each type after itself, and lists only known types as non-retryable', () => {
    for (const [key, value] of Object.entries(FAILURE_TYPES)) expect(value).toBe(key);
    expect(new Set(NON_RETRYABLE_FAILURE_TYPES).size).toBe(NON_RETRYABLE_FAILURE_TYPES.length);
    for (const type of NON_RETRYABLE_FAILURE_TYPES) expect(Object.values(FAILURE_TYPES)).toContain(type);
    for (const name of taskErrors.TASK_ERROR_TYPES) expect(NON_RETRYABLE_FAILURE_TYPES).toContain(name);
  });

  it('every workflow takes its non-retryable list from the constant', () => {
    expect(readFileSync(join(root, 'workflows', 'activity-failures.ts'), 'utf8')).toContain(
      'export const PERMANENT: string[] = [...NON_RETRYABLE_FAILURE_TYPES];',
    );
    const dir = join(root, 'workflows');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect([file, /nonRetryableErrorTypes:\s*\[\s*['"]/.test(text)]).toEqual([file, false]);
      // Either the constant itself, or workflows/activity-failures.ts's PERMANENT, which is a copy of it.
      if (
        text.includes('nonRetryableErrorTypes') &&
        !/import \{[^}]*\bPERMANENT\b[^}]*\} from '\.\/activity-failures'/.test(text)
      )
        expect([file, text]).toEqual([file, expect.stringContaining('NON_RETRYABLE_FAILURE_TYPES')]);
    }
  });

  it('passes ApplicationFailures through, leaves unknown errors to the default retry, details what matters', () => {
    const given = permanentFailure(FAILURE_TYPES.InvalidInput, 'already typed');
    expect(toActivityFailure(given)).toBe(given);
    expect(given).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    const plain = new Error('socket hang up');
    expect(toActivityFailure(plain)).toBe(plain);
    expect(toActivityFailure('text')).toBe('text');
    const refused = failure(new domainErrors.GuardRefusedError('factor_bounds', 'too much', { magnitude: 7 }));
    expect(refused.details).toEqual(['factor_bounds', { magnitude: 7 }]);
    const forbidden = failure(
      new kubeErrors.KubeForbiddenError('read Lease x', { code: 403, reason: 'Forbidden' }, 'm'),
    );
    expect(forbidden.details).toEqual([{ operation: 'read Lease x', code: 403, reason: 'Forbidden' }]);
    const nowhere = failure(new kubeErrors.NoEligibleNodeError('no node', [{ node: 'n1', reason: 'cordoned' }]));
    expect(nowhere.details).toEqual([{ excluded: [{ node: 'n1', reason: 'cordoned' }] }]);
  });
});
