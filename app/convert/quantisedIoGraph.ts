// Rewrites an int8 QDQ model (quantizeOnnx.ts) so that it takes and gives bytes: the photo's
// pixels in, already quantised, and the last layer's uint8 activations out, channels last. The
// model file and its id do not change: this is how the CPU runs it, not what it computes.
//
// Why: the float model boundary cost a 512-px photo ~2 ms in JS to build a normalised NCHW float
// tensor that onnxruntime then quantised and transposed to NHWC straight away, and at the other
// end a 2.8 MB float feature map that onnxruntime dequantised and transposed back to NCHW for JS
// to max-pool. The max of dequantised values is the dequantised max (dequantising is monotone), so
// pooling the bytes and dequantising the few maxima gives the same floats, bit for bit.
//
// The stem is rewritten as well, where it is the usual 3×3 stride-2 convolution of the three
// colour channels: MLAS runs it through im2col with a depth of 27, which took 2.7 of onnxruntime's
// 17 ms. Over the input folded 2×2 into 12 channels (space to depth, done while the pixels are
// written) it is a 2×2 stride-1 convolution with the unused taps zero: the same integer sums, so
// the same bytes out, for ~1.8 ms less.
import onnxProto from 'onnx-proto';
import { attr, dimsOf, encodeModel, indexGraph, nodeProto, tensorProto, valueInfo, type DecodedNode, type DecodedTensor } from './onnxGraphBuilder.js';

const { onnx } = onnxProto;

export interface TensorQuantisation {
  scale: number;
  zeroPoint: number;
}

export interface QuantisedIoGraph {
  /** The rewritten model. */
  onnx: Uint8Array;
  /**
   * What the input holds: uint8 pixels quantised with the model's input quantisation, NHWC.
   * `nhwc`: [1, H, W, 3]. `space-to-depth`: [1, ⌈H/2⌉, ⌈W/2⌉, 12], each 2×2 block of pixels as
   * 12 channels in (dy, dx, colour) order, after one row of the zero point above an odd height
   * and one column left of an odd width (where the original's SAME_UPPER padding put them).
   */
  input: TensorQuantisation & { name: string; layout: 'nhwc' | 'space-to-depth' };
  /** The feature map: uint8 [1, h, w, C], value = (byte − zeroPoint) × scale. */
  output: TensorQuantisation & { name: string };
}

interface Attribute {
  name: string;
  i?: number | { toNumber(): number };
  ints?: Array<number | { toNumber(): number }>;
  s?: Uint8Array;
}

const num = (v: number | { toNumber(): number } | undefined): number | undefined => (v === undefined ? undefined : typeof v === 'number' ? v : v.toNumber());

function attributesOf(node: DecodedNode): Map<string, Attribute> {
  return new Map(((node as unknown as { attribute?: Attribute[] }).attribute ?? []).map((a) => [a.name, a]));
}

/** The rewrite, or undefined where the model is not a QDQ graph with a quantised input and output. */
export function quantisedIoGraph(model: Uint8Array): QuantisedIoGraph | undefined {
  const { model: decoded, initializers, consumers, producers } = indexGraph(model);
  const graph = decoded.graph;
  if (graph.input.length !== 1 || graph.output.length !== 1) return undefined;
  const scalar = (name: string | undefined): number | undefined => {
    const t = name === undefined ? undefined : initializers.get(name);
    if (!t || dimsOf(t).length !== 0) return undefined;
    const raw = t.rawData;
    if (t.dataType === onnx.TensorProto.DataType.FLOAT && raw.length === 4) return new DataView(raw.buffer, raw.byteOffset, 4).getFloat32(0, true);
    if (t.dataType === onnx.TensorProto.DataType.UINT8 && raw.length === 1) return raw[0];
    return undefined;
  };
  const quantisationOf = (node: DecodedNode): TensorQuantisation | undefined => {
    const scale = scalar(node.input[1]);
    const zeroPoint = scalar(node.input[2]);
    return scale !== undefined && zeroPoint !== undefined && scale > 0 ? { scale, zeroPoint } : undefined;
  };
  const only = (tensor: string): DecodedNode | undefined => {
    const c = consumers.get(tensor) ?? [];
    return c.length === 1 ? c[0] : undefined;
  };

  // Input: image → QuantizeLinear → q, q read only by DequantizeLinear nodes with the same parameters.
  const inputName = graph.input[0].name;
  const quantise = only(inputName);
  if (quantise?.opType !== 'QuantizeLinear' || quantise.domain) return undefined;
  const input = quantisationOf(quantise);
  if (!input) return undefined;
  const quantised = quantise.output[0];
  const readers = consumers.get(quantised) ?? [];
  if (readers.length === 0 || readers.some((n) => n.opType !== 'DequantizeLinear' || n.input[1] !== quantise.input[1] || n.input[2] !== quantise.input[2])) return undefined;

  // Output: … → QuantizeLinear → DequantizeLinear (→ Identity …) → output.
  const outputName = graph.output[0].name;
  const trail: DecodedNode[] = [];
  let last = producers.get(outputName);
  while (last?.opType === 'Identity') {
    trail.push(last);
    last = producers.get(last.input[0]);
  }
  if (last?.opType !== 'DequantizeLinear' || last.domain) return undefined;
  trail.push(last);
  const output = quantisationOf(last);
  const requantise = producers.get(last.input[0]);
  if (!output || requantise?.opType !== 'QuantizeLinear' || requantise.input[1] !== last.input[1] || requantise.input[2] !== last.input[2]) return undefined;
  if (trail.some((n) => n.output.some((o) => o !== outputName && (consumers.get(o)?.length ?? 0) !== 1))) return undefined;
  if ((consumers.get(last.input[0])?.length ?? 0) !== 1) return undefined;

  const stem = readers.length === 1 ? spaceToDepthStem(readers[0], only, producers, initializers) : undefined;
  const layout = stem ? 'space-to-depth' : 'nhwc';

  const nodes = graph.node.filter((n) => n !== quantise && !trail.includes(n));
  nodes.unshift(nodeProto('Transpose', [inputName], [quantised], `${inputName}/to_nchw`, { perm: attr.ints([0, 3, 1, 2]) }) as unknown as DecodedNode);
  nodes.push(nodeProto('Transpose', [last.input[0]], [outputName], `${outputName}/to_nhwc`, { perm: attr.ints([0, 2, 3, 1]) }) as unknown as DecodedNode);
  if (stem) {
    const weights = graph.initializer.indexOf(stem.weights);
    graph.initializer[weights] = tensorProto(stem.weights.name, stem.dims, 'int8', stem.values) as unknown as DecodedTensor;
    (stem.conv as unknown as { attribute: unknown[] }).attribute = (nodeProto('Conv', [], [], '', {
      kernel_shape: attr.ints([2, 2]),
      strides: attr.ints([1, 1]),
      pads: attr.ints([0, 0, 1, 1]),
      group: attr.int(1),
    }) as unknown as { attribute: unknown[] }).attribute;
  }
  graph.node = nodes;
  (graph as unknown as { input: unknown[] }).input = [valueInfo({ name: inputName, elemType: 'uint8', shape: [1, 'height', 'width', stem ? 12 : 3] })];
  (graph as unknown as { output: unknown[] }).output = [valueInfo({ name: outputName, elemType: 'uint8', shape: [1, 'feature_height', 'feature_width', 'channels'] })];
  return {
    onnx: encodeModel(decoded),
    input: { name: inputName, layout, ...input },
    output: { name: outputName, ...output },
  };
}

interface StemRewrite {
  conv: DecodedNode;
  weights: DecodedTensor;
  dims: number[];
  values: Int8Array;
}

/**
 * The stem as a 2×2 convolution over the space-to-depth input, if it is a plain 3×3 stride-2
 * SAME_UPPER Conv of 3 channels whose int8 weights (read through a DequantizeLinear) nobody else uses.
 */
function spaceToDepthStem(
  dequantise: DecodedNode,
  only: (tensor: string) => DecodedNode | undefined,
  producers: Map<string, DecodedNode>,
  initializers: Map<string, DecodedTensor>,
): StemRewrite | undefined {
  const conv = only(dequantise.output[0]);
  if (conv?.opType !== 'Conv' || conv.domain || conv.input[0] !== dequantise.output[0]) return undefined;
  const a = attributesOf(conv);
  const ints = (name: string) => a.get(name)?.ints?.map((v) => num(v)!);
  const same = (v: number[] | undefined, want: number[]) => v !== undefined && v.length === want.length && v.every((x, i) => x === want[i]);
  if (!same(ints('kernel_shape'), [3, 3]) || !same(ints('strides'), [2, 2])) return undefined;
  if (a.has('dilations') && !same(ints('dilations'), [1, 1])) return undefined;
  if ((num(a.get('group')?.i) ?? 1) !== 1) return undefined;
  if (a.has('pads') || new TextDecoder().decode(a.get('auto_pad')?.s ?? new Uint8Array()) !== 'SAME_UPPER') return undefined;
  const weightsDequantise = producers.get(conv.input[1]);
  if (weightsDequantise?.opType !== 'DequantizeLinear' || only(conv.input[1]) !== conv) return undefined;
  const weights = initializers.get(weightsDequantise.input[0]);
  if (!weights || weights.dataType !== onnx.TensorProto.DataType.INT8 || only(weights.name) !== weightsDequantise) return undefined;
  const [outChannels, inChannels, kh, kw] = dimsOf(weights);
  if (inChannels !== 3 || kh !== 3 || kw !== 3 || weights.rawData.length !== outChannels * 27) return undefined;
  const w = new Int8Array(weights.rawData.buffer, weights.rawData.byteOffset, weights.rawData.length);
  // Tap (ky, kx) of the 3×3 kernel reads block row ky >> 1, sub-row ky & 1 (likewise across).
  const values = new Int8Array(outChannels * 12 * 4);
  for (let o = 0; o < outChannels; o++) {
    for (let c = 0; c < 3; c++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) {
          const channel = ((ky & 1) * 2 + (kx & 1)) * 3 + c;
          values[((o * 12 + channel) * 2 + (ky >> 1)) * 2 + (kx >> 1)] = w[((o * 3 + c) * 3 + ky) * 3 + kx];
        }
      }
    }
  }
  return { conv, weights, dims: [outChannels, 12, 2, 2], values };
}
