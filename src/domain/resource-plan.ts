/**
 * The plan of a CPU or memory scaling step: for each container that sets the resource, its request and limit
 * multiplied by the factor with Kubernetes-exact quantities (CPU to whole millicores, memory to whole bytes,
 * rounded away from zero), each result checked against the guards. D3.6 Table 1 scales
 * `spec.containers[*].resources`; a container name narrows the step to one container. Pure.
 */
import { GUARDS, GuardRefusedError } from './errors';
import { checkResultQuantity, type BoundedResource, type GuardConfig } from './guards';
import { parseQuantity, scaleQuantity } from './quantity';

export interface ContainerResourcesSpec {
  readonly name: string;
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

/** The absolute values one container should end with, for one resource. */
export interface ContainerTarget {
  readonly container: string;
  readonly requests?: string;
  readonly limits?: string;
}

export interface ResourceChange {
  readonly container: string;
  readonly field: 'requests' | 'limits';
  readonly from: string;
  readonly to: string;
}

export interface ResourcePlan {
  readonly resource: BoundedResource;
  readonly factor: number;
  readonly targets: readonly ContainerTarget[];
  readonly changes: readonly ResourceChange[];
}

/** Normalises quantities a client returned (strings, or numbers for bare values) to strings. */
export function quantityText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return value.toString();
  return undefined;
}

/**
 * Plans scaling `resource` by `factor`. Refuses (invalid_request) when no container sets the resource or the
 * named container does not exist, and (result_bounds) when a result leaves the configured bounds.
 */
export function planResourceScaling(
  config: GuardConfig,
  containers: readonly ContainerResourcesSpec[],
  resource: BoundedResource,
  factor: number,
  options: { readonly container?: string; readonly where: string },
): ResourcePlan {
  const chosen = options.container ? containers.filter((c) => c.name === options.container) : containers;
  if (options.container && chosen.length === 0) {
    throw new GuardRefusedError(
      GUARDS.invalidRequest,
      `${options.where} has no container named ${options.container} (has ${containers.map((c) => c.name).join(', ')})`,
      { container: options.container },
    );
  }
  const targets: ContainerTarget[] = [];
  const changes: ResourceChange[] = [];
  for (const c of chosen) {
    const target: { container: string; requests?: string; limits?: string } = { container: c.name };
    for (const field of ['requests', 'limits'] as const) {
      const current = quantityText(c[field]?.[resource]);
      if (current === undefined) continue;
      const next = scaleQuantity(current, factor, { resource });
      checkResultQuantity(config, resource, next, `${options.where} container ${c.name} ${field}`);
      target[field] = next;
      changes.push({ container: c.name, field, from: parseQuantity(current).toString(), to: next });
    }
    if (target.requests !== undefined || target.limits !== undefined) targets.push(target);
  }
  if (targets.length === 0) {
    throw new GuardRefusedError(
      GUARDS.invalidRequest,
      `${options.where}: no ${options.container ? `container ${options.container}` : 'container'} sets a ${resource} ` +
        'request or limit, so there is nothing to scale',
      { resource },
    );
  }
  return { resource, factor, targets, changes };
}

/**
 * The values a plan replaces, as targets: applying them restores the containers to where they were (the
 * pre-change snapshot a rollback needs, recorded with the change itself).
 */
export function previousTargets(plan: Pick<ResourcePlan, 'changes'>): ContainerTarget[] {
  const byContainer = new Map<string, { container: string; requests?: string; limits?: string }>();
  for (const c of plan.changes) {
    const target = byContainer.get(c.container) ?? { container: c.container };
    target[c.field] = c.from;
    byContainer.set(c.container, target);
  }
  return [...byContainer.values()];
}

/** Whether a container's current values already equal the target (compared as quantities, not text). */
export function containerMatches(
  container: ContainerResourcesSpec | undefined,
  resource: string,
  target: ContainerTarget,
): boolean {
  if (!container) return false;
  for (const field of ['requests', 'limits'] as const) {
    const want = target[field];
    if (want === undefined) continue;
    const have = quantityText(container[field]?.[resource]);
    if (have === undefined || !parseQuantity(have).equals(want)) return false;
  }
  return true;
}
