/**
 * Writes the trained network as an ONNX model (opset 13) without Python: the handful of ONNX protobuf
 * messages the graph needs are declared here (field numbers from onnx.proto) and encoded with protobufjs,
 * which the project already depends on. Normalisation is baked into the graph, so the served model takes
 * raw windows; the magnitude head ends in the guide's ranges.
 *
 * Graph: window → transpose to time-major → LSTM (normalisation folded into its weights) → LSTM → attention
 * softmax over time → [context ; last hidden] → policy softmax and magnitudes: 17 nodes, 16 once onnxruntime
 * fuses the Sigmoid into its Gemm. Keras gate order i,f,c,o becomes ONNX i,o,f,c; onnxruntime's CPU LSTM
 * rejects layout=1, hence the input transpose.
 */
import protobuf from 'protobufjs';
import { MODEL_FEATURES } from '../src/domain/features';
import { MODEL_POLICIES } from '../src/domain/policy';
import {
  ARCHITECTURE,
  MAGNITUDE_MIN,
  MAGNITUDE_SPAN,
  type LstmWeights,
  type NetworkWeights,
  type Normalisation,
} from './network';

const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        StringStringEntryProto: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4 },
            int64Data: { rule: 'repeated', type: 'int64', id: 7 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: { fields: { tensorType: { type: 'TypeProtoTensor', id: 1 } } },
        TypeProtoTensor: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');

const FLOAT = 1;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** Names of the served model's input and outputs; the loader checks for exactly these. */
export const ONNX_IO = {
  input: 'window',
  probabilities: 'policy_probabilities',
  magnitudes: 'magnitudes',
  attention: 'attention',
} as const;

export const ONNX_OPSET = 13;

type Dim = number | string;
interface Attribute {
  name: string;
  type: number;
  i?: number;
  f?: number;
  ints?: number[];
  floats?: number[];
  strings?: Uint8Array[];
}
interface Node {
  opType: string;
  input: string[];
  output: string[];
  name: string;
  attribute: Attribute[];
}
interface Tensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  int64Data?: number[];
}

class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  private counter = 0;

  floatConst(name: string, values: ArrayLike<number>, dims: number[]): string {
    const data = Float32Array.from(values);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new RangeError(`${name}: ${data.length} values for dims [${dims.join(',')}]`);
    // raw_data is little-endian float32, which is what Float32Array holds on every platform Node runs on.
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  intConst(name: string, values: number[]): string {
    this.initializers.push({ name, dims: [values.length], dataType: INT64, int64Data: values });
    return name;
  }

  op(opType: string, inputs: string[], attrs: Attribute[] = [], outputs = 1, outName?: string): string[] {
    const id = this.counter++;
    const out = Array.from({ length: outputs }, (_, k) =>
      outName && k === 0 ? outName : `${opType.toLowerCase()}_${id}_${k}`,
    );
    this.nodes.push({ opType, input: inputs, output: out, name: `${opType}_${id}`, attribute: attrs });
    return out;
  }

  one(opType: string, inputs: string[], attrs: Attribute[] = [], outName?: string): string {
    const [out] = this.op(opType, inputs, attrs, 1, outName);
    if (!out) throw new Error('op produced no output');
    return out;
  }
}

function valueInfo(name: string, dims: Dim[]): object {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

const ints = (name: string, values: number[]): Attribute => ({ name, type: ATTR.INTS, ints: values });
const int = (name: string, value: number): Attribute => ({ name, type: ATTR.INT, i: value });

/** Reorders a Keras [in, 4H] (i,f,c,o) matrix into ONNX [4H, in] (i,o,f,c). */
export function kerasToOnnxGates(kernel: Float32Array, inputs: number, hidden: number): Float32Array {
  const out = new Float32Array(4 * hidden * inputs);
  const order = [0, 3, 1, 2]; // ONNX gate g takes Keras gate order[g]
  for (let g = 0; g < 4; g++) {
    const src = order[g] ?? 0;
    for (let u = 0; u < hidden; u++) {
      for (let k = 0; k < inputs; k++) {
        out[(g * hidden + u) * inputs + k] = kernel[k * 4 * hidden + src * hidden + u] ?? 0;
      }
    }
  }
  return out;
}

/** Inverse of kerasToOnnxGates. */
export function onnxToKerasGates(onnx: Float32Array, inputs: number, hidden: number): Float32Array {
  const out = new Float32Array(4 * hidden * inputs);
  const order = [0, 3, 1, 2];
  for (let g = 0; g < 4; g++) {
    const src = order[g] ?? 0;
    for (let u = 0; u < hidden; u++) {
      for (let k = 0; k < inputs; k++) {
        out[k * 4 * hidden + src * hidden + u] = onnx[(g * hidden + u) * inputs + k] ?? 0;
      }
    }
  }
  return out;
}

function kerasBiasToOnnx(bias: Float32Array, hidden: number): Float32Array {
  const out = new Float32Array(8 * hidden); // [Wb ; Rb], recurrent half zero
  const order = [0, 3, 1, 2];
  for (let g = 0; g < 4; g++) {
    const src = order[g] ?? 0;
    for (let u = 0; u < hidden; u++) out[g * hidden + u] = bias[src * hidden + u] ?? 0;
  }
  return out;
}

function foldNormalisation(
  kernel: Float32Array,
  bias: Float32Array,
  norm: Normalisation,
  hidden: number,
): [Float32Array, Float32Array] {
  const F = norm.mean.length;
  const folded = new Float32Array(kernel.length);
  const foldedBias = Float32Array.from(bias);
  for (let row = 0; row < 4 * hidden; row++) {
    let shift = 0;
    for (let k = 0; k < F; k++) {
      const w = (kernel[row * F + k] ?? 0) / (norm.std[k] ?? 1);
      folded[row * F + k] = w;
      shift += w * (norm.mean[k] ?? 0);
    }
    foldedBias[row] = (bias[row] ?? 0) - shift;
  }
  return [folded, foldedBias];
}

function diagonal(values: readonly number[]): Float32Array {
  const out = new Float32Array(values.length * values.length);
  values.forEach((v, i) => (out[i * values.length + i] = v));
  return out;
}

export interface ExportMetadata {
  readonly modelVersion: string;
  readonly labelSet: string;
  readonly docString: string;
}

/** Builds the ONNX bytes for trained weights and their normalisation. */
export function exportOnnx(weights: NetworkWeights, norm: Normalisation, meta: ExportMetadata): Uint8Array {
  const { hidden: Hd, steps: T, features: F, policies: P } = ARCHITECTURE;
  const g = new GraphBuilder();
  // Normalisation is folded into the first LSTM's input weights, W·((x − μ)/σ) = (W/σ)·x − (W/σ)·μ, which
  // saves two element-wise passes per call; it is computed in float64 so the fold adds no visible error.
  // At batch 1 every node costs about a microsecond of dispatch whatever it computes, so the head below is
  // laid out to need as few nodes as possible rather than the fewest flops.
  let seq = g.one('Transpose', [ONNX_IO.input], [ints('perm', [1, 0, 2])]); // [T, N, F] raw
  let top = '';
  let lastHidden = '';
  weights.lstm.forEach((layer, li) => {
    const inputs = li === 0 ? F : Hd;
    let kernel = kerasToOnnxGates(layer.kernel, inputs, Hd);
    let bias = kerasBiasToOnnx(layer.bias, Hd);
    if (li === 0) [kernel, bias] = foldNormalisation(kernel, bias, norm, Hd);
    const W = g.floatConst(`lstm${li}_W`, kernel, [1, 4 * Hd, inputs]);
    const R = g.floatConst(`lstm${li}_R`, kerasToOnnxGates(layer.recurrent, Hd, Hd), [1, 4 * Hd, Hd]);
    const B = g.floatConst(`lstm${li}_B`, bias, [1, 8 * Hd]);
    const isTop = li === weights.lstm.length - 1;
    // Only the top layer's last hidden state is used; asking the lower layer for it would cost a write.
    const [Y, Yh] = g.op('LSTM', [seq, W, R, B], [int('hidden_size', Hd)], isTop ? 2 : 1);
    if (!Y) throw new Error('LSTM node without outputs');
    if (isTop) {
      top = Y; // [T, 1, N, H]: the attention works on it as it comes, without a Squeeze
      lastHidden = Yh ?? '';
    } else {
      seq = g.one('Squeeze', [Y, g.intConst(`lstm${li}_squeeze_axes`, [1])]); // the next LSTM wants [T, N, H]
    }
  });
  if (!lastHidden) throw new Error('top LSTM node without a last hidden state');
  // Attention stays time-major (softmax over axis 0) so the sequence is never transposed; its bias is
  // dropped because a softmax does not change when every score moves by the same amount.
  const ak = g.floatConst('attention_kernel', weights.attentionKernel, [Hd, 1]);
  const weights4 = g.one('Softmax', [g.one('MatMul', [top, ak])], [int('axis', 0)]); // [T, 1, N, 1]
  const context = g.one(
    'ReduceSum',
    [g.one('Mul', [top, weights4]), g.intConst('context_axes', [0, 1])],
    [int('keepdims', 0)],
  ); // [N, H]
  g.one(
    'Reshape',
    [g.one('Transpose', [weights4], [ints('perm', [2, 1, 0, 3])]), g.intConst('attention_shape', [-1, T])],
    [],
    ONNX_IO.attention,
  ); // [N, 1, T, 1] → [N, T]
  const last = g.one('Squeeze', [lastHidden, g.intConst('last_squeeze_axes', [0])]); // [N, H]
  const joined = g.one('Concat', [context, last], [int('axis', 1)]); // [N, 2H]
  // Gemm carries the bias, so each head is one node (onnxruntime fuses the Sigmoid into the magnitude Gemm).
  const gemm = (input: string, kernel: string, bias: string, outName?: string): string =>
    g.one('Gemm', [input, kernel, bias], [], outName);
  g.one(
    'Softmax',
    [
      gemm(
        joined,
        g.floatConst('policy_kernel', weights.policyKernel, [2 * Hd, P]),
        g.floatConst('policy_bias', weights.policyBias, [P]),
      ),
    ],
    [int('axis', 1)],
    ONNX_IO.probabilities,
  );
  const unit = g.one('Sigmoid', [
    gemm(
      joined,
      g.floatConst('magnitude_kernel', weights.magnitudeKernel, [2 * Hd, P]),
      g.floatConst('magnitude_bias', weights.magnitudeBias, [P]),
    ),
  ]);
  // min + span·unit as one Gemm with diag(span): one node instead of Mul and Add. The off-diagonal terms
  // are exact zeros (unit is finite), so the result is the same product and sum.
  gemm(
    unit,
    g.floatConst('magnitude_span', diagonal(MAGNITUDE_SPAN), [P, P]),
    g.floatConst('magnitude_min', MAGNITUDE_MIN, [P]),
    ONNX_IO.magnitudes,
  );

  const model = ModelProto.fromObject({
    irVersion: 7,
    producerName: 'talon',
    producerVersion: '1',
    modelVersion: 1,
    docString: meta.docString,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    metadataProps: [
      { key: 'talon.model_version', value: meta.modelVersion },
      { key: 'talon.label_set', value: meta.labelSet },
      { key: 'talon.features', value: MODEL_FEATURES.join(',') },
      { key: 'talon.policies', value: MODEL_POLICIES.join(',') },
    ],
    graph: {
      name: 'talon_policy',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(ONNX_IO.input, ['batch', T, F])],
      output: [
        valueInfo(ONNX_IO.probabilities, ['batch', P]),
        valueInfo(ONNX_IO.magnitudes, ['batch', P]),
        valueInfo(ONNX_IO.attention, ['batch', T]),
      ],
    },
  });
  return ModelProto.encode(model).finish();
}

/**
 * Reads the weights back out of an exported model, so the shipped file itself can be checked against the
 * training framework (the parity test on models/policy.onnx). The normalisation comes back folded into the
 * first layer (identity `norm`), and the attention bias as 0: both compute the same function.
 */
export function importOnnx(bytes: Uint8Array): { weights: NetworkWeights; norm: Normalisation } {
  const { hidden: Hd, features: F } = ARCHITECTURE;
  const model = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array }) as {
    graph?: { initializer?: { name?: string; rawData?: number[] }[] };
  };
  const tensors = new Map<string, Float32Array>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.name && t.rawData) tensors.set(t.name, new Float32Array(Uint8Array.from(t.rawData).buffer));
  }
  const get = (name: string): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new RangeError(`initializer ${name} missing from the ONNX graph`);
    return t;
  };
  const bias = (li: number): Float32Array => {
    const onnxBias = get(`lstm${li}_B`);
    const out = new Float32Array(4 * Hd);
    const order = [0, 3, 1, 2];
    for (let g = 0; g < 4; g++) {
      for (let u = 0; u < Hd; u++) out[(order[g] ?? 0) * Hd + u] = onnxBias[g * Hd + u] ?? 0;
    }
    return out;
  };
  const layer = (li: number, inputs: number): LstmWeights => ({
    kernel: onnxToKerasGates(get(`lstm${li}_W`), inputs, Hd),
    recurrent: onnxToKerasGates(get(`lstm${li}_R`), Hd, Hd),
    bias: bias(li),
  });
  return {
    weights: {
      lstm: [layer(0, F), layer(1, Hd)],
      attentionKernel: get('attention_kernel'),
      attentionBias: 0,
      policyKernel: get('policy_kernel'),
      policyBias: get('policy_bias'),
      magnitudeKernel: get('magnitude_kernel'),
      magnitudeBias: get('magnitude_bias'),
    },
    // The file's first-layer weights already include the normalisation.
    norm: { mean: new Array<number>(F).fill(0), std: new Array<number>(F).fill(1) },
  };
}

/**
 * A minimal valid ONNX model with arbitrary input and output shapes (one MatMul): what a model built for a
 * different window looks like to the loader. Used by tests and by `talon model` diagnostics.
 */
export function exportProbeModel(
  inputDims: Dim[],
  outputs: { name: string; dims: Dim[] }[],
  inputName = ONNX_IO.input,
): Uint8Array {
  const g = new GraphBuilder();
  const flat = g.one('Flatten', [inputName], [int('axis', 1)]);
  for (const out of outputs) {
    const width = Number(out.dims[out.dims.length - 1] ?? 1);
    const inWidth = inputDims.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
    g.one(
      'MatMul',
      [flat, g.floatConst(`${out.name}_w`, new Float32Array(inWidth * width).fill(0.01), [inWidth, width])],
      [],
      out.name,
    );
  }
  const model = ModelProto.fromObject({
    irVersion: 7,
    producerName: 'talon-probe',
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name: 'probe',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(inputName, inputDims)],
      output: outputs.map((o) => valueInfo(o.name, o.dims)),
    },
  });
  return ModelProto.encode(model).finish();
}
