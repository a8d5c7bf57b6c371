/**
 * Temporal registers a workflow under its exported function's name, so a start by any other name finds no
 * workflow. This type fails to compile if a name the faces start or list is not one workflows/index.ts
 * registers.
 */
import type * as registered from '../../workflows';
import type { INTAKE_WORKFLOW_TYPE } from '../contracts/alert-intake';
import type { WORKFLOW_TYPES } from '../contracts/common';
import type { PREDICTIVE_WATCH_TYPE } from '../contracts/predictive-watch';

type Registered<Name extends keyof typeof registered> = Name;

export type TalonWorkflowType = Registered<
  (typeof WORKFLOW_TYPES)[keyof typeof WORKFLOW_TYPES] | typeof INTAKE_WORKFLOW_TYPE | typeof PREDICTIVE_WATCH_TYPE
>;
