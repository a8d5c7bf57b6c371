/**
 * What the connected apiserver supports, discovered rather than assumed: in-place pod resize exists when the
 * core/v1 discovery document lists the `pods/resize` subresource (Kubernetes 1.33+ with
 * InPlacePodVerticalScaling). One discovery request per process; the answer is cached.
 */
import type { KubeClients } from './client';
import { kubeCall } from './errors';

export class ClusterCapabilities {
  private resize: Promise<boolean> | undefined;

  constructor(
    private readonly clients: Pick<KubeClients, 'core'>,
    /** Forces the answer (tests of the fallback path, clusters where resize is disabled by policy). */
    private readonly overrides: { readonly podResize?: boolean } = {},
  ) {}

  /** Whether `PATCH pods/{name}/resize` is served. */
  async podResize(): Promise<boolean> {
    if (this.overrides.podResize !== undefined) return this.overrides.podResize;
    this.resize ??= kubeCall('discover core/v1 resources', () => this.clients.core.getAPIResources())
      .then((list) => list.resources.some((r) => r.name === 'pods/resize'))
      .catch((err: unknown) => {
        this.resize = undefined;
        throw err;
      });
    return this.resize;
  }
}
