/**
 * Talon's own rules: the ones that read what the learned model cannot — the network and disk I/O signals of
 * the window and the owning workload's context (replicas, HPA, container health). They propose Talon's
 * additions (replica scaling, network QoS, restarting a container) and data offloading on heavy I/O. Because
 * the model has no input for any of this, their candidates are added to the model's answer too
 * (src/policy/breaker.ts), not only used when the rules answer alone. Deterministic and free of I/O.
 *
 * The rules (thresholds from configuration, TALON_RULES; defaults below):
 * - replica_scale_up   cpu share > replicas.scaleUpAbove and the pod runs in a Deployment/StatefulSet:
 *                      magnitude share / cpu.target (the replicas that bring the share back to target). It ranks
 *                      above the resize from `replicas.preferFrom` replicas on (already scaled horizontally),
 *                      below it otherwise.
 * - replica_scale_down D3.6 Rule 1: the pod's node is busier than replicas.nodeBusyAbove (system_cpu_usage) and
 *                      the workload is redundant (≥ replicas.redundantFrom replicas): remove one replica,
 *                      magnitude (n − 1) / n.
 * - network_qos        the pod drops more than network.dropsPerSecond packets, or sends/receives more than
 *                      network.highShare of the ceiling: cap both directions at network.targetShare of its
 *                      current rate, magnitude = that cap / ceiling (only when it is a real cap: ≥ the guide's
 *                      0.1 of the ceiling).
 * - data_offloading    disk I/O above io.highBytesPerSecond: move the share above io.targetShare × high.
 * - container_restart  a container is crash-looping or stuck (src/domain/workload-context malfunctionOf).
 * Scores use rules.ts' scale: 0.6 + 0.4 × severity for a rule that fired; restart scores 0.9 (a broken
 * container is not fixed by anything else).
 */
import { clampMagnitude, MAGNITUDE_GUIDE, type PolicyName, type RankedPolicy } from '../domain/policy';
import { bytesToMbit, recentSignal } from '../domain/signals';
import { hasFeature, recentMean, type FeatureWindow } from '../domain/window';
import { malfunctionOf, isReplicated, type MalfunctionRules } from '../domain/workload-context';
import { RuleConfigError } from './rule-errors';

export interface ReplicaRules {
  /** CPU share (usage / limit) above which adding replicas is proposed. */
  readonly scaleUpAbove: number;
  /** From this many replicas on, scaling out ranks above resizing the pod. */
  readonly preferFrom: number;
  /** D3.6 Rule 1: node busy share (system_cpu_usage) above which a redundant workload loses a replica. */
  readonly nodeBusyAbove: number;
  /** A workload with at least this many replicas is redundant. */
  readonly redundantFrom: number;
}

export interface NetworkRules {
  /** Bandwidth a network_qos magnitude of 1 allows, Mbit/s (the actuator's TALON_NETWORK_CEILING_MBPS). */
  readonly ceilingMbps: number;
  /** Received + sent packet drops per second above which the pod's link is congested. */
  readonly dropsPerSecond: number;
  /** A pod using more than this share of the ceiling in either direction is congesting its neighbours. */
  readonly highShare: number;
  /** The cap aims at this share of what the pod uses now. */
  readonly targetShare: number;
}

export interface IoRules {
  /** Disk bytes read + written per second above which data offloading is proposed. */
  readonly highBytesPerSecond: number;
  /** Offloading aims at this share of `highBytesPerSecond`. */
  readonly targetShare: number;
}

export interface TalonRuleConfig {
  readonly replicas: ReplicaRules;
  /** null turns the network rule off. */
  readonly network: NetworkRules | null;
  /** null turns the I/O rule off. */
  readonly io: IoRules | null;
  readonly restart: MalfunctionRules;
}

export const DEFAULT_TALON_RULE_CONFIG: TalonRuleConfig = {
  replicas: { scaleUpAbove: 0.9, preferFrom: 2, nodeBusyAbove: 0.7, redundantFrom: 2 },
  network: { ceilingMbps: 1000, dropsPerSecond: 100, highShare: 0.8, targetShare: 0.7 },
  io: { highBytesPerSecond: 100 * 1024 * 1024, targetShare: 0.7 },
  restart: { restartsAtLeast: 3, stuckAfterSeconds: 300 },
};

export interface TalonRuleOverrides {
  readonly replicas?: Partial<ReplicaRules>;
  readonly network?: Partial<NetworkRules> | null;
  readonly io?: Partial<IoRules> | null;
  readonly restart?: Partial<MalfunctionRules>;
}

function positive(name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) throw new RuleConfigError(`${name} must be a positive number, got ${v}`);
}

function share(name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0 && v <= 1)) throw new RuleConfigError(`${name} must be in (0, 1], got ${v}`);
}

function integerFrom(name: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min)) throw new RuleConfigError(`${name} must be an integer ≥ ${min}, got ${v}`);
}

/** Merges overrides onto the defaults and rejects nonsense (a share above 1, a non-integer replica count). */
export function talonRuleConfig(overrides: TalonRuleOverrides = {}): TalonRuleConfig {
  const d = DEFAULT_TALON_RULE_CONFIG;
  const config: TalonRuleConfig = {
    replicas: { ...d.replicas, ...overrides.replicas },
    network: overrides.network === null ? null : { ...(d.network as NetworkRules), ...overrides.network },
    io: overrides.io === null ? null : { ...(d.io as IoRules), ...overrides.io },
    restart: { ...d.restart, ...overrides.restart },
  };
  const r = config.replicas;
  positive('replicas.scaleUpAbove', r.scaleUpAbove);
  share('replicas.nodeBusyAbove', r.nodeBusyAbove);
  integerFrom('replicas.preferFrom', r.preferFrom, 1);
  integerFrom('replicas.redundantFrom', r.redundantFrom, 2);
  if (config.network) {
    positive('network.ceilingMbps', config.network.ceilingMbps);
    positive('network.dropsPerSecond', config.network.dropsPerSecond);
    share('network.highShare', config.network.highShare);
    share('network.targetShare', config.network.targetShare);
  }
  if (config.io) {
    positive('io.highBytesPerSecond', config.io.highBytesPerSecond);
    share('io.targetShare', config.io.targetShare);
  }
  integerFrom('restart.restartsAtLeast', config.restart.restartsAtLeast, 1);
  positive('restart.stuckAfterSeconds', config.restart.stuckAfterSeconds);
  return config;
}

const PRIMARY_BASE = 0.6;
const PRIMARY_SPAN = 0.4;
const ALTERNATIVE_BASE = 0.3;
const ALTERNATIVE_SPAN = 0.2;
/** Ranks a preferred scale-out just above the resize rule at the same severity. */
const PREFERENCE = 0.05;
const RESTART_SCORE = 0.9;

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));
const fmt = (v: number): string => v.toFixed(2);

function entry(policy: PolicyName, score: number, magnitude: number, reason: string): RankedPolicy {
  return { policy, score: clamp01(score), magnitude: clampMagnitude(policy, magnitude), reason };
}

interface Thresholds {
  /** CPU share the resize aims for (rules.ts' cpu.target): scaling out aims for the same. */
  readonly cpuTarget: number;
  readonly recentSteps: number;
}

function replicaRules(window: FeatureWindow, r: ReplicaRules, t: Thresholds, notes: string[]): RankedPolicy[] {
  const context = window.workload;
  if (!isReplicated(context) || context === undefined) return [];
  const replicas = context.replicas ?? 1;
  const where = `${context.kind} ${context.name} (${replicas} replica${replicas === 1 ? '' : 's'}${context.hpa ? `, HPA ${context.hpa.name} ${context.hpa.minReplicas}–${context.hpa.maxReplicas}` : ''})`;
  const out: RankedPolicy[] = [];
  if (hasFeature(window, 'cpu_usage')) {
    const cpu = recentMean(window, 'cpu_usage', t.recentSteps);
    if (cpu > r.scaleUpAbove) {
      const severity = clamp01((cpu - r.scaleUpAbove) / Math.max(1 - r.scaleUpAbove, r.scaleUpAbove * 0.1));
      const preferred = replicas >= r.preferFrom;
      out.push(
        entry(
          'replica_scale_up',
          preferred
            ? PRIMARY_BASE + PRIMARY_SPAN * severity + PREFERENCE
            : ALTERNATIVE_BASE + ALTERNATIVE_SPAN * severity,
          cpu / t.cpuTarget,
          `cpu at ${fmt(cpu)} of its limit > ${fmt(r.scaleUpAbove)} in ${where}: add replicas to bring it to ${fmt(t.cpuTarget)}` +
            (preferred ? ' (already scaled out: preferred over a resize)' : ''),
        ),
      );
    }
  }
  if (hasFeature(window, 'system_cpu_usage') && replicas >= r.redundantFrom) {
    const busy = recentMean(window, 'system_cpu_usage', t.recentSteps);
    if (busy > r.nodeBusyAbove) {
      const severity = clamp01((busy - r.nodeBusyAbove) / (1 - r.nodeBusyAbove || 1));
      out.push(
        entry(
          'replica_scale_down',
          PRIMARY_BASE + PRIMARY_SPAN * severity,
          (replicas - 1) / replicas,
          `node ${window.target.node ?? '?'} is ${fmt(busy)} busy > ${fmt(r.nodeBusyAbove)} and ${where} is redundant: remove a replica (D3.6 Rule 1)`,
        ),
      );
    } else notes.push(`node ${fmt(busy)} busy`);
  }
  return out;
}

function networkRule(window: FeatureWindow, n: NetworkRules, t: Thresholds, notes: string[]): RankedPolicy[] {
  const rx = recentSignal(window.signals, 'network_receive_bytes', t.recentSteps);
  const tx = recentSignal(window.signals, 'network_transmit_bytes', t.recentSteps);
  if (rx === undefined && tx === undefined) {
    notes.push('network: no data');
    return [];
  }
  const drops =
    (recentSignal(window.signals, 'network_receive_drops', t.recentSteps) ?? 0) +
    (recentSignal(window.signals, 'network_transmit_drops', t.recentSteps) ?? 0);
  const mbps = Math.max(bytesToMbit(rx ?? 0), bytesToMbit(tx ?? 0));
  const used = mbps / n.ceilingMbps;
  const congested = drops > n.dropsPerSecond || used > n.highShare;
  const seen = `${mbps.toFixed(1)} Mbit/s (${fmt(used)} of ${n.ceilingMbps}), ${drops.toFixed(1)} drops/s`;
  if (!congested) {
    notes.push(`network ${seen}`);
    return [];
  }
  const magnitude = (n.targetShare * mbps) / n.ceilingMbps;
  if (magnitude < MAGNITUDE_GUIDE.network_qos.min) {
    notes.push(`network congested (${seen}) but the pod uses too little for a cap to matter`);
    return [];
  }
  const severity = Math.max(
    clamp01((drops - n.dropsPerSecond) / n.dropsPerSecond),
    clamp01((used - n.highShare) / (1 - n.highShare || 1)),
  );
  return [
    entry(
      'network_qos',
      PRIMARY_BASE + PRIMARY_SPAN * severity,
      magnitude,
      `network congested: ${seen}: cap the pod at ${(magnitude * n.ceilingMbps).toFixed(0)} Mbit/s each way`,
    ),
  ];
}

function ioRule(window: FeatureWindow, io: IoRules, t: Thresholds, notes: string[]): RankedPolicy[] {
  const read = recentSignal(window.signals, 'fs_read_bytes', t.recentSteps);
  const write = recentSignal(window.signals, 'fs_write_bytes', t.recentSteps);
  if (read === undefined && write === undefined) {
    notes.push('disk I/O: no data');
    return [];
  }
  const bytes = (read ?? 0) + (write ?? 0);
  const mib = (v: number) => `${(v / (1024 * 1024)).toFixed(1)} MiB/s`;
  if (bytes <= io.highBytesPerSecond) {
    notes.push(`disk I/O ${mib(bytes)}`);
    return [];
  }
  const severity = clamp01((bytes - io.highBytesPerSecond) / io.highBytesPerSecond);
  return [
    entry(
      'data_offloading',
      PRIMARY_BASE + PRIMARY_SPAN * severity,
      1 - (io.targetShare * io.highBytesPerSecond) / bytes,
      `disk I/O ${mib(bytes)} > ${mib(io.highBytesPerSecond)}: offload the data behind the excess`,
    ),
  ];
}

function restartRule(window: FeatureWindow, rules: MalfunctionRules): RankedPolicy[] {
  const context = window.workload;
  if (!context) return [];
  const broken = malfunctionOf(context.containers, rules);
  if (!broken) return [];
  return [entry('container_restart', RESTART_SCORE, 1, `${broken.detail}: replace the pod`)];
}

/**
 * The candidates of Talon's rules for a window (unranked; empty when none fired), with notes on what was
 * looked at and did not fire.
 */
export function evaluateTalonRules(
  window: FeatureWindow,
  config: TalonRuleConfig,
  thresholds: Thresholds,
): { candidates: RankedPolicy[]; notes: string[] } {
  const notes: string[] = [];
  const candidates = [
    ...replicaRules(window, config.replicas, thresholds, notes),
    ...(config.network ? networkRule(window, config.network, thresholds, notes) : []),
    ...(config.io ? ioRule(window, config.io, thresholds, notes) : []),
    ...restartRule(window, config.restart),
  ];
  return { candidates, notes: window.signals || window.workload ? notes : [] };
}
