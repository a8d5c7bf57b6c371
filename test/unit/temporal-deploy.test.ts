/**
 * The production Temporal files agree with Talon's code: the registration Job creates exactly the
 * search attributes of src/shared/search-attributes.ts, and the chart values keep PostgreSQL
 * credentials out of the file (Secret reference only).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';

const dir = join(__dirname, '..', '..', 'deploy', 'temporal');

export function registrationScript(): string {
  const docs = parseAllDocuments(readFileSync(join(dir, 'talon-namespace-job.yaml'), 'utf8')).map(
    (d) => d.toJS() as { kind: string; data?: Record<string, string> },
  );
  const script = docs.find((d) => d.kind === 'ConfigMap')?.data?.['register.sh'];
  if (!script) throw new Error('talon-namespace-job.yaml has no register.sh');
  return script;
}

describe('Temporal production files', () => {
  it('the registration Job creates every Talon search attribute with its type, and nothing else', () => {
    const script = registrationScript().replace(/\\\n\s*/g, ' ');
    const created: Record<string, string> = {};
    for (const line of script.split('\n').filter((l) => l.includes('search-attribute create'))) {
      const type = /--type (\w+)/.exec(line)?.[1];
      for (const m of line.matchAll(/--name (\w+)/g)) created[m[1]!] = type!;
    }
    expect(created).toEqual(SEARCH_ATTRIBUTES);
  });

  it('the chart values persist to PostgreSQL through a Secret reference, never an inline password', () => {
    const values = parse(readFileSync(join(dir, 'values.postgresql.yaml'), 'utf8')) as {
      server: { config: { persistence: Record<string, { driver: string; sql: Record<string, unknown> }> } };
    };
    for (const store of ['default', 'visibility']) {
      const s = values.server.config.persistence[store]!;
      expect(s.driver).toBe('sql');
      expect(s.sql.driver).toBe('postgres12');
      expect(s.sql.existingSecret).toBeTruthy();
      expect(s.sql).not.toHaveProperty('password');
    }
  });
});
