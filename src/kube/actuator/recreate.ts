/**
 * Delete-and-recreate, the one way to change what a running Job or standalone pod cannot change in place
 * (resources without resize support, node affinity): checkpoint the new manifest through the caller, delete
 * this instance only (uid precondition), wait until it is gone, create the manifest under the same name. A
 * retry after a crash anywhere in between finds its checkpoint (the object is gone) and finishes the create;
 * a create that already happened is recognised by the operation record in the manifest. In dry runs the
 * apiserver validates the delete and a create under a throwaway name, and nothing changes.
 */
import type { V1Job, V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import { isNotFound, KubeConflictError, KubeUnavailableError, kubeCall } from '../errors';
import { FIELD_MANAGER, type ActionResult, type Expectation, type RecreateCheckpoint } from '../types';
import { operationOf } from '../workloads';
import type { ActuatorCore } from './operation';
import type { OperationContext } from './requests';

type Recreatable = V1Pod | V1Job;
type Kind = RecreateCheckpoint['kind'];

/** The apiserver calls that differ between a pod and a Job; everything else is shared. */
interface KindCalls {
  read(core: ActuatorCore, namespace: string, name: string): Promise<Recreatable>;
  remove(core: ActuatorCore, params: DeleteParams): Promise<unknown>;
  create(core: ActuatorCore, namespace: string, body: Recreatable, dryRun?: string): Promise<Recreatable>;
  /** Jobs go with their pods before the name is free again. */
  readonly propagation: { propagationPolicy?: string };
}

interface DeleteParams {
  name: string;
  namespace: string;
  dryRun?: string;
  propagationPolicy?: string;
  body: { preconditions: { uid: string }; dryRun?: string[]; propagationPolicy?: string };
}

const CALLS: Readonly<Record<Kind, KindCalls>> = {
  Pod: {
    read: (core, namespace, name) => core.readPod(namespace, name),
    remove: (core, params) => core.clients.core.deleteNamespacedPod(params),
    create: (core, namespace, body, dryRun) =>
      core.clients.core.createNamespacedPod({
        namespace,
        body: body as V1Pod,
        fieldManager: FIELD_MANAGER,
        ...(dryRun ? { dryRun } : {}),
      }),
    propagation: {},
  },
  Job: {
    read: (core, namespace, name) => core.readJob(namespace, name),
    remove: (core, params) => core.clients.batch.deleteNamespacedJob(params),
    create: (core, namespace, body, dryRun) =>
      core.clients.batch.createNamespacedJob({
        namespace,
        body: body as V1Job,
        fieldManager: FIELD_MANAGER,
        ...(dryRun ? { dryRun } : {}),
      }),
    propagation: { propagationPolicy: 'Foreground' },
  },
};

/** Creates the object; one this operation created before (a retry) is returned as `existed`. */
async function createOwned<T extends Recreatable>(
  core: ActuatorCore,
  kind: Kind,
  manifest: T,
  ctx: OperationContext,
): Promise<{ object: T; existed: boolean }> {
  const namespace = manifest.metadata?.namespace ?? '';
  const name = manifest.metadata?.name ?? '';
  const calls = CALLS[kind];
  try {
    const object = await kubeCall(`create ${kind} ${namespace}/${name}`, () => calls.create(core, namespace, manifest));
    return { object: object as T, existed: false };
  } catch (err) {
    if (!(err instanceof KubeConflictError)) throw err;
    const existing = await calls.read(core, namespace, name);
    if (operationOf(existing.metadata)?.id === ctx.operationId) return { object: existing as T, existed: true };
    throw err;
  }
}

/** Waits until the old instance is gone (404, or a new instance under the same name). */
async function waitGone(
  core: ActuatorCore,
  kind: Kind,
  meta: Required<Pick<V1ObjectMeta, 'namespace' | 'name' | 'uid'>>,
  ctx: OperationContext,
): Promise<void> {
  const what = `${kind} ${meta.namespace}/${meta.name}`;
  const deadline = core.clock() + (core.options.deletionTimeoutMs ?? 60_000);
  let delay = 50;
  for (;;) {
    try {
      if ((await CALLS[kind].read(core, meta.namespace, meta.name)).metadata?.uid !== meta.uid) return;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    ctx.heartbeat?.();
    if (core.clock() > deadline) {
      throw new KubeUnavailableError(
        `wait for ${what} to be deleted`,
        {},
        `${what} was still being deleted after the timeout`,
      );
    }
    await core.sleep(delay);
    delay = Math.min(1_000, delay * 2);
  }
}

/** Deletes `old` (this instance only) and creates `manifest` under the same name; returns what was created. */
export async function recreate<T extends Recreatable>(
  core: ActuatorCore,
  kind: Kind,
  old: T,
  manifest: T,
  ctx: OperationContext,
): Promise<T> {
  const meta = {
    namespace: old.metadata?.namespace ?? '',
    name: old.metadata?.name ?? '',
    uid: old.metadata?.uid ?? '',
  };
  const where = `${kind} ${meta.namespace}/${meta.name}`;
  const calls = CALLS[kind];
  const deletion = (dryRun?: 'All'): DeleteParams => ({
    name: meta.name,
    namespace: meta.namespace,
    ...calls.propagation,
    ...(dryRun ? { dryRun } : {}),
    // With a body, the apiserver reads the options from it and ignores the query: they go in both.
    body: { preconditions: { uid: meta.uid }, ...calls.propagation, ...(dryRun ? { dryRun: [dryRun] } : {}) },
  });
  if (core.dry(ctx)) {
    await kubeCall(`delete ${where} (dry run)`, () => calls.remove(core, deletion('All')));
    const trial = { ...manifest, metadata: { ...manifest.metadata, name: `${meta.name.slice(0, 40)}-talon-dry-run` } };
    const created = await kubeCall(`create ${where} (dry run)`, () => calls.create(core, meta.namespace, trial, 'All'));
    return created as T;
  }
  await ctx.checkpoint?.({
    operationId: ctx.operationId,
    kind,
    namespace: meta.namespace,
    name: meta.name,
    manifest: JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>,
  });
  try {
    await kubeCall(`delete ${where}`, () => calls.remove(core, deletion()));
  } catch (err) {
    // Gone already, or the name now belongs to a new instance (precondition failed): nothing to delete.
    if (!isNotFound(err) && !(err instanceof KubeConflictError)) throw err;
  }
  await waitGone(core, kind, meta, ctx);
  return (await createOwned(core, kind, manifest, ctx)).object;
}

/** Finishes a delete-and-recreate whose delete happened in an earlier attempt. */
export async function finishCheckpoint(
  core: ActuatorCore,
  policy: string,
  checkpoint: RecreateCheckpoint,
  ctx: OperationContext,
): Promise<ActionResult> {
  const manifest = checkpoint.manifest as Recreatable;
  const record = operationOf(manifest.metadata);
  const where = `${checkpoint.kind} ${checkpoint.namespace}/${checkpoint.name}`;
  const common = {
    ...(record?.resource ? { resource: record.resource } : {}),
    ...(record?.targets ? { targets: record.targets } : {}),
    ...(record?.node ? { node: record.node } : {}),
  };
  const { object, existed } = await createOwned(core, checkpoint.kind, manifest, ctx);
  const uid = object.metadata?.uid ?? '';
  const expect: Expectation =
    checkpoint.kind === 'Pod'
      ? { kind: 'pod', namespace: checkpoint.namespace, pod: checkpoint.name, uid, ...common }
      : { kind: 'job', namespace: checkpoint.namespace, job: checkpoint.name, uid, ...common };
  return core.result(policy, ctx, {
    alreadyApplied: existed,
    target: where,
    mechanism: 'recreate',
    summary: existed
      ? `${policy} on ${where} was applied by this operation before`
      : `${policy} on ${where}: recreated from the checkpoint of an interrupted attempt`,
    changes: [],
    expect,
  });
}
