/**
 * The sidecar JSON written next to the ONNX file (`policy.onnx` → `policy.json`): what the model was trained
 * on and how, and the checksum that lets the loader tell a corrupt or swapped file from a good one.
 */
import { z } from 'zod';

export const MODEL_METADATA_FORMAT = 'talon-policy-model/1';

const thresholdsSchema = z.object({
  cpuHigh: z.number(),
  cpuWarn: z.number(),
  cpuLow: z.number(),
  memHigh: z.number(),
  memWarn: z.number(),
  memLow: z.number(),
  energyHigh: z.number(),
  targetUtilisation: z.number(),
});

export const modelMetadataSchema = z.object({
  format: z.literal(MODEL_METADATA_FORMAT),
  modelVersion: z.string().min(1),
  labelSet: z.enum(['threshold', 'outcome']),
  onnx: z.object({
    file: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().positive(),
    opset: z.number().int(),
    input: z.string(),
    outputs: z.object({ probabilities: z.string(), magnitudes: z.string(), attention: z.string() }),
  }),
  features: z.array(z.string()),
  steps: z.number().int().positive(),
  stepSeconds: z.number().positive(),
  policies: z.array(z.string()),
  /** Also baked into the graph; kept here to impute absent features with their training mean. */
  normalisation: z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) }),
  architecture: z.object({
    hidden: z.number().int(),
    layers: z.number().int(),
    dropout: z.number(),
    attention: z.boolean(),
  }),
  training: z.object({
    seed: z.number().int(),
    trainSamples: z.number().int(),
    validationSamples: z.number().int(),
    epochs: z.number().int(),
    bestEpoch: z.number().int(),
    batchSize: z.number().int(),
    learningRate: z.number(),
    softTargetTemperature: z.number(),
    /** Prices of the outcome labels (steps out of SLO per unit). */
    costWeights: z.object({ energyPerRelative: z.number(), disruption: z.number(), change: z.number() }),
  }),
  /** The D3.3 percentile thresholds fitted on the training set (the threshold labeller's configuration). */
  thresholds: thresholdsSchema,
});

export type ModelMetadata = z.infer<typeof modelMetadataSchema>;

/** `models/policy.onnx` → `models/policy.json`. */
export function metadataPathFor(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.json';
}
