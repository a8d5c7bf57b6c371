/**
 * Property-based fuzzing of both alert routes and the task route (test/support/webhook-fuzz.ts lists the
 * properties). A fixed seed keeps the run reproducible; FUZZ_SEED and FUZZ_CASES widen it, and
 * `npx tsx bench/webhook-fuzz.ts` prints the figures of a larger run.
 */
import type { Taxonomy } from '../../src/domain/taxonomy';
import { loadTaxonomy } from '../../src/tasks/taxonomy-store';
import { formatFuzzReport, fuzzRoute, FUZZ_ROUTES, invalidHandOff } from '../support/webhook-fuzz';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_517);
const CASES = Number(process.env.FUZZ_CASES ?? 1_500);
let taxonomy: Taxonomy;

beforeAll(async () => {
  taxonomy = await loadTaxonomy();
});

describe('webhook fuzz', () => {
  it.each(FUZZ_ROUTES)(
    '%s: no 5xx but 503, no crash, no prototype pollution, nothing invalid handed off',
    async (route) => {
      const report = await fuzzRoute(route, SEED, CASES, taxonomy);
      if (report.failures.length > 0) throw new Error(formatFuzzReport([report]));
      expect(report.tried).toBe(CASES);
      // The generator reaches the interesting answers, so the properties were checked where it matters.
      expect(report.byStatus['202']).toBeGreaterThan(CASES / 10);
      expect(report.byStatus['400']).toBeGreaterThan(0);
      expect(report.byStatus['503']).toBeGreaterThan(0);
      expect(report.byStatus['413']).toBeGreaterThan(0);
      expect(report.handedOff).toBeGreaterThan(0);
    },
    120_000,
  );

  it('the hand-off check itself refuses what must not reach Temporal', () => {
    const good = {
      source: 'grafana',
      alertName: 'High memory usage',
      status: 'firing',
      fingerprint: 'c6eadffa33fcdf37',
      target: { kind: 'pod', namespace: 'shop', pod: 'web-1' },
      labels: { alertname: 'High memory usage' },
      annotations: {},
      startsAt: '2021-10-12T09:51:03.157076+02:00',
    } as const;
    expect(invalidHandOff(good)).toBeUndefined();
    expect(invalidHandOff({ ...good, alertName: '\ud800' })).toBe('bad alertName');
    expect(invalidHandOff({ ...good, target: { kind: 'pod', namespace: 'Shop', pod: 'web-1' } })).toBe(
      'bad pod target',
    );
    expect(invalidHandOff({ ...good, fingerprint: 'a/b' })).toMatch(/bad fingerprint/);
    expect(invalidHandOff({ ...good, labels: { a: 1 as unknown as string } })).toBe('labels has a non-string value');
    expect(invalidHandOff({ ...good, labels: JSON.parse('{"__proto__": "x"}') as Record<string, string> })).toBe(
      'labels carries a __proto__ key',
    );
  });
});
