/**
 * `TALON_FAULT_HOLD`, the chaos knob for durability tests and game days: the worker stops inside chosen
 * activities (before their body runs, or after it has done its work but before Temporal hears of it), so a
 * SIGKILL can land at exactly that point (workers/fault-injection.ts holds them). Off unless set; never set
 * it on a worker that serves real alerts.
 *
 *   TALON_FAULT_HOLD=gatherWindow:before:120,applyPolicy:after:120
 */

export type FaultPhase = 'before' | 'after';

export interface FaultHold {
  readonly activityType: string;
  readonly phase: FaultPhase;
  readonly seconds: number;
}

const ENTRY = /^([A-Za-z][A-Za-z0-9_]*):(before|after):(\d{1,5})$/;

/** Parses `type:phase:seconds[,…]`; an unreadable entry is an error, not silently ignored. */
export function parseFaultHolds(spec: string | undefined): FaultHold[] {
  if (spec === undefined || spec.trim() === '') return [];
  return spec.split(',').map((raw) => {
    const entry = raw.trim();
    const match = ENTRY.exec(entry);
    if (!match) {
      throw new Error(
        `TALON_FAULT_HOLD entry "${entry}" is not <activityType>:<before|after>:<seconds>, e.g. applyPolicy:after:120`,
      );
    }
    const seconds = Number(match[3]);
    if (seconds < 1) throw new Error(`TALON_FAULT_HOLD entry "${entry}": hold at least 1 second`);
    return { activityType: match[1]!, phase: match[2] as FaultPhase, seconds };
  });
}
