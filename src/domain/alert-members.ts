/**
 * The alerts one workload's remediation has heard of: every pod of the workload that fired joins it (its
 * workflow id is keyed by the workload), and the remediation acts on the newest firing pod that still exists.
 * The workload counts as firing while any member fires. Pure and deterministic (insertion order and a
 * counter, no clock): kept inside the workflow.
 */
import type { TalonAlert } from './alert';
import { isPredicted } from './autonomy';
import type { PodTarget } from './remediation';

export interface AlertMember {
  readonly fingerprint: string;
  readonly alert: TalonAlert;
  readonly pod: PodTarget;
  firing: boolean;
  /** Its pod no longer exists (rolled out, evicted, deleted): it cannot be acted on, nor count as firing. */
  gone: boolean;
  /** Order of its latest firing notification; the highest is the newest. */
  seq: number;
  /** Raised by the predictive watch before a breach (`talon_predicted="true"`), not by an alert rule. */
  readonly predicted: boolean;
}

function podOf(alert: TalonAlert): PodTarget | undefined {
  if (alert.target.kind !== 'pod') return undefined;
  const { namespace, pod, container } = alert.target;
  return { namespace, pod, ...(container ? { container } : {}) };
}

export class AlertMembers {
  private readonly byFingerprint = new Map<string, AlertMember>();
  private counter = 0;

  constructor(first: TalonAlert) {
    this.note(first, first.status === 'firing');
  }

  /** A firing notification; a pod that reappears under a known fingerprint is live again. */
  fired(alert: TalonAlert): void {
    this.note(alert, true);
  }

  resolved(alert: TalonAlert): void {
    const member = this.byFingerprint.get(alert.fingerprint);
    if (member) member.firing = false;
  }

  /** True while any member whose pod may still exist fires. */
  get firing(): boolean {
    for (const m of this.byFingerprint.values()) if (m.firing && !m.gone) return true;
    return false;
  }

  get size(): number {
    return this.byFingerprint.size;
  }

  /** True while a member raised by an alert rule (not a forecast) fires. */
  get firingObserved(): boolean {
    for (const m of this.byFingerprint.values()) if (m.firing && !m.gone && !m.predicted) return true;
    return false;
  }

  /**
   * The member to act on: the newest firing one whose pod is not known to be gone, an observed alert before a
   * predicted one (the breach happened: the real alert's policy and autonomy apply, not the forecast's).
   */
  target(): AlertMember | undefined {
    let best: AlertMember | undefined;
    for (const m of this.byFingerprint.values()) {
      if (!m.firing || m.gone) continue;
      const better = !best || (best.predicted && !m.predicted) || (best.predicted === m.predicted && m.seq > best.seq);
      if (better) best = m;
    }
    return best;
  }

  markGone(fingerprint: string): void {
    const member = this.byFingerprint.get(fingerprint);
    if (member) member.gone = true;
  }

  /** Pods that fired, newest first (for the record and the query). */
  pods(): string[] {
    return [...this.byFingerprint.values()].sort((a, b) => b.seq - a.seq).map((m) => m.pod.pod);
  }

  /** A node alert cannot join a workload's remediation (its id never leads here); it is ignored. */
  private note(alert: TalonAlert, firing: boolean): void {
    const pod = podOf(alert);
    if (!pod) return;
    this.counter += 1;
    const existing = this.byFingerprint.get(alert.fingerprint);
    if (existing) {
      existing.firing = existing.firing || firing;
      existing.gone = false;
      existing.seq = this.counter;
      return;
    }
    this.byFingerprint.set(alert.fingerprint, {
      fingerprint: alert.fingerprint,
      alert,
      pod,
      firing,
      gone: false,
      seq: this.counter,
      predicted: isPredicted(alert.labels),
    });
  }
}
