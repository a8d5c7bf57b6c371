/**
 * The production Temporal files agree with Talon's code: the registration Job creates exactly the
 * search attributes of src/contracts/search-attributes.ts, and the chart values keep PostgreSQL
 * credentials out of the file (Secret reference only).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/contracts/search-attributes';
import { registrationScript } from '../support/temporal-postgres';

const dir = join(__dirname, '..', '..', 'deploy', 'temporal');

describe('Temporal production files', () => {
  it('the registration Job creates every Talon search attribute with its type, and nothing else', async () => {
    const script = (await registrationScript()).replace(/\\\n\s*/g, ' ');
    const loop = /for attribute in ([^;]+); do/.exec(script)?.[1];
    expect(script).toMatch(/search-attribute create .*--name "\$\{attribute%%:\*\}" --type "\$\{attribute#\*:\}"/);
    const created = Object.fromEntries(
      (loop ?? '')
        .trim()
        .split(/\s+/)
        .map((pair) => pair.split(':') as [string, string]),
    );
    expect(created).toEqual(SEARCH_ATTRIBUTE_TYPES);
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
