/**
 * Selection and placement in one deterministic step: what a task submission needs to decide before a
 * Job can be created. Pure, so a workflow may call it directly once an activity has loaded the taxonomy
 * and gathered the nodes.
 */
import {
  demandFromMetrics,
  placeTask,
  type NodeCandidate,
  type PlacementDecision,
  type PlacementOptions,
} from './placement';
import { selectAlgorithm, type SelectionResult } from './selection';
import type { AlgorithmEntry, Taxonomy } from './taxonomy';

export interface TaskPlan {
  readonly task: string;
  readonly algorithm: AlgorithmEntry;
  readonly selection: SelectionResult;
  readonly placement: PlacementDecision;
  /** One paragraph for logs and the workflow's history: what was chosen and why. */
  readonly summary: string;
}

/**
 * Selects the algorithm for `task` by the user's priorities, then places it on `nodes` using the same
 * priorities and the algorithm's measured CPU and memory. Throws the errors of {@link selectAlgorithm}
 * and {@link placeTask}.
 */
export function planTask(
  taxonomy: Taxonomy,
  task: string,
  priorities: Readonly<Record<string, unknown>>,
  nodes: readonly NodeCandidate[],
  options: PlacementOptions = {},
): TaskPlan {
  const selection = selectAlgorithm(taxonomy, task, priorities);
  const algorithm = selection.selected;
  const placement = placeTask(nodes, demandFromMetrics(algorithm), priorities, options);
  return {
    task,
    algorithm,
    selection,
    placement,
    summary: `${selection.summary}; placed on ${placement.explanation}`,
  };
}
