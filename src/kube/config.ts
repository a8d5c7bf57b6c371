/** Builds the Kubernetes client configuration from explicit options (never from the environment here). */
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConnectionOptions {
  readonly kubeconfigPath?: string;
  readonly inCluster: boolean;
}

export function loadKubeConfig(options: KubeConnectionOptions): KubeConfig {
  const kc = new KubeConfig();
  if (options.inCluster) kc.loadFromCluster();
  else if (options.kubeconfigPath) kc.loadFromFile(options.kubeconfigPath);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `no Kubernetes cluster in ${options.inCluster ? 'the in-cluster service account' : (options.kubeconfigPath ?? 'the default kubeconfig')}`,
    );
  }
  return kc;
}
