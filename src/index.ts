/** Public entry point of the talon-orchestrator package. */
export {
  parseQuantity,
  scaleQuantity,
  type Quantity,
  type QuantityFormat,
  type ScaleOptions,
  type ScalePrecision,
} from './domain/quantity';
