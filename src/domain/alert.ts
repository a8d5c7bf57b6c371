/**
 * Alerts as Talon understands them, whatever sent them (Alertmanager, Grafana, a person). Pure: the
 * workflow id derived here is what makes a re-fired alert, or an alert for another pod of the same workload,
 * reach the workflow already handling it.
 */
import { workloadOf } from './window';

export type AlertStatus = 'firing' | 'resolved';

/** What an alert is about: a container of a pod, or a node. */
export type AlertTarget =
  | { readonly kind: 'pod'; readonly namespace: string; readonly pod: string; readonly container?: string }
  | { readonly kind: 'node'; readonly node: string };

export interface TalonAlert {
  readonly source: 'alertmanager' | 'grafana' | 'api';
  readonly alertName: string;
  readonly status: AlertStatus;
  readonly fingerprint: string;
  readonly target: AlertTarget;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** ISO-8601; when the condition began according to the sender. */
  readonly startsAt: string;
  readonly endsAt?: string;
  readonly summary?: string;
}

/** Kubernetes object names (RFC 1123 subdomain) — what label values naming pods/nodes/namespaces must be. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Namespaces and container names are RFC 1123 labels. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDnsSubdomain(value: string): boolean {
  return value.length > 0 && value.length <= 253 && DNS_SUBDOMAIN.test(value);
}

export function isDnsLabel(value: string): boolean {
  return value.length > 0 && value.length <= 63 && DNS_LABEL.test(value);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]+$/;

/** An IPv4 or IPv6 address, as node-exporter's `instance` label names a node (port already removed). */
export function isIpAddress(value: string): boolean {
  return IPV4.test(value) || (value.includes(':') && value.length <= 39 && IPV6.test(value));
}

/**
 * The host of an `instance` label (`10.0.0.5:9100`, `[fe80::1]:9100`, `edge-1:9100`): what D3.6's Rule 2 alert names
 * a node by. Undefined when it is neither an address nor a node name.
 */
export function instanceHost(instance: string): string | undefined {
  const bracketed = /^\[([0-9a-fA-F:]+)\](?::\d{1,5})?$/.exec(instance);
  if (bracketed) return isIpAddress(bracketed[1]!) ? bracketed[1] : undefined;
  const host = isIpAddress(instance) ? instance : instance.replace(/:\d{1,5}$/, '');
  return isIpAddress(host) || isDnsSubdomain(host) ? host : undefined;
}

/**
 * Prometheus-style alert names (`TalonPodCpuNearLimit`): the alphabet Talon always put into workflow ids and
 * search attributes as they are. Such names keep doing so unchanged, so existing workflow ids stay stable.
 */
export function isAlertName(value: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_:.-]{0,127}$/.test(value);
}

/** Longest alert name accepted, in characters (code points); Grafana rule titles are free text. */
export const MAX_ALERT_NAME_CHARS = 256;

/**
 * Why `value` cannot be an alert name, or undefined when it can. Any Unicode text is accepted (Grafana-managed
 * rules are titled "High memory usage"), bounded in length, not blank, and well-formed (a lone UTF-16 surrogate
 * has no UTF-8 encoding, so Temporal could not store it faithfully).
 */
export function alertNameProblem(value: string): string | undefined {
  if (value.trim() === '') return 'label "alertname" is empty';
  if ([...value].length > MAX_ALERT_NAME_CHARS)
    return `label "alertname" is longer than ${MAX_ALERT_NAME_CHARS} characters`;
  if (!isWellFormed(value)) return 'label "alertname" is not well-formed Unicode (lone surrogate)';
  return undefined;
}

function isWellFormed(value: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value);
}

/**
 * The alert name as it goes into workflow ids and the TalonAlertName search attribute: the name itself when it
 * is a Prometheus-style name (so ids Talon derived before stay the same), otherwise a readable ASCII slug plus
 * `~` and a 64-bit hash of the exact name. `~` never occurs in a Prometheus-style name, so an encoded key cannot
 * collide with a plain one; the hash keeps names that slug alike ("CPU > 90%" and "CPU < 90%") apart. The
 * readable name stays in the alert (and the workflow's summary). Pure and deterministic: safe in workflows.
 */
export function alertKey(alertName: string): string {
  if (isAlertName(alertName)) return alertName;
  const slug =
    alertName
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9_.:-]+/g, '-')
      .replace(/^[-.:]+|[-.:]+$/g, '')
      .slice(0, 48)
      .replace(/[-.:]+$/, '') || 'alert';
  return `${slug}~${fnv1a64(utf8(alertName))}`;
}

/** UTF-8 bytes of a well-formed string (TextEncoder is not available in every workflow sandbox). */
function utf8(value: string): number[] {
  const bytes: number[] = [];
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) bytes.push(cp);
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return bytes;
}

function fnv1a64(bytes: readonly number[]): string {
  let hash = 0xcbf29ce484222325n;
  for (const b of bytes) {
    hash ^= BigInt(b);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

export function isFingerprint(value: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(value);
}

/**
 * Builds the target from alert labels. Returns an error message instead of throwing so the caller can
 * report every bad alert of a batch at once.
 */
export function targetFromLabels(labels: Readonly<Record<string, string>>): AlertTarget | string {
  // An empty label value is the same as no label (Prometheus' rule), e.g. `container=""` on a pod-level series.
  const present = (name: string): string | undefined =>
    Object.hasOwn(labels, name) && labels[name] !== '' ? labels[name] : undefined;
  const [namespace, pod, container, node] = ['namespace', 'pod', 'container', 'node'].map(present);
  if (namespace !== undefined || pod !== undefined) {
    if (namespace === undefined || !isDnsLabel(namespace))
      return `label "namespace" must be a Kubernetes namespace name, got ${JSON.stringify(namespace ?? null)}`;
    if (pod === undefined || !isDnsSubdomain(pod))
      return `label "pod" must be a Kubernetes pod name, got ${JSON.stringify(pod ?? null)}`;
    if (container !== undefined && !isDnsLabel(container))
      return `label "container" must be a container name, got ${JSON.stringify(container)}`;
    return container === undefined ? { kind: 'pod', namespace, pod } : { kind: 'pod', namespace, pod, container };
  }
  if (node !== undefined) {
    if (!isDnsSubdomain(node) && !isIpAddress(node))
      return `label "node" must be a Kubernetes node name or address, got ${JSON.stringify(node)}`;
    return { kind: 'node', node };
  }
  // A node-level alert from node-exporter names the node only by its scrape address (D3.6 Rule 2); the
  // node-overload workflow maps an address to its node.
  const { instance } = labels;
  if (instance !== undefined && (labels.talon_scope === 'node' || /node/i.test(labels.alertname ?? ''))) {
    const host = instanceHost(instance);
    if (host === undefined) return `label "instance" must be host:port of a node, got ${JSON.stringify(instance)}`;
    return { kind: 'node', node: host };
  }
  return 'alert has neither namespace+pod nor node labels, so Talon cannot tell what to remediate';
}

export function describeTarget(target: AlertTarget): string {
  if (target.kind === 'node') return `node/${target.node}`;
  return `${target.namespace}/${target.pod}${target.container ? `/${target.container}` : ''}`;
}

/** Alert label naming the owner workload explicitly, for rules that know it (wins over the pod name). */
export const WORKLOAD_LABEL = 'talon_workload';

/**
 * The workload a pod alert is about: the `talon_workload` label when the rule names it, else the pod name
 * without the suffix its controller generated (`web-7c9f8b6d4-x2x9z` → `web`, `db-0` → `db`). Pure, so the
 * webhook can derive it without asking the cluster; a standalone pod is its own workload.
 */
export function alertWorkload(alert: Pick<TalonAlert, 'target' | 'labels'>): string | undefined {
  if (alert.target.kind !== 'pod') return undefined;
  const named = alert.labels[WORKLOAD_LABEL];
  return named !== undefined && isDnsSubdomain(named) ? named : workloadOf({ pod: alert.target.pod });
}

/**
 * One remediation per workload: every pod alert of one owner (Deployment, StatefulSet, ReplicaSet, Job) joins
 * the same workflow by signal-with-start, so two hot pods of one Deployment never stack two changes on it,
 * and a re-fire after a rollout (new pod names, same workload) reaches it too. `remediate/<namespace>/<workload>`
 * for pods, `node-overload/<alert key>/<node>/<fingerprint>` for nodes
 * (the key is the alert name itself for Prometheus-style names, see {@link alertKey}).
 */
export function alertWorkflowId(alert: Pick<TalonAlert, 'alertName' | 'target' | 'fingerprint' | 'labels'>): string {
  if (alert.target.kind === 'node')
    return `node-overload/${alertKey(alert.alertName)}/${alert.target.node}/${alert.fingerprint}`;
  return `remediate/${alert.target.namespace}/${alertWorkload(alert)}`;
}

/**
 * The workload a pod remediation acts on, read back from its workflow id (`remediate/<namespace>/<workload>`, or
 * the per-alert shape from before, whose pod names it); undefined for any other id.
 */
export function remediationWorkload(workflowId: string): string | undefined {
  const parts = workflowId.split('/');
  if (parts[0] !== 'remediate') return undefined;
  if (parts.length === 3 && parts[2]) return parts[2];
  if (parts.length === 5 && parts[3]) return workloadOf({ pod: parts[3] });
  return undefined;
}

/**
 * The per-alert id Talon used before remediations were keyed by workload
 * (`remediate/<alertname>/<namespace>/<pod>/<fingerprint>`): a resolve notification still reaches a remediation
 * started under it before an upgrade.
 */
export function legacyAlertWorkflowId(
  alert: Pick<TalonAlert, 'alertName' | 'target' | 'fingerprint'>,
): string | undefined {
  if (alert.target.kind !== 'pod') return undefined;
  return `remediate/${alertKey(alert.alertName)}/${alert.target.namespace}/${alert.target.pod}/${alert.fingerprint}`;
}

/**
 * A stable fingerprint for senders that give none (Grafana without one, the API): FNV-1a over the sorted
 * labels, so the same label set always maps to the same workflow. Pure and deterministic.
 */
export function fingerprintLabels(labels: Readonly<Record<string, string>>): string {
  const text = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\u0000');
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/**
 * The sender's fingerprint when it is safe in a workflow id (Alertmanager and Grafana send 16 hex digits),
 * otherwise one derived from it (or, when there is none, from the labels), so an alert is never refused
 * for its fingerprint alone and the same input always maps to the same workflow.
 */
export function safeFingerprint(raw: string | undefined, labels: Readonly<Record<string, string>>): string {
  if (raw && isFingerprint(raw)) return raw;
  return raw ? fingerprintLabels({ fingerprint: raw }) : fingerprintLabels(labels);
}
