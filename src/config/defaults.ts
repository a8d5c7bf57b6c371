/**
 * Every default of Talon's configuration, in one place: the environment schema (talon-config.ts) falls back
 * to these, and so do callers that build a component without the environment (tests, benchmarks, SDK users
 * embedding the webhook). Components take complete settings and apply no defaults of their own.
 */
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/**
 * What the webhook does with alerts its admission bound refuses: 'spill' batches them into the alert intake,
 * 'always' sends every alert there, 'off' answers 503 overloaded.
 */
export type IntakeMode = 'off' | 'spill' | 'always';

/** How the HTTP face accepts and hands off alerts (TALON_WEBHOOK_*). */
export interface WebhookSettings {
  /** Largest accepted body, as express understands it ('1mb'). */
  readonly bodyLimit: string;
  /** Give up on a hand-off to Temporal after this long and answer 503 temporal_unavailable. */
  readonly handoffTimeoutMs: number;
  /** Hand-offs (alerts and task submissions) in flight at once; beyond it, 503 overloaded. */
  readonly maxInflightAlerts: number;
  /** Retry-After of a 503 overloaded. */
  readonly overloadRetryAfterSeconds: number;
  /** The alert intake for storms: what the admission bound refuses is batched into it ('spill'), or everything. */
  readonly intake: {
    readonly mode: IntakeMode;
    /** Intake workflows per task queue; every notification of one alert goes through the same one. */
    readonly shards: number;
    /** Most alerts in one durable write (one signal). */
    readonly maxBatch: number;
    /** Alerts held while their batches are written; beyond it, 503 overloaded. */
    readonly maxPending: number;
  };
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  /**
   * Alertmanager sends a whole alert group in one notification when `max_alerts` is 0 (its default): about
   * 1 KiB per alert, so 32 MiB carries groups of tens of thousands. Authentication runs before the body is read,
   * so only a configured sender can make the webhook parse that much.
   */
  bodyLimit: '32mb',
  handoffTimeoutMs: 5_000,
  /**
   * About 1.3 s of work for the ~50 hand-offs/s of the 2-core local stack (issue 5's burst), well inside the
   * 5 s hand-off timeout, so what is admitted gets through; a production Temporal clears it far faster.
   */
  maxInflightAlerts: 64,
  /** Short: slots free up within about a second at the default bound, and Alertmanager backs off anyway. */
  overloadRetryAfterSeconds: 2,
  intake: {
    mode: 'spill',
    /**
     * Few shards: a payload's alerts spread over the shards and its answer waits for every write, so a
     * payload of 10 alerts costs up to 10 writes with many shards (measured at 1,000 alerts/s in payloads of
     * 10: 1 shard ack p50 9 ms, 2 shards 21 ms, 8 shards 81 ms); more shards carry more single-alert payloads.
     */
    shards: 4,
    /**
     * ≈ 350 KiB per write. At 1,000 single-alert payloads/s one shard with batches of 200 fell behind (writes
     * of 200 took ≈ 170 ms), so a batch may hold a few hundred alerts; the intake hands them on 200 at a time.
     */
    maxBatch: 500,
    /** ≈ 20 MiB of alerts held while their batches are written. */
    maxPending: 20_000,
  },
};

type WebhookOverrides = Partial<Omit<WebhookSettings, 'intake'>> & {
  readonly intake?: Partial<WebhookSettings['intake']>;
};

/** The webhook's settings with `overrides` (undefined fields ignored) over the defaults, for callers without the environment. */
export function webhookSettings(overrides: WebhookOverrides = {}): WebhookSettings {
  const { intake, ...rest } = overrides;
  return {
    ...DEFAULT_WEBHOOK_SETTINGS,
    ...definedOnly(rest),
    intake: { ...DEFAULT_WEBHOOK_SETTINGS.intake, ...definedOnly(intake ?? {}) },
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export const DEFAULT_WEBHOOK_HOST = '127.0.0.1';

/** Worker process defaults (TALON_WORKER_*, TALON_INTAKE_DISPATCH_CONCURRENCY). */
export const DEFAULT_WORKER = {
  metricsHost: '127.0.0.1',
  metricsPort: 9464,
  maxCachedWorkflows: 100,
  /** Hand-offs the alert intake's dispatch runs at once on one worker: the pace of a storm's fan-out. */
  intakeDispatchConcurrency: 8,
  shutdownGraceSeconds: 30,
} as const;

export const DEFAULT_MODEL_PATH = 'models/policy.onnx';
export const DEFAULT_RESOLVE_WITHIN = '10m';
/** Talon's own namespace: protected from changes, home of the write-budget Leases. */
export const DEFAULT_TALON_NAMESPACE = 'talon-system';
/** Step of the metrics window: the local stack scrapes every 5 s, real clusters every 30 s. */
export const DEFAULT_WINDOW_STEP_SECONDS = { localStack: 5, cluster: 30 } as const;

/** How the actions that need more than the apiserver behave (TALON_NETWORK_*, TALON_EFFECT_*, TALON_OFFLOAD_*). */
export interface ActionSettings {
  /** Bandwidth a network_qos magnitude of 1 allows, in Mbit/s (Kube-OVN's unit); the rules use the same. */
  readonly networkCeilingMbps: number;
  /**
   * How long verification waits for an action's effect in the pod's own series (data offloading: its I/O
   * dropped; network QoS: its rate under the cap). Bounded by the verify activity's 5 min timeout.
   */
  readonly effectDeadlineSeconds: number;
  /**
   * A data offload counts as done when the pod's I/O fell by at least this fraction of the share it was asked
   * to move (0.5: asked for 40 %, at least 20 % less I/O).
   */
  readonly dataOffloadEffectFraction: number;
  /** Task offloading: the moved replicas return to the scheduler's spreading after this long at the latest. */
  readonly offloadReleaseAfterSeconds: number;
  /** ... or as soon as the source node's CPU busy share is below this. */
  readonly offloadRecoveredBelow: number;
  /** How often the release checks the source node. */
  readonly offloadCheckEverySeconds: number;
}

export const DEFAULT_ACTION_SETTINGS: ActionSettings = {
  networkCeilingMbps: 1000,
  effectDeadlineSeconds: 120,
  dataOffloadEffectFraction: 0.5,
  offloadReleaseAfterSeconds: 1800,
  offloadRecoveredBelow: 0.7,
  offloadCheckEverySeconds: 30,
};
