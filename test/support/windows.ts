/** Builds feature windows for policy tests: constant or per-step feature values, through the real window builder. */
import { MODEL_FEATURES, type ModelFeature } from '../../src/domain/features';
import type { FeatureWindow, WindowHistory } from '../../src/domain/window';
import { buildWindow, type Sample } from '../../src/metrics/window';

export interface WindowFixture {
  /** Per feature: one value for every step, or one value per step (oldest first). */
  readonly values: Partial<Record<ModelFeature, number | readonly number[]>>;
  readonly steps?: number;
  readonly stepSeconds?: number;
  readonly end?: number;
  /** Seconds after `end` at which quality is measured (raises staleness). */
  readonly ageSeconds?: number;
  readonly history?: WindowHistory;
}

export function fixtureWindow(fixture: WindowFixture): FeatureWindow {
  const steps = fixture.steps ?? 10;
  const stepSeconds = fixture.stepSeconds ?? 30;
  const end = fixture.end ?? 1_700_000_010 - (1_700_000_010 % stepSeconds);
  const series: Partial<Record<ModelFeature, Sample[]>> = {};
  for (const feature of MODEL_FEATURES) {
    const spec = fixture.values[feature];
    if (spec === undefined) continue;
    series[feature] = Array.from({ length: steps }, (_, i) => ({
      t: end - (steps - 1 - i) * stepSeconds,
      v: typeof spec === 'number' ? spec : (spec[i] ?? Number.NaN),
    }));
  }
  const outcome = buildWindow({
    target: { namespace: 'ns', pod: 'pod-1' },
    source: 'prometheus',
    end,
    asOf: end + (fixture.ageSeconds ?? 0),
    spec: { steps, stepSeconds },
    series,
    ...(fixture.history ? { history: fixture.history } : {}),
  });
  if (outcome.kind !== 'window') throw new Error(`fixture is insufficient: ${outcome.reason}`);
  return outcome;
}
