/** Markdown for the decision-quality report of ./model-report (what bench/model.ts and `talon model evaluate` print). */
import { MODEL_POLICIES } from '../src/domain/policy';
import type { RuleConfigOverrides } from '../src/policy/rules';
import { excludesZero, type Interval } from './bootstrap';
import { SCENARIOS } from './cluster';
import type { Difference } from './evaluation';
import type { FamilyReport, ModelReport, Section } from './model-report';

const sign = (x: number, digits: number): string => `${x > 0 ? '+' : x < 0 ? '−' : '±'}${Math.abs(x).toFixed(digits)}`;

/** "−61 s [−81, −42]*": estimate and 95 % interval; the star marks an interval that excludes zero. */
export function formatInterval(i: Interval, scale: number, digits: number, unit: string): string {
  const v = (x: number): string => sign(x * scale, digits);
  return `${v(i.estimate)}${unit} [${v(i.low)}, ${v(i.high)}]${excludesZero(i) ? '*' : ''}`;
}

export const fmtTtr = (i: Interval): string => formatInterval(i, 1, 0, ' s');
export const fmtEnergy = (i: Interval): string => formatInterval(i, 100, 1, ' %');
export const fmtPoints = (i: Interval): string => formatInterval(i, 100, 1, ' pts');
export const fmtCost = (i: Interval): string => formatInterval(i, 1, 2, '');

function table(header: readonly string[], rows: readonly (readonly string[])[], right = true): string {
  const sep = header.map((_, i) => (i === 0 || !right ? '---' : '---:'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export function formatCatchSummary(report: ModelReport): string {
  const count = (f: FamilyReport, key: string): number =>
    Object.values(f.catchTable[key] ?? {}).reduce((a, b) => a + (b ?? 0), 0);
  return table(
    [
      'family',
      'SLO incidents',
      'caught: CPU rule',
      'caught: memory rule',
      'node rule only',
      'no rule',
      'uncaught, a pod rule fires later (no action)',
    ],
    report.families.map((f) => [
      `${f.family} (${f.description})`,
      String(f.drawn),
      String(count(f, 'TalonPodCpuNearLimit')),
      String(count(f, 'TalonPodMemoryNearLimit')),
      String(count(f, 'node_only')),
      String(count(f, 'none')),
      String(f.uncaughtFiringLater),
    ]),
  );
}

export function formatCatchByCause(f: FamilyReport): string {
  const keys = ['TalonPodCpuNearLimit', 'TalonPodMemoryNearLimit', 'node_only', 'none'];
  return table(
    ['hidden cause', 'CPU rule', 'memory rule', 'node rule only', 'no rule'],
    SCENARIOS.filter((s) => keys.some((k) => f.catchTable[k]?.[s])).map((s) => [
      s,
      ...keys.map((k) => String(f.catchTable[k]?.[s] ?? 0)),
    ]),
  );
}

function find(section: Section, engine: string, reference: string): Difference | undefined {
  return section.differences.find((d) => d.engine === engine && d.reference === reference);
}

/** The engines of one section with their means and their differences from the default rules. */
export function formatSection(section: Section): string {
  return table(
    [
      'engine',
      'n',
      'time back under SLO',
      'recovered ≤ 10 min',
      'energy (J)',
      'disruptive',
      'cost',
      'pending resizes',
      'Δ time vs rules',
      'Δ energy vs rules',
      'Δ disruptive vs rules',
      'Δ cost vs rules',
    ],
    section.engines.map((e) => {
      const d = find(section, e.name, 'rules');
      const notes = [
        e.fromAlert > 0 ? `${e.fromAlert} from the alert's list` : '',
        e.fallbacks > 0 ? `${e.fallbacks} rule fallbacks` : '',
        e.unsimulated > 0 ? `${e.unsimulated} unsimulated` : '',
      ].filter(Boolean);
      return [
        `${e.name}${notes.length ? ` (${notes.join(', ')})` : ''}`,
        String(e.incidents),
        `${e.meanTtrSeconds.toFixed(1)} s`,
        `${(100 * e.recoveredShare).toFixed(1)} %`,
        e.meanEnergyJ.toFixed(0),
        `${(100 * e.disruptiveShare).toFixed(1)} %`,
        e.meanCost.toFixed(2),
        String(e.pendingResizes),
        d ? fmtTtr(d.ttrSeconds) : '–',
        d ? fmtEnergy(d.energyRelative) : '–',
        d ? fmtPoints(d.disruptiveShare) : '–',
        d ? fmtCost(d.cost) : '–',
      ];
    }),
  );
}

/** One comparison across every family: where a difference holds and where it does not. */
export function formatComparison(
  report: ModelReport,
  engine: string,
  reference: string,
  which: 'caught' | 'uncaught' = 'caught',
): string {
  return table(
    ['family', 'incidents', 'Δ time back under SLO', 'Δ energy', 'Δ disruptive', 'Δ cost'],
    report.families.flatMap((f) => {
      const d = find(f[which], engine, reference);
      if (!d) return [];
      const n = f[which].engines[0]?.incidents ?? 0;
      return [
        [
          f.family,
          String(n),
          fmtTtr(d.ttrSeconds),
          fmtEnergy(d.energyRelative),
          fmtPoints(d.disruptiveShare),
          fmtCost(d.cost),
        ],
      ];
    }),
  );
}

export function formatByCause(section: Section): string {
  const scenarios = SCENARIOS.filter((s) => section.engines.some((e) => e.ttrByScenario[s] !== undefined));
  return table(
    ['engine', ...scenarios],
    section.engines.map((e) => [e.name, ...scenarios.map((s) => `${(e.ttrByScenario[s] ?? NaN).toFixed(0)} s`)]),
  );
}

export function formatChoices(section: Section): string {
  return table(
    ['engine', ...MODEL_POLICIES],
    section.engines.map((e) => [e.name, ...MODEL_POLICIES.map((p) => String(e.choices[p] ?? 0))]),
  );
}

function describeOverrides(o: RuleConfigOverrides): string {
  const t = (r: RuleConfigOverrides['cpu']): string => `high ${r?.high}, warn ${r?.warn}, target ${r?.target}`;
  return `cpu ${t(o.cpu)}; memory ${t(o.memory)}; energy rule ${o.energyLimitWatts === null || o.energyLimitWatts === undefined ? 'off' : `above ${o.energyLimitWatts} W`}; recent steps ${o.recentSteps}`;
}

export function formatTuning(report: ModelReport): string {
  const t = report.tuning;
  const lines = [
    `Grid of ${t.points} rule configurations (src/policy/rules.ts \`ruleConfig\`) on ${t.incidents} caught incidents of the tuning split ` +
      `(seed ${report.settings.tuningSeed}, base family; never evaluated on), each scored through chooseCandidate and played forward; ` +
      `objective: mean outcome cost at the served model's prices (restart ${report.costWeights.disruption} steps, 1 % energy ${report.costWeights.energyPerRelative / 100} step, change ${report.costWeights.change} step). ` +
      `Defaults ${t.defaultObjective.toFixed(3)} → best ${t.objective.toFixed(3)} (${t.seconds.toFixed(0)} s).`,
    '',
    ...t.top.map((p, i) => `${i + 1}. ${p.objective.toFixed(3)}: ${describeOverrides(p.overrides)}`),
  ];
  return lines.join('\n');
}

export function formatReport(report: ModelReport): string {
  const base = report.families[0];
  const out: string[] = [];
  out.push(
    `Engines scored through the worker's policy engine and the workflow's chooseCandidate, first attempt; ` +
      `${report.settings.incidents} SLO incidents per family (seed ${report.settings.seed}); ` +
      `intervals: paired bootstrap over incidents, ${report.settings.bootstrap.resamples} resamples, 95 %; * = excludes 0. ` +
      `Cost in steps out of SLO (restart ${report.costWeights.disruption}).`,
    '',
    '### Which incidents a Talon alert rule catches (at the decision step)',
    '',
    formatCatchSummary(report),
    '',
  );
  if (base) out.push(`By hidden cause (${base.family}):`, '', formatCatchByCause(base), '');
  out.push('### Rule tuning', '', formatTuning(report), '');
  out.push(
    `Linear learner: softmax regression on the last step, ${report.linear.samples} training windows, loss ${report.linear.loss.toFixed(3)}, ${report.linear.seconds.toFixed(0)} s.`,
    '',
  );
  for (const f of report.families) {
    out.push(`### ${f.family}: caught incidents (${f.description})`, '', formatSection(f.caught), '');
  }
  const names = report.engines.map((e) => e.name);
  const pairs: [string, string][] = [
    ['model', 'rules'],
    ['model', 'rules_tuned'],
    ['model', 'linear'],
    ['rules_tuned', 'rules'],
    ['linear', 'rules'],
    ...names.filter((n) => n.startsWith('model_seed')).map((n): [string, string] => [n, 'rules_tuned']),
  ];
  for (const [a, b] of pairs) {
    out.push(`### ${a} − ${b}, caught incidents, every family`, '', formatComparison(report, a, b), '');
  }
  for (const [a, b] of [
    ['model', 'rules'],
    ['model', 'rules_tuned'],
  ] as const) {
    out.push(
      `### ${a} − ${b}, incidents no rule catches (hypothetical SLO alert), every family`,
      '',
      formatComparison(report, a, b, 'uncaught'),
      '',
    );
  }
  if (base) {
    out.push(`### ${base.family}: time back under SLO by hidden cause (caught)`, '', formatByCause(base.caught), '');
    out.push(`### ${base.family}: first actions chosen (caught)`, '', formatChoices(base.caught), '');
    out.push(
      `### ${base.family}: incidents no Talon rule catches, scored as if a resource-less SLO alert had fired (hypothetical)`,
      '',
      formatSection(base.uncaught),
      '',
      formatByCause(base.uncaught),
      '',
    );
  }
  return out.join('\n');
}
