/**
 * Talon's Prometheus metrics. One registry per process: the webhook counts what arrives, the worker's
 * activities count what is done. Prometheus scrapes both at /metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class TalonMetrics {
  readonly registry = new Registry();

  readonly alertsReceived = new Counter({
    name: 'talon_alerts_received_total',
    help: 'Alerts received by the webhook, by sender and status',
    labelNames: ['source', 'status'] as const,
    registers: [this.registry],
  });
  readonly alertsRejected = new Counter({
    name: 'talon_alerts_rejected_total',
    help: 'Alerts or requests refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly alertsDeduplicated = new Counter({
    name: 'talon_alerts_deduplicated_total',
    help: 'Firing notifications that reached an already running remediation instead of starting one',
    registers: [this.registry],
  });
  readonly handoffs = new Counter({
    name: 'talon_handoffs_total',
    help: 'Alerts handed to Temporal, by result (ok, unavailable)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly inflightAlerts = new Gauge({
    name: 'talon_webhook_inflight_alerts',
    help: 'Alerts and task submissions being handed to Temporal right now',
    registers: [this.registry],
  });
  readonly maxInflightAlerts = new Gauge({
    name: 'talon_webhook_max_inflight_alerts',
    help: 'Admission bound on in-flight hand-offs; beyond it the webhook answers 503 overloaded',
    registers: [this.registry],
  });
  readonly intakeBatches = new Histogram({
    name: 'talon_webhook_intake_batch_alerts',
    help: 'Alerts per batch the webhook appended to the alert intake (one durable write each)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200],
    registers: [this.registry],
  });
  readonly intakeWriteDuration = new Histogram({
    name: 'talon_webhook_intake_write_seconds',
    help: 'How long one intake batch took to be written to Temporal (what a queued alert waits for its 202)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly intakePendingAlerts = new Gauge({
    name: 'talon_webhook_intake_pending_alerts',
    help: 'Alerts waiting in this webhook for their intake batch to be written',
    registers: [this.registry],
  });
  readonly intakeDispatched = new Counter({
    name: 'talon_intake_alerts_dispatched_total',
    help: 'Queued alerts the intake handed on, by result (started_or_signalled, resolved_signalled, no_workflow, dropped)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly workflowsStarted = new Counter({
    name: 'talon_workflows_started_total',
    help: 'Remediation workflows started, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly actionsApplied = new Counter({
    name: 'talon_actions_applied_total',
    help: 'Kubernetes changes applied, by policy and outcome',
    labelNames: ['policy', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly workflowsFinished = new Counter({
    name: 'talon_workflows_finished_total',
    help: 'Remediation workflows finished, by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly escalations = new Counter({
    name: 'talon_escalations_total',
    help: 'Escalations to the next-best policy, by the policy left and the one taken',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });
  readonly guardRefusals = new Counter({
    name: 'talon_guard_refusals_total',
    help: 'Changes refused by a guardrail, by guard',
    labelNames: ['guard'] as const,
    registers: [this.registry],
  });
  readonly policyDecisions = new Counter({
    name: 'talon_policy_decisions_total',
    help: 'Policy rankings by the engine that answered: model, or rules (the fallback, also without a usable window)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly operatorDecisions = new Counter({
    name: 'talon_operator_decisions_total',
    help: 'Decisions and changes under the operator policy: observe, recommend, approval_requested, approved, rejected, brake_wait, applied, outcome_*, …',
    labelNames: ['decision'] as const,
    registers: [this.registry],
  });
  readonly stormBrakeEngaged = new Gauge({
    name: 'talon_storm_brake_engaged',
    help: 'Whether the storm brake holds remediations of a scope (cluster, nodes, namespace/<name>): 1 engaged, 0 released',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly remediationsRunning = new Gauge({
    name: 'talon_remediations_running',
    help: 'Alert remediations running on this task queue, as the storm brake last counted them',
    registers: [this.registry],
  });
  readonly policyInfo = new Gauge({
    name: 'talon_policy_info',
    help: 'The operator policy file version in force (value 1), per process',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });
  readonly policyReloads = new Counter({
    name: 'talon_policy_reloads_total',
    help: 'Policy file loads, by result: loaded, refused (the previous version stays in force)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly writeBudgetUsed = new Gauge({
    name: 'talon_write_budget_used',
    help: 'Writes counted in the current window of a write budget, by scope (a namespace, -nodes, -cluster)',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly writeBudgetMax = new Gauge({
    name: 'talon_write_budget_max',
    help: 'Writes allowed per window of a write budget, by scope',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly stepDuration = new Histogram({
    name: 'talon_step_duration_seconds',
    help: 'Duration of remediation steps (activities), by step',
    labelNames: ['step'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'talon_webhook_request_duration_seconds',
    help: 'Webhook request handling time, by route and status',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'talon_' });
  }
}
