/**
 * Kubernetes Events for what Talon decided and changed, on the target object (the alert's pod or node), so
 * `kubectl describe` and event exporters show Talon's decisions next to the workload's own history. Each Event
 * names the policy version, the workflow and (when configured) a link into the Temporal UI.
 *
 * Idempotent: an Event's name is derived from the workflow and the decision's key, so a retried write (a local
 * activity re-run after a crash) finds its Event already there and leaves it. core/v1 Events, what kubectl
 * describe lists (it matches involvedObject name, namespace, kind and uid).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { KubeClients } from './client';
import { KubeConflictError, kubeCall } from './errors';

export const EVENT_SOURCE = 'talon';
export const ANNOTATIONS = {
  workflowId: 'talon.io/workflow-id',
  policyVersion: 'talon.io/policy-version',
  workflowUrl: 'talon.io/workflow-url',
} as const;

/** The object an Event is about: the alert's pod (with its uid when known) or node. */
export type EventTarget =
  | { readonly kind: 'Pod'; readonly namespace: string; readonly name: string; readonly uid?: string }
  | { readonly kind: 'Node'; readonly name: string; readonly uid?: string };

export interface TalonEvent {
  readonly target: EventTarget;
  /** CamelCase, as Kubernetes reasons are: TalonObserved, TalonApplied, TalonStormBrake, … */
  readonly reason: string;
  readonly message: string;
  readonly type: 'Normal' | 'Warning';
  readonly workflowId: string;
  /** Distinguishes the Events of one workflow (attempt and step), so each decision is one Event. */
  readonly key: string;
  readonly policyVersion?: string;
}

export interface EventRecorderOptions {
  /** Base URL of the Temporal UI, for a link to the workflow (`<ui>/namespaces/<ns>/workflows/<id>`). */
  readonly temporalUiUrl?: string;
  readonly temporalNamespace?: string;
  /** Namespace of node Events (cluster-scoped objects' Events live in `default`). */
  readonly nodeEventNamespace?: string;
  readonly clock?: () => Date;
}

/** Kubernetes limits an Event's message to 1 KiB in practice (events are truncated by many exporters). */
const MAX_MESSAGE = 1024;

export function eventName(event: Pick<TalonEvent, 'target' | 'workflowId' | 'key'>): string {
  const digest = createHash('sha256').update(`${event.workflowId}\n${event.key}`).digest('hex').slice(0, 16);
  // <object>.<hash>, like the events kubelet writes (<pod>.<hex>); object names are at most 253 characters.
  return `${event.target.name.slice(0, 253 - 17)}.${digest}`;
}

export function workflowUrl(options: EventRecorderOptions, workflowId: string): string | undefined {
  if (!options.temporalUiUrl) return undefined;
  const ns = encodeURIComponent(options.temporalNamespace ?? 'default');
  return `${options.temporalUiUrl.replace(/\/$/, '')}/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}`;
}

export class EventRecorder {
  constructor(
    private readonly clients: Pick<KubeClients, 'core'>,
    private readonly options: EventRecorderOptions = {},
  ) {}

  /** Writes the Event once; `false` when it already existed (a retry of the same decision). */
  async record(event: TalonEvent): Promise<boolean> {
    const now = (this.options.clock ?? (() => new Date()))();
    const namespace =
      event.target.kind === 'Pod' ? event.target.namespace : (this.options.nodeEventNamespace ?? 'default');
    const url = workflowUrl(this.options, event.workflowId);
    const message = `${event.message} (workflow ${event.workflowId}${event.policyVersion ? `, policy ${event.policyVersion}` : ''})`;
    const body: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: eventName(event),
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'talon' },
        annotations: {
          [ANNOTATIONS.workflowId]: event.workflowId,
          ...(event.policyVersion ? { [ANNOTATIONS.policyVersion]: event.policyVersion } : {}),
          ...(url ? { [ANNOTATIONS.workflowUrl]: url } : {}),
        },
      },
      involvedObject: {
        apiVersion: 'v1',
        kind: event.target.kind,
        name: event.target.name,
        ...(event.target.kind === 'Pod' ? { namespace: event.target.namespace } : {}),
        ...(event.target.uid ? { uid: event.target.uid } : {}),
      },
      reason: event.reason,
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
      type: event.type,
      source: { component: EVENT_SOURCE },
      reportingComponent: 'talon.io/talon',
      reportingInstance: hostname().slice(0, 128),
      action: event.reason,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await kubeCall(`create Event ${namespace}/${body.metadata.name!}`, () =>
        this.clients.core.createNamespacedEvent({ namespace, body }),
      );
      return true;
    } catch (err) {
      if (err instanceof KubeConflictError) return false; // already written by an earlier attempt
      throw err;
    }
  }
}
