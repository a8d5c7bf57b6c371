/**
 * The workflow code bundled by the SDK's webpack, quietly: tests, benchmarks and `talon bundle-workflows` all
 * build it here. Written to a file, it is what TALON_WORKFLOW_BUNDLE points at: a worker given it skips bundling
 * at start (webpack never loads: faster start, about a hundred MiB less RSS). The file must come from the same
 * build as the worker (`npm run build` writes both).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { workflowsPath } from './workflows-path';

const silent = {
  log: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
  trace: () => undefined,
};

/** Bundles workflows/ without webpack's progress output. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: silent });
}

export async function writeWorkflowBundle(outPath: string): Promise<{ path: string; bytes: number }> {
  const { code } = await bundleWorkflows();
  await mkdir(dirname(outPath), { recursive: true });
  await writeFile(outPath, code);
  return { path: outPath, bytes: Buffer.byteLength(code) };
}
