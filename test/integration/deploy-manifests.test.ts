/**
 * The in-cluster packaging (deploy/kustomize) proven against the KWOK cluster's real kube-apiserver:
 * both overlays render, every object passes a server-side dry-run apply, the local-kwok overlay (with
 * the Prometheus Operator component) installs for real in a fresh namespace and its pods become Ready,
 * and the worker's ServiceAccount can do exactly what Talon needs (`kubectl auth can-i`).
 * PrometheusRule/AlertmanagerConfig need CRDs the cluster does not have: the test installs the cut-down
 * fixture deploy/test-fixtures/prometheus-operator-crds.minimal.yaml (removed again if it added them)
 * and checks the plain rule/route files with promtool and amtool.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { loadStackConfig } from '../../src/config/local-stack';
import { loadTalonConfig } from '../../src/config/talon-config';
import { binDir } from '../../tools/stack/setup';
import { localStack } from '../support/stack';

jest.setTimeout(120_000);

const run = promisify(execFile);
const bin = binDir(loadStackConfig(process.env).cacheDir);
const kubectlPath = join(bin, 'kubectl');
const root = join(__dirname, '..', '..');
const deploy = join(root, 'deploy');
const crdFixture = join(deploy, 'test-fixtures', 'prometheus-operator-crds.minimal.yaml');
const CRDS = ['prometheusrules.monitoring.coreos.com', 'alertmanagerconfigs.monitoring.coreos.com'];

const id = `talon-deploy-it-${randomBytes(3).toString('hex')}`;
const prefix = `t${id.slice(-6)}-`;
let work: string;
let createdCrds = false;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: Record<string, string>;
}

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run(kubectlPath, ['--kubeconfig', localStack().kubeconfigPath, ...args], {
    maxBuffer: 32 * 1024 * 1024,
  });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

function docs(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((d): d is K8sObject => d !== null);
}

/** An overlay rendered into this run's namespace with a name prefix, so cluster-scoped names never collide. */
async function renderIsolated(overlay: string, withOperator: boolean): Promise<string> {
  const dir = join(work, overlay);
  await run('mkdir', ['-p', dir]);
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: id,
    namePrefix: prefix,
    resources: [relative(dir, join(deploy, 'kustomize', 'overlays', overlay))],
    ...(withOperator
      ? { components: [relative(dir, join(deploy, 'kustomize', 'components', 'prometheus-operator'))] }
      : {}),
  };
  await writeFile(join(dir, 'kustomization.yaml'), JSON.stringify(kustomization));
  return kubectl(['kustomize', dir]);
}

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name.endsWith(name));
  if (!o) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return o;
}

async function canI(args: string[], serviceAccount: string): Promise<'yes' | 'no'> {
  const as = `system:serviceaccount:${id}:${serviceAccount}`;
  try {
    const { stdout } = await run(kubectlPath, [
      '--kubeconfig',
      localStack().kubeconfigPath,
      'auth',
      'can-i',
      ...args,
      '--as',
      as,
    ]);
    return stdout.trim() === 'yes' ? 'yes' : 'no';
  } catch (err) {
    // kubectl exits 1 and prints "no" when the answer is no; anything else is a real failure.
    if ((err as { stdout?: string }).stdout?.trim() === 'no') return 'no';
    throw err;
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'talon-deploy-'));
  const existing = await kubectl(['get', 'crd', '-o', 'name']);
  createdCrds = !CRDS.every((c) => existing.includes(`customresourcedefinition.apiextensions.k8s.io/${c}`));
  if (createdCrds) {
    await kubectl(['apply', '--server-side', '--field-manager', 'talon-deploy-it', '-f', crdFixture]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=30s', ...CRDS.map((c) => `crd/${c}`)]);
  }
  await kubectl(['create', 'namespace', id]);
  // The Secrets the manifests reference; values exist only in this test cluster.
  await kubectl([
    '-n',
    id,
    'create',
    'secret',
    'generic',
    'talon-webhook',
    `--from-literal=token=${randomBytes(16).toString('hex')}`,
  ]);
  await kubectl([
    '-n',
    id,
    'create',
    'secret',
    'generic',
    'talon-influxdb',
    `--from-literal=token=${randomBytes(16).toString('hex')}`,
  ]);
});

afterAll(async () => {
  await kubectl(['delete', 'namespace', id, '--wait=false', '--ignore-not-found']).catch(() => undefined);
  await kubectl(['delete', 'clusterrole,clusterrolebinding', `${prefix}talon-actuator`, '--ignore-not-found']).catch(
    () => undefined,
  );
  if (createdCrds)
    await kubectl(['delete', 'crd', ...CRDS, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('rendered overlays', () => {
  it.each(['local-kwok', 'production'])('%s renders with the invariants Talon relies on', async (overlay) => {
    const objects = docs(await kubectl(['kustomize', join(deploy, 'kustomize', 'overlays', overlay)]));
    const worker = find(objects, 'Deployment', 'talon-worker');
    const webhook = find(objects, 'Deployment', 'talon-webhook');
    const config = find(objects, 'ConfigMap', 'talon-config');
    expect(worker.spec!.replicas).toBeGreaterThanOrEqual(overlay === 'production' ? 3 : 2);
    const pod = worker.spec!.template.spec;
    expect(pod.serviceAccountName).toBe('talon-actuator');
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
      Number(config.data!.TALON_WORKER_SHUTDOWN_GRACE_SECONDS) + 10,
    );
    expect(pod.containers[0].livenessProbe.httpGet.path).toBe('/healthz');
    expect(pod.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    expect(pod.containers[0].resources.limits).toBeDefined();
    expect(pod.containers[0].image).toMatch(/^ghcr\.io\/talon-orchestrator\/talon:/);
    expect(webhook.spec!.template.spec.automountServiceAccountToken).toBe(false);
    expect(webhook.spec!.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    // Secrets only by reference: no Secret objects, no secret-looking literal in env or ConfigMap.
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(Object.keys(config.data!).filter((k) => /TOKEN$|API_KEY|PASSWORD/.test(k))).toEqual([]);
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      for (const env of d.spec!.template.spec.containers[0].env as {
        name: string;
        value?: string;
        valueFrom?: unknown;
      }[]) {
        if (/TOKEN$|API_KEY|PASSWORD/.test(env.name)) expect(env.valueFrom).toHaveProperty('secretKeyRef');
      }
    }
    expect(objects.filter((o) => o.kind === 'PodDisruptionBudget')).toHaveLength(2);
    expect(objects.filter((o) => o.kind === 'NetworkPolicy').length).toBeGreaterThanOrEqual(3);
    if (overlay === 'production') {
      expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['PrometheusRule', 'AlertmanagerConfig']));
      expect(config.data!.TALON_TEMPORAL_TLS).toBe('true');
    }
  });

  it.each(['local-kwok', 'production'])(
    '%s: each container’s environment is a valid Talon configuration, its files mounted, its ports probed',
    async (overlay) => {
      const objects = docs(await kubectl(['kustomize', join(deploy, 'kustomize', 'overlays', overlay)]));
      const config = find(objects, 'ConfigMap', 'talon-config');
      for (const name of ['talon-worker', 'talon-webhook']) {
        const pod = find(objects, 'Deployment', name).spec!.template.spec;
        const c = pod.containers[0];
        const mounts = (c.volumeMounts ?? []) as { name: string; mountPath: string }[];
        const env: Record<string, string> = { ...config.data! };
        for (const e of c.env as { name: string; value?: string; valueFrom?: Record<string, unknown> }[]) {
          if (e.value !== undefined) env[e.name] = e.value;
          else if (e.valueFrom?.fieldRef) env[e.name] = 'talon-system';
          else if ((e.valueFrom?.secretKeyRef as { optional?: boolean } | undefined)?.optional !== true)
            env[e.name] = 'from-a-secret';
        }
        // Every file the configuration names must come from a mounted volume; stand-ins replace them here.
        for (const [key, value] of Object.entries(env)) {
          if (!/_FILE$|_TLS_(CERT|KEY|CA)$/.test(key)) continue;
          expect({ key, mounted: mounts.some((m) => value.startsWith(`${m.mountPath}/`)) }).toEqual({
            key,
            mounted: true,
          });
          const standIn = join(work, `${name}-${key}`);
          await writeFile(standIn, 'stand-in');
          env[key] = standIn;
        }
        const loaded = loadTalonConfig(env);
        expect(loaded.temporal.namespace).toBe(config.data!.TALON_TEMPORAL_NAMESPACE);
        expect(loaded.talonNamespace).toBe('talon-system');
        const ports = Object.fromEntries(
          (c.ports as { name: string; containerPort: number }[]).map((p) => [p.name, p.containerPort]),
        );
        if (name === 'talon-worker') {
          expect(loaded.worker.http).toEqual({ host: '0.0.0.0', port: ports.health });
          expect(Number(env.TALON_WORKER_SHUTDOWN_GRACE_SECONDS) + 10).toBeLessThan(
            pod.terminationGracePeriodSeconds as number,
          );
          expect(loaded.influx.token).toBe('from-a-secret');
        } else {
          expect(loaded.webhook).toMatchObject({ host: '0.0.0.0', port: ports.http, bearerToken: 'stand-in' });
        }
        if (overlay === 'production') expect(loaded.temporal.tls).toMatchObject({ clientCertPair: expect.anything() });
      }
    },
  );

  it('the plain Prometheus rules and Alertmanager route pass promtool and amtool', async () => {
    const rulesFile = join(deploy, 'alerting', 'talon-rules.yml');
    const declared = (parse(await readFile(rulesFile, 'utf8')) as { groups: { rules: unknown[] }[] }).groups.flatMap(
      (g) => g.rules,
    ).length;
    // promtool must load every rule the file declares (a rule it rejects is not counted).
    expect(declared).toBeGreaterThanOrEqual(7);
    const rules = await run(join(bin, 'promtool'), ['check', 'rules', rulesFile]);
    expect(rules.stdout).toContain(`SUCCESS: ${declared} rules found`);
    const am = await run(join(bin, 'amtool'), ['check-config', join(deploy, 'alerting', 'alertmanager.yml')]);
    expect(am.stdout).toMatch(/SUCCESS/);
    const prom = parse(await readFile(join(deploy, 'alerting', 'prometheus.yml'), 'utf8')) as { rule_files: string[] };
    expect(prom.rule_files.some((f) => f.endsWith('/talon-rules.yml'))).toBe(true);
  });
});

describe('on the real apiserver', () => {
  it.each(['production', 'local-kwok'])('%s: every object is accepted by a server-side dry-run', async (overlay) => {
    // production includes the Prometheus Operator component itself; local-kwok gets it added here.
    const rendered = await renderIsolated(overlay, overlay !== 'production');
    // The Namespace exists already (created for real above); everything else is only dry-run.
    const objects = docs(rendered).filter((o) => o.kind !== 'Namespace');
    expect(objects.length).toBeGreaterThanOrEqual(15);
    const yamlText = objects.map((o) => JSON.stringify(o)).join('\n---\n');
    const out = await kubectl(
      ['apply', '--server-side', '--dry-run=server', '--field-manager', 'talon-deploy-it', '-f', '-', '-o', 'name'],
      yamlText,
    );
    const accepted = out.trim().split('\n').filter(Boolean);
    expect(accepted).toHaveLength(objects.length);
    // Dry-run persisted nothing.
    await expect(kubectl(['-n', id, 'get', 'deployment', `${prefix}talon-worker`])).rejects.toThrow(
      /NotFound|not found/,
    );
  });

  it('the CRD fixture is strict: a misspelt field in an AlertmanagerConfig is refused', async () => {
    const amcfg = docs(await renderIsolated('local-kwok', true)).find((o) => o.kind === 'AlertmanagerConfig')!;
    const receiver = amcfg.spec!.receivers[0];
    receiver.webhookConfig = receiver.webhookConfigs;
    delete receiver.webhookConfigs;
    await expect(
      kubectl(
        ['apply', '--server-side', '--dry-run=server', '--field-manager', 'talon-deploy-it', '-f', '-'],
        JSON.stringify(amcfg),
      ),
    ).rejects.toThrow(/unknown field|webhookConfig/);
  });

  it('installs for real; both Deployments roll out and every pod is Ready under KWOK', async () => {
    const rendered = await renderIsolated('local-kwok', true);
    await kubectl(['apply', '--server-side', '--field-manager', 'talon-deploy-it', '-f', '-'], rendered);
    for (const name of ['talon-worker', 'talon-webhook']) {
      await kubectl(['-n', id, 'rollout', 'status', `deployment/${prefix}${name}`, '--timeout=60s']);
    }
    const pods = JSON.parse(await kubectl(['-n', id, 'get', 'pods', '-o', 'json'])) as {
      items: {
        metadata: { labels: Record<string, string> };
        status: { conditions?: { type: string; status: string }[] };
      }[];
    };
    const ready = pods.items.filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    expect(pods.items).toHaveLength(4);
    expect(ready).toHaveLength(4);
    const names = ready.map((p) => p.metadata.labels['app.kubernetes.io/name']).sort();
    expect(names).toEqual(['talon-webhook', 'talon-webhook', 'talon-worker', 'talon-worker']);
    const rules = JSON.parse(await kubectl(['-n', id, 'get', 'prometheusrules', '-o', 'json'])) as { items: unknown[] };
    expect(rules.items).toHaveLength(1);
  });

  const sa = (): string => `${prefix}talon-actuator`;
  const ns = 'default';
  it.each([
    ['get pods', ['get', 'pods', '-n', ns]],
    ['list pods in all namespaces', ['list', 'pods', '--all-namespaces']],
    ['create pods', ['create', 'pods', '-n', ns]],
    ['delete pods', ['delete', 'pods', '-n', ns]],
    ['patch pods', ['patch', 'pods', '-n', ns]],
    ['patch pods/resize', ['patch', 'pods', '--subresource', 'resize', '-n', ns]],
    ['create pods/eviction', ['create', 'pods', '--subresource', 'eviction', '-n', ns]],
    ['get nodes', ['get', 'nodes']],
    ['list nodes', ['list', 'nodes']],
    ['patch nodes', ['patch', 'nodes']],
    ['get deployments', ['get', 'deployments.apps', '-n', ns]],
    ['patch deployments', ['patch', 'deployments.apps', '-n', ns]],
    ['patch statefulsets', ['patch', 'statefulsets.apps', '-n', ns]],
    ['patch daemonsets', ['patch', 'daemonsets.apps', '-n', ns]],
    ['get replicasets', ['get', 'replicasets.apps', '-n', ns]],
    ['get jobs', ['get', 'jobs.batch', '-n', ns]],
    ['create jobs', ['create', 'jobs.batch', '-n', ns]],
    ['delete jobs', ['delete', 'jobs.batch', '-n', ns]],
    ['get leases in its namespace', ['get', 'leases.coordination.k8s.io', '-n', id]],
    ['create leases in its namespace', ['create', 'leases.coordination.k8s.io', '-n', id]],
    ['update leases in its namespace', ['update', 'leases.coordination.k8s.io', '-n', id]],
  ])('the worker ServiceAccount may %s', async (_what, args) => {
    expect(await canI(args, sa())).toBe('yes');
  });

  it.each([
    ['get secrets (not even its own)', ['get', 'secrets', '-n', id]],
    ['list secrets anywhere', ['list', 'secrets', '--all-namespaces']],
    ['get configmaps', ['get', 'configmaps', '-n', ns]],
    ['exec into pods', ['create', 'pods', '--subresource', 'exec', '-n', ns]],
    ['delete nodes', ['delete', 'nodes']],
    ['delete deployments', ['delete', 'deployments.apps', '-n', ns]],
    ['create deployments', ['create', 'deployments.apps', '-n', ns]],
    ['update leases outside its namespace', ['update', 'leases.coordination.k8s.io', '-n', ns]],
    ['create clusterrolebindings', ['create', 'clusterrolebindings.rbac.authorization.k8s.io']],
    ['delete namespaces', ['delete', 'namespaces']],
  ] as [string, string[]][])('the worker ServiceAccount may not %s', async (_what, args) => {
    expect(await canI(args, sa())).toBe('no');
  });

  it('the webhook ServiceAccount has no cluster permissions at all', async () => {
    expect(await canI(['get', 'pods', '-n', ns], `${prefix}talon-webhook`)).toBe('no');
    expect(await canI(['patch', 'nodes'], `${prefix}talon-webhook`)).toBe('no');
  });
});
