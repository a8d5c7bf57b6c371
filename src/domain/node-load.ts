/**
 * Node load and the ranking task offloading uses to pick a destination: D3.6 3.1.2 sorts nodes by
 * utilisation and moves the task to the least loaded one. Talon ranks on a weighted mix of CPU and memory
 * utilisation (both shares of allocatable), so a node with idle CPU but full memory is not chosen blindly.
 * Pure: safe inside workflows.
 */

export interface NodeLoad {
  readonly node: string;
  /** Absent when Prometheus returned no usage for the node: unmeasured is not idle. */
  readonly cpuCores?: number;
  readonly memoryBytes?: number;
  readonly cpuAllocatableCores?: number;
  readonly memoryAllocatableBytes?: number;
}

export interface RankedNode extends NodeLoad {
  readonly cpuShare?: number;
  readonly memoryShare?: number;
  /** Weighted utilisation in [0, ∞); lower is a better destination. Absent when allocatable is unknown. */
  readonly load?: number;
}

export interface NodeRankingOptions {
  /** Weight of CPU in the mix; memory gets the rest. */
  readonly cpuWeight?: number;
  /** Nodes that must not receive the task (the source node, cordoned or tainted nodes). */
  readonly exclude?: readonly string[];
  /** Nodes above this weighted load are left out: moving work onto them would just move the hotspot. */
  readonly maxLoad?: number;
}

/** Ranks nodes least loaded first; nodes without allocatable data come last, by name. */
export function rankNodesForOffloading(loads: readonly NodeLoad[], options: NodeRankingOptions = {}): RankedNode[] {
  const w = Math.min(1, Math.max(0, options.cpuWeight ?? 0.5));
  const exclude = new Set(options.exclude ?? []);
  const ranked: RankedNode[] = loads
    .filter((l) => !exclude.has(l.node))
    .map((l) => {
      const cpuShare =
        l.cpuCores !== undefined && l.cpuAllocatableCores ? l.cpuCores / l.cpuAllocatableCores : undefined;
      const memoryShare =
        l.memoryBytes !== undefined && l.memoryAllocatableBytes ? l.memoryBytes / l.memoryAllocatableBytes : undefined;
      const load =
        cpuShare !== undefined && memoryShare !== undefined
          ? w * cpuShare + (1 - w) * memoryShare
          : (cpuShare ?? memoryShare);
      return {
        ...l,
        ...(cpuShare === undefined ? {} : { cpuShare }),
        ...(memoryShare === undefined ? {} : { memoryShare }),
        ...(load === undefined ? {} : { load }),
      };
    })
    .filter((l) => options.maxLoad === undefined || l.load === undefined || l.load <= options.maxLoad);
  return ranked.sort((a, b) => {
    if (a.load === undefined || b.load === undefined) {
      if (a.load !== b.load) return a.load === undefined ? 1 : -1;
      return a.node.localeCompare(b.node);
    }
    return a.load - b.load || a.node.localeCompare(b.node);
  });
}
