/**
 * The layering of DESIGN.md's folder table is enforced by lint path zones (eslint.config.mjs): an import that
 * points up the house is reported, one that points down is not, and the project's config applies the rule to
 * every TypeScript file. ESLint runs in a child process (it loads its config as an ES module).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

jest.setTimeout(60_000);

const root = join(__dirname, '..', '..');

interface Probe {
  readonly file: string;
  readonly code: string;
}

/** ruleIds ESLint reports for each probe, linted as if it were `file` (nothing is written to disk). */
function lint(probes: readonly Probe[]): string[][] {
  const script = `
    const { ESLint } = require('eslint');
    const probes = JSON.parse(process.argv[1]);
    (async () => {
      const eslint = new ESLint({ cwd: process.cwd(), overrideConfigFile: 'test/fixtures/lint-zones/eslint.config.mjs' });
      const out = [];
      for (const p of probes) {
        const [result] = await eslint.lintText(p.code, { filePath: require('node:path').join(process.cwd(), p.file) });
        out.push(result.messages.map((m) => m.ruleId ?? 'fatal: ' + m.message));
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
  `;
  const stdout = execFileSync(process.execPath, ['-e', script, JSON.stringify(probes)], {
    cwd: root,
    encoding: 'utf8',
  });
  return JSON.parse(stdout) as string[][];
}

const ZONE = 'import/no-restricted-paths';

it('reports imports that point up the house', () => {
  const up: Probe[] = [
    {
      file: 'src/domain/probe.ts',
      code: "import { createKubeClients } from '../kube/client';\nvoid createKubeClients;",
    },
    {
      file: 'src/domain/probe.ts',
      code: "import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes';\nvoid SEARCH_ATTRIBUTES;",
    },
    {
      file: 'src/webhook/probe.ts',
      code: "import { serveWorkerHttp } from '../../workers/http';\nvoid serveWorkerHttp;",
    },
    { file: 'src/config/probe.ts', code: "import { Admission } from '../webhook/admission';\nvoid Admission;" },
    {
      file: 'activities/probe.ts',
      code: "import { createWebhookApp } from '../src/webhook/app';\nvoid createWebhookApp;",
    },
    { file: 'workflows/probe.ts', code: "import { loadKubeConfig } from '../src/kube/config';\nvoid loadKubeConfig;" },
    // A workflow's step modules sit one folder deeper and answer to the same zone.
    {
      file: 'workflows/remediation/probe.ts',
      code: "import { loadKubeConfig } from '../../src/kube/config';\nvoid loadKubeConfig;",
    },
    { file: 'src/cli/probe.ts', code: "import { serveWorkerHttp } from '../../workers/http';\nvoid serveWorkerHttp;" },
    // The entry point composes the worker from above: the CLI may not start it itself.
    {
      file: 'src/cli/probe.ts',
      code: "import { createTalonWorker } from '../../workers/worker';\nvoid createTalonWorker;",
    },
    {
      file: 'src/client/probe.ts',
      code: "import { alertmanagerBody } from '../../test/support/alertmanager';\nvoid alertmanagerBody;",
    },
  ];
  // One report per zone the import breaks, and nothing else.
  expect(lint(up).map((rules) => [...new Set(rules)])).toEqual(up.map(() => [ZONE]));
});

it('lets imports that point down through', () => {
  const down: Probe[] = [
    { file: 'src/domain/probe.ts', code: "import { parseQuantity } from './quantity';\nvoid parseQuantity;" },
    {
      file: 'workflows/probe.ts',
      code: "import { alertFiredSignal } from '../src/contracts/alert-episode';\nvoid alertFiredSignal;",
    },
    {
      file: 'src/webhook/probe.ts',
      code: "import { webhookSettings } from '../config/defaults';\nvoid webhookSettings;",
    },
    {
      file: 'activities/probe.ts',
      code: "import { createKubeClients } from '../src/kube/client';\nvoid createKubeClients;",
    },
    {
      file: 'workers/probe.ts',
      code: "import { createWebhookApp } from '../src/webhook/app';\nvoid createWebhookApp;",
    },
  ];
  expect(lint(down)).toEqual(down.map(() => []));
});

it('is the rule the project config applies to every TypeScript file', () => {
  const files = [
    'src/domain/alert.ts',
    'activities/intake.ts',
    'workflows/remediate-alert.ts',
    'workflows/remediation/decide.ts',
    'workflows/node-overload/judge.ts',
    'src/cli/program.ts',
    'workers/main.ts',
  ];
  const script = `
    const { ESLint } = require('eslint');
    (async () => {
      const eslint = new ESLint({ cwd: process.cwd() });
      const out = [];
      for (const f of JSON.parse(process.argv[1])) out.push((await eslint.calculateConfigForFile(f)).rules[${JSON.stringify(ZONE)}]);
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
  `;
  const rules = JSON.parse(
    execFileSync(process.execPath, ['-e', script, JSON.stringify(files)], { cwd: root, encoding: 'utf8' }),
  ) as [number | string, { zones: unknown[] }][];
  for (const [severity, options] of rules) {
    expect([2, 'error']).toContain(severity);
    expect(options.zones.length).toBeGreaterThan(5);
  }
  expect(rules).toHaveLength(files.length);
});
