/** Public entry point of the talon-orchestrator package. */
export {
  parseQuantity,
  scaleQuantity,
  type Quantity,
  type QuantityFormat,
  type ScaleOptions,
  type ScalePrecision,
} from './domain/quantity';
export {
  TalonClient,
  TaskNotFoundError,
  type SubmitTaskRequest,
  type TaskHandle,
  type TaskStatus,
  type TaskSummary,
  type TalonClientOptions,
} from './client/talon-client';
export type {
  DeployTaskResult,
  DeployTaskSettings,
  TaskDataInput,
  TaskRunMetrics,
  TaskState,
} from './contracts/deploy-task';
export {
  ContractClient,
  ContractNotFoundError,
  ContractRefusedError,
  OfferClient,
  OfferRequestError,
  type ContractHandle,
  type OfferParameters,
  type OfferResponse,
} from './client/pricing';
