/** Where the workflow code lives, compiled or not: what the worker (or the bundler) loads. */
export function workflowsPath(): string {
  return require.resolve('../workflows');
}
