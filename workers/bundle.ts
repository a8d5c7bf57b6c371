/**
 * The workflow code as one prebuilt file. A worker given it (TALON_WORKFLOW_BUNDLE) skips bundling at start:
 * webpack is never loaded, which saves start time and about a hundred MiB of resident memory per worker.
 * The file must come from the same build as the worker (`npm run build` writes both).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from './workflows-path';

export async function writeWorkflowBundle(outPath: string): Promise<{ path: string; bytes: number }> {
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath() });
  await mkdir(dirname(outPath), { recursive: true });
  await writeFile(outPath, code);
  return { path: outPath, bytes: Buffer.byteLength(code) };
}
