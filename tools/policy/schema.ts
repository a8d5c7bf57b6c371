/**
 * Writes the policy file's published JSON Schema (deploy/policy/talon-policy.schema.json) from the zod schema
 * Talon validates with (src/config/policy-file.ts); test/unit/policy-file.test.ts fails when it is stale.
 * Run: `npx tsx tools/policy/schema.ts`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { policyJsonSchema } from '../../src/config/policy-file';
import { repoRoot } from '../../src/config/repo-root';

export const SCHEMA_PATH = 'deploy/policy/talon-policy.schema.json';

if (require.main === module) {
  void (async () => {
    const { format } = await import('prettier');
    const text = await format(JSON.stringify(policyJsonSchema()), { parser: 'json', printWidth: 120 });
    await writeFile(join(repoRoot(), SCHEMA_PATH), text);
    process.stdout.write(`wrote ${SCHEMA_PATH}\n`);
  })();
}
