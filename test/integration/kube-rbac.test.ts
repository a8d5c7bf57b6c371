/**
 * deploy/rbac/actuator.yaml proven on the real apiserver: `kubectl auth can-i` answers yes for every
 * permission the actions need and no for what they do not, and every action runs with nothing but that
 * service account's token, through the activities the worker registers. A Forbidden answer reaches the
 * workflow as a non-retryable failure.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig, RbacAuthorizationV1Api, type V1ClusterRole, type V1Role } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createKubeClients } from '../../src/kube/client';
import { loadStackConfig } from '../../src/config/local-stack';
import { binDir } from '../../tools/stack/setup';
import {
  actuatorFixture,
  addNode,
  appliedWith,
  applyInput,
  createDeployment,
  createJob,
  createPod,
  failureOf,
  kubeletReportsResources,
  remediationActivities,
  type ActuatorFixture,
} from '../support/kube-actuator';
import { localStack } from '../support/stack';

jest.setTimeout(180_000);

const run = promisify(execFile);
const kubectl = join(binDir(loadStackConfig(process.env).cacheDir), 'kubectl');

let f: ActuatorFixture;
let rbac: RbacAuthorizationV1Api;
let subject: string;
let roleName: string;
let tier: string;

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
}

function manifests(): (Manifest & V1ClusterRole & V1Role)[] {
  const text = readFileSync(join(__dirname, '..', '..', 'deploy', 'rbac', 'actuator.yaml'), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as Manifest & V1ClusterRole & V1Role);
}

/** The shipped manifests, renamed into this run's namespaces so parallel runs do not collide. */
async function installRbac(): Promise<void> {
  const docs = manifests();
  const role: (Manifest & V1ClusterRole) | undefined = docs.find((d) => d.kind === 'ClusterRole');
  const nsRole: (Manifest & V1Role) | undefined = docs.find((d) => d.kind === 'Role');
  if (!role || !nsRole) throw new Error('deploy/rbac/actuator.yaml lacks the ClusterRole or the Role');
  roleName = `${f.id}-actuator`;
  await f.clients.core.createNamespacedServiceAccount({
    namespace: f.talonNamespace,
    body: { metadata: { name: 'talon-actuator' } },
  });
  await rbac.createClusterRole({ body: { metadata: { name: roleName }, rules: role.rules ?? [] } });
  const sa = { kind: 'ServiceAccount', name: 'talon-actuator', namespace: f.talonNamespace };
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: roleName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
      subjects: [sa],
    },
  });
  await rbac.createNamespacedRole({
    namespace: f.talonNamespace,
    body: { metadata: { name: 'talon-write-budget' }, rules: nsRole.rules ?? [] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: f.talonNamespace,
    body: {
      metadata: { name: 'talon-write-budget' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'talon-write-budget' },
      subjects: [sa],
    },
  });
  subject = `system:serviceaccount:${f.talonNamespace}:talon-actuator`;
}

async function canI(args: string[]): Promise<'yes' | 'no'> {
  try {
    const { stdout } = await run(kubectl, [
      '--kubeconfig',
      localStack().kubeconfigPath,
      'auth',
      'can-i',
      ...args,
      '--as',
      subject,
    ]);
    return stdout.trim() === 'yes' ? 'yes' : 'no';
  } catch (err) {
    const out = (err as { stdout?: string }).stdout?.trim();
    if (out === 'no') return 'no';
    throw err;
  }
}

/** A KubeConfig that authenticates as a service account of this run, with a short-lived token. */
async function kubeConfigAs(namespace: string, serviceAccount: string): Promise<KubeConfig> {
  const token = await f.clients.core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = f.kc.getCurrentCluster();
  if (!cluster) throw new Error('no cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: serviceAccount, token: token.status?.token ?? '' }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: serviceAccount }],
    currentContext: 'sa',
  });
  return kc;
}

beforeAll(async () => {
  f = await actuatorFixture('kube-it-rbac');
  rbac = f.kc.makeApiClient(RbacAuthorizationV1Api);
  tier = `${f.id}-t`;
  await addNode(f, 'n1', tier);
  await addNode(f, 'n2', tier);
  await installRbac();
});

afterAll(async () => {
  await rbac.deleteClusterRoleBinding({ name: roleName }).catch(() => undefined);
  await rbac.deleteClusterRole({ name: roleName }).catch(() => undefined);
  await f.cleanup();
});

describe('kubectl auth can-i for the actuator’s service account', () => {
  const ns = () => f.namespace;
  it.each([
    ['get pods', () => ['get', 'pods', '-n', ns()]],
    ['list pods', () => ['list', 'pods', '-n', ns()]],
    ['list pods in all namespaces', () => ['list', 'pods', '--all-namespaces']],
    ['create pods', () => ['create', 'pods', '-n', ns()]],
    ['delete pods', () => ['delete', 'pods', '-n', ns()]],
    ['patch pods', () => ['patch', 'pods', '-n', ns()]],
    ['patch pods/resize', () => ['patch', 'pods', '--subresource', 'resize', '-n', ns()]],
    ['create pods/eviction', () => ['create', 'pods', '--subresource', 'eviction', '-n', ns()]],
    ['get namespaces', () => ['get', `namespaces/${ns()}`]],
    ['get nodes', () => ['get', 'nodes']],
    ['list nodes', () => ['list', 'nodes']],
    ['patch nodes', () => ['patch', 'nodes']],
    ['get deployments', () => ['get', 'deployments.apps', '-n', ns()]],
    ['patch deployments', () => ['patch', 'deployments.apps', '-n', ns()]],
    ['patch statefulsets', () => ['patch', 'statefulsets.apps', '-n', ns()]],
    ['patch daemonsets', () => ['patch', 'daemonsets.apps', '-n', ns()]],
    ['get replicasets', () => ['get', 'replicasets.apps', '-n', ns()]],
    ['create replicasets', () => ['create', 'replicasets.apps', '-n', ns()]],
    ['delete replicasets', () => ['delete', 'replicasets.apps', '-n', ns()]],
    ['get jobs', () => ['get', 'jobs.batch', '-n', ns()]],
    ['create jobs', () => ['create', 'jobs.batch', '-n', ns()]],
    ['delete jobs', () => ['delete', 'jobs.batch', '-n', ns()]],
    ['list horizontalpodautoscalers', () => ['list', 'horizontalpodautoscalers.autoscaling', '-n', ns()]],
    ['patch horizontalpodautoscalers', () => ['patch', 'horizontalpodautoscalers.autoscaling', '-n', ns()]],
    ['get leases in Talon’s namespace', () => ['get', 'leases.coordination.k8s.io', '-n', f.talonNamespace]],
    ['create leases in Talon’s namespace', () => ['create', 'leases.coordination.k8s.io', '-n', f.talonNamespace]],
    ['update leases in Talon’s namespace', () => ['update', 'leases.coordination.k8s.io', '-n', f.talonNamespace]],
    ['create events (decisions on their targets)', () => ['create', 'events', '-n', ns()]],
  ])('may %s', async (_what, args) => {
    expect(await canI(args())).toBe('yes');
  });

  it.each([
    ['get secrets', () => ['get', 'secrets', '-n', ns()]],
    ['list secrets anywhere', () => ['list', 'secrets', '--all-namespaces']],
    ['get configmaps', () => ['get', 'configmaps', '-n', ns()]],
    ['exec into pods', () => ['create', 'pods', '--subresource', 'exec', '-n', ns()]],
    ['update pod status', () => ['patch', 'pods', '--subresource', 'status', '-n', ns()]],
    ['delete nodes', () => ['delete', 'nodes']],
    ['create nodes', () => ['create', 'nodes']],
    ['delete deployments', () => ['delete', 'deployments.apps', '-n', ns()]],
    ['create deployments', () => ['create', 'deployments.apps', '-n', ns()]],
    ['patch replicasets', () => ['patch', 'replicasets.apps', '-n', ns()]],
    ['patch jobs', () => ['patch', 'jobs.batch', '-n', ns()]],
    ['delete poddisruptionbudgets', () => ['delete', 'poddisruptionbudgets.policy', '-n', ns()]],
    ['touch leases outside Talon’s namespace', () => ['update', 'leases.coordination.k8s.io', '-n', ns()]],
    ['delete leases', () => ['delete', 'leases.coordination.k8s.io', '-n', f.talonNamespace]],
    ['delete events', () => ['delete', 'events', '-n', ns()]],
    ['create namespaces', () => ['create', 'namespaces']],
    ['escalate through RBAC', () => ['create', 'clusterrolebindings.rbac.authorization.k8s.io']],
    ['do anything', () => ['*', '*']],
  ])('may not %s', async (_what, args) => {
    expect(await canI(args())).toBe('no');
  });
});

describe('every action with only the service account’s token', () => {
  it('scales, resizes, recreates, offloads, annotates, taints, evicts and verifies', async () => {
    const kc = await kubeConfigAs(f.talonNamespace, 'talon-actuator');
    // Only the service account's clients: nothing of the fixture's admin identity is used by the activities.
    const a = remediationActivities(
      { ...f, clients: createKubeClients(kc) },
      { offloadTier: tier, verifyTimeoutMs: 60_000 },
    );
    const op = (s: string) => `${f.id}-${s}`;
    const step = (s: string) => ({ operationId: op(s), dryRun: false });
    const [node1] = f.nodes;

    const web = await createDeployment(f, 'web', 1, { tier, cpu: { request: '100m', limit: '200m' } });
    const scaled = await a.applyPolicy(applyInput(f, 'cpu_scale_up', web[0]!.metadata!.name!, 2, op('web')));
    expect((await a.verifyPolicy({ applied: scaled })).ok).toBe(true);
    const rs = (await createDeployment(f, 'rs', 1, { tier }))[0]!.metadata!.name!;
    const replicas = await a.applyPolicy(applyInput(f, 'replica_scale_up', rs, 2, op('rs')));
    expect((await a.verifyPolicy({ applied: replicas })).ok).toBe(true);

    await createPod(f, 'solo', { tier, cpu: { request: '100m', limit: '100m' } });
    await kubeletReportsResources(f, 'solo');
    const resized = await a.applyPolicy(applyInput(f, 'cpu_scale_up', 'solo', 1.5, op('solo')));
    expect(resized.summary).toContain('(resized in place)');
    await createPod(f, 'plain', { tier, cpu: { request: '100m', limit: '100m' } });
    const recreated = await a.applyPolicy(applyInput(f, 'cpu_scale_up', 'plain', 1.5, op('plain')));
    expect(recreated.summary).toContain('(pod recreated)');
    expect((await a.verifyPolicy({ applied: recreated })).ok).toBe(true);

    const jobPod = await createJob(f, 'yolo', { tier, cpu: { request: '100m' } });
    const offloaded = await a.applyPolicy(applyInput(f, 'task_offloading', jobPod.metadata!.name!, 0.5, op('yolo')));
    expect(offloaded.summary).toContain('(Job recreated with node affinity)');
    expect((await a.verifyPolicy({ applied: offloaded })).ok).toBe(true);

    const qos = await a.applyPolicy(applyInput(f, 'network_qos', 'solo', 0.1, op('qos')));
    expect(qos.expectation).toMatchObject({ kind: 'rate-cap', ingressMbps: 100 });

    // A Deployment's share offload creates its offload ReplicaSet, and the release deletes it.
    const spread = (await createDeployment(f, 'spread', 2, { tier, cpu: { request: '100m' } }))[0]!;
    const shared = await a.applyPolicy(applyInput(f, 'task_offloading', spread.metadata!.name!, 0.5, op('spread')));
    expect(shared.expectation).toMatchObject({ kind: 'offload', moved: 1 });
    expect((await a.verifyPolicy({ applied: shared })).ok).toBe(true);
    const replicaSet = (shared.expectation as { replicaSet: string }).replicaSet;
    const released = await a.releaseOffload({
      namespace: f.namespace,
      deployment: 'spread',
      replicaSet,
      moved: 1,
      operationId: op('spread/release'),
    });
    expect((await a.verifyPolicy({ applied: released })).ok).toBe(true);

    const taint = await a.taintNode({ node: node1!, ...step('taint') });
    expect((await a.verifyPolicy(appliedWith(taint))).ok).toBe(true);
    const soloNode = (await f.clients.core.readNamespacedPod({ name: 'solo', namespace: f.namespace })).spec?.nodeName;
    const victim = await a.heaviestPod({ node: soloNode! });
    expect(victim).toMatchObject({ namespace: f.namespace, basis: 'requests' });
    const plain = await f.clients.core.readNamespacedPod({ name: 'plain', namespace: f.namespace });
    const evicted = await a.evictPod({
      namespace: f.namespace,
      pod: 'plain',
      uid: plain.metadata!.uid!,
      ...step('evict'),
    });
    expect(evicted.outcome).toBe('evicted');
    expect((await a.verifyPolicy(appliedWith(evicted))).ok).toBe(true);
    const untaint = await a.untaintNode({ node: node1!, ...step('untaint') });
    expect((await a.verifyPolicy(appliedWith(untaint))).ok).toBe(true);
  });

  it('a Forbidden answer is a non-retryable failure naming the refused call', async () => {
    // The actuator's account may keep budget Leases only in Talon's namespace: elsewhere it is refused.
    const kc = await kubeConfigAs(f.talonNamespace, 'talon-actuator');
    const misconfigured = remediationActivities(
      { ...f, clients: createKubeClients(kc) },
      { guards: { talonNamespace: 'default' } },
    );
    await createPod(f, 'target', { tier });
    const denied = await failureOf(
      misconfigured.applyPolicy(applyInput(f, 'data_offloading', 'target', 0.5, `${f.id}-f1`)),
    );
    expect(denied).toMatchObject({ type: 'Forbidden', nonRetryable: true });
    expect(denied.message).toContain(`read Lease default/talon-write-budget-${f.namespace} failed with HTTP 403`);

    // An account without any binding cannot even read the pod.
    await f.clients.core.createNamespacedServiceAccount({
      namespace: f.namespace,
      body: { metadata: { name: 'nobody' } },
    });
    const nobody = remediationActivities({
      ...f,
      clients: createKubeClients(await kubeConfigAs(f.namespace, 'nobody')),
    });
    const refused = await failureOf(nobody.applyPolicy(applyInput(f, 'cpu_scale_up', 'target', 1.5, 'n')));
    expect(refused).toMatchObject({ type: 'Forbidden', nonRetryable: true });
    expect(refused.details?.[0]).toMatchObject({ code: 403, reason: 'Forbidden' });
  });
});
