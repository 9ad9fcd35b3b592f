// Static int8 quantisation of a float ONNX CNN in the QDQ format, for onnxruntime's CPU kernels
// (onnxruntime-node ships no quantisation tool: that is Python). The graph keeps its float input
// and output; inside, every Conv reads its input through a QuantizeLinear → DequantizeLinear pair,
// its weights through DequantizeLinear from int8 (symmetric, one scale per output channel) and its
// bias from int32. onnxruntime's QDQ transformer then fuses each DQ → Conv → Q group into one
// QLinearConv (and DQ → Add → Q into QLinearAdd), which run on MLAS's integer kernels.
//
// Activation ranges come from calibration: run the float model with every tensor that gets a
// QDQ pair exposed as an extra output (withCalibrationOutputs) over representative photos and
// keep each tensor's range (RangeCollector).
import {
  attr,
  decodeModel,
  dimsOf,
  encodeModel,
  floatTensorValues,
  indexGraph,
  nodeProto,
  tensorProto,
  valueInfo,
  type DecodedNode,
  type DecodedTensor,
  type GraphIndex,
} from './onnxGraphBuilder.js';

/** An activation tensor's float range as calibration saw it. */
export interface TensorRange {
  min: number;
  max: number;
}

export interface QuantizeOptions {
  /**
   * 8: weights in [−127, 127]. 7: in [−63, 63], so that a pair of uint8 × int8 products always
   * fits in int16: CPUs with AVX2 but without VNNI multiply through an int16 instruction that
   * saturates (onnxruntime's "reduce_range"). Default 8.
   */
  weightBits?: 7 | 8;
  /**
   * Also quantise the graph's output (default true). The last Conv is then an integer QLinearConv
   * too, and its output is dequantised to float.
   */
  quantizeOutput?: boolean;
}

/** Activation functions that onnxruntime folds into the QuantizeLinear after them (ClipQuantFusion). */
const FUSABLE_ACTIVATIONS = new Set(['Relu', 'Clip']);

/** A Conv we can quantise: float 4-D weights (and bias, if any) stored as initializers. */
function isQuantizableConv(node: DecodedNode, g: GraphIndex): boolean {
  if (node.opType !== 'Conv' || node.domain !== '') return false;
  const w = g.initializers.get(node.input[1]);
  if (!w || w.dims.length !== 4 || !floatTensorValues(w)) return false;
  if (node.input[2]) {
    const b = g.initializers.get(node.input[2]);
    if (!b || !floatTensorValues(b)) return false;
  }
  return !g.initializers.has(node.input[0]);
}

/**
 * The activation tensors that get a QuantizeLinear → DequantizeLinear pair: each quantisable
 * Conv's input, its output (after the Relu/Clip that follows it, so onnxruntime can drop the
 * activation), and the output of each Add whose inputs are both quantised. In graph order.
 */
export function quantizedActivations(onnx: Uint8Array, options: QuantizeOptions = {}): string[] {
  return [...planActivations(indexGraph(onnx), options)];
}

function planActivations(g: GraphIndex, options: QuantizeOptions): Set<string> {
  const quantized = new Set<string>();
  const graph = g.model.graph;
  for (const node of graph.node) {
    if (isQuantizableConv(node, g)) {
      quantized.add(node.input[0]);
      quantized.add(activationAfter(node.output[0], g));
    } else if (node.opType === 'Add' && node.input.length === 2 && node.input.every((t) => quantized.has(t))) {
      quantized.add(node.output[0]);
    }
  }
  if (options.quantizeOutput === false) {
    for (const out of g.outputs) quantized.delete(out);
    // The graph output is often an Identity of the last activation: leave that one float too.
    for (const node of graph.node) if (node.opType === 'Identity' && g.outputs.has(node.output[0])) quantized.delete(node.input[0]);
  }
  return quantized;
}

/** The tensor after a Conv's output and the Relu/Clip that is its only consumer, if there is one. */
function activationAfter(tensor: string, g: GraphIndex): string {
  const next = g.consumers.get(tensor) ?? [];
  if (next.length === 1 && FUSABLE_ACTIVATIONS.has(next[0].opType) && next[0].input[0] === tensor && !g.outputs.has(tensor)) return next[0].output[0];
  return tensor;
}

/** The float model with every tensor in `tensors` added as a graph output, for calibration runs. */
export function withCalibrationOutputs(onnx: Uint8Array, tensors: string[]): Uint8Array {
  const model = decodeModel(onnx);
  const graph = model.graph;
  const present = new Set(graph.output.map((o) => o.name));
  for (const name of tensors) if (!present.has(name)) graph.output.push(valueInfo({ name }));
  return encodeModel(model);
}

/** Keeps each tensor's running min and max over calibration runs. */
export class RangeCollector {
  private readonly ranges = new Map<string, TensorRange>();

  add(name: string, values: Float32Array): void {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const r = this.ranges.get(name);
    this.ranges.set(name, r ? { min: Math.min(r.min, min), max: Math.max(r.max, max) } : { min, max });
  }

  toJSON(): Record<string, TensorRange> {
    return Object.fromEntries(this.ranges);
  }
}

/** uint8 scale and zero point for a float range; the range is widened to hold 0, which must be exact. */
export function uint8Quantisation(range: TensorRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  if (!(hi - lo > 0) || !Number.isFinite(hi - lo)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** Symmetric int8 weights with one scale per output channel (axis 0). */
export function quantizeWeightsPerChannel(weights: Float32Array, outChannels: number, bits: 7 | 8): { values: Int8Array; scales: Float32Array } {
  const qmax = bits === 8 ? 127 : 63;
  const perChannel = weights.length / outChannels;
  const values = new Int8Array(weights.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let maxAbs = 0;
    for (let i = o * perChannel; i < (o + 1) * perChannel; i++) maxAbs = Math.max(maxAbs, Math.abs(weights[i]));
    // An all-zero channel still needs a valid (non-zero) scale.
    const scale = maxAbs > 0 ? Math.fround(maxAbs / qmax) : 1;
    scales[o] = scale;
    for (let i = o * perChannel; i < (o + 1) * perChannel; i++) values[i] = Math.max(-qmax, Math.min(qmax, Math.round(weights[i] / scale)));
  }
  return { values, scales };
}

/**
 * Rewrites a float model into its QDQ int8 form. `ranges` must hold a range for every tensor
 * quantizedActivations() lists (with the same options).
 */
export function quantizeQdq(onnx: Uint8Array, ranges: Record<string, TensorRange>, options: QuantizeOptions = {}): Uint8Array {
  const g = indexGraph(onnx);
  const graph = g.model.graph;
  const bits = options.weightBits ?? 8;
  const activations = planActivations(g, options);
  const missing = [...activations].filter((t) => !ranges[t]);
  if (missing.length) throw new Error(`no calibration range for ${missing.length} tensor(s), e.g. ${missing.slice(0, 3).join(', ')}`);

  const taken = new Set<string>([...graph.node.flatMap((n) => [...n.input, ...n.output]), ...g.initializers.keys(), ...graph.input.map((i) => i.name)]);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}__${i}`;
    taken.add(name);
    return name;
  };
  const newInitializers: DecodedTensor[] = [];
  const scalarParams = new Map<string, { scale: string; zeroPoint: string; scaleValue: number }>();
  const activationParams = (tensor: string) => {
    let p = scalarParams.get(tensor);
    if (!p) {
      const { scale, zeroPoint } = uint8Quantisation(ranges[tensor]);
      const scaleName = fresh(`${tensor}/quant/scale`);
      const zpName = fresh(`${tensor}/quant/zero_point`);
      newInitializers.push(tensorProto(scaleName, [], 'float32', new Float32Array([scale])), tensorProto(zpName, [], 'uint8', new Uint8Array([zeroPoint])));
      p = { scale: scaleName, zeroPoint: zpName, scaleValue: scale };
      scalarParams.set(tensor, p);
    }
    return p;
  };

  // Each quantised tensor gets one QuantizeLinear right after it is produced, and one
  // DequantizeLinear per consumer: onnxruntime groups a DQ with the single node it feeds.
  const quantizedOf = new Map<string, string>();
  const quantizeNode = (tensor: string): DecodedNode => {
    const p = activationParams(tensor);
    const q = fresh(`${tensor}/quantized`);
    quantizedOf.set(tensor, q);
    return nodeProto('QuantizeLinear', [tensor, p.scale, p.zeroPoint], [q], fresh(`${tensor}/QuantizeLinear`));
  };
  const dequantizeFor = (tensor: string, consumer: string): { node: DecodedNode; output: string } => {
    const p = activationParams(tensor);
    const output = fresh(`${tensor}/dequantized/${consumer}`);
    return { node: nodeProto('DequantizeLinear', [quantizedOf.get(tensor)!, p.scale, p.zeroPoint], [output], fresh(`${output}/DequantizeLinear`)), output };
  };

  const out: DecodedNode[] = [];
  for (const input of graph.input) if (activations.has(input.name)) out.push(quantizeNode(input.name));
  for (const node of graph.node) {
    const name = node.name || fresh(`${node.opType}`);
    const convInput = node.input[0];
    const quantizableConv = isQuantizableConv(node, g);
    // Inputs that are quantised activations are read through their own DequantizeLinear.
    for (let i = 0; i < node.input.length; i++) {
      const t = node.input[i];
      if (!t || !activations.has(t) || !quantizedOf.has(t)) continue;
      const dq = dequantizeFor(t, name);
      out.push(dq.node);
      node.input[i] = dq.output;
    }
    if (quantizableConv) quantizeConvParameters(node, g, bits, activationParams(convInput).scaleValue, fresh, newInitializers, out);
    out.push(node);
    for (const t of node.output) if (activations.has(t)) out.push(quantizeNode(t));
  }
  // A quantised graph output is read through a DequantizeLinear, so the model still returns float.
  for (const o of graph.output) {
    if (!activations.has(o.name)) continue;
    const internal = fresh(`${o.name}/float`);
    renameTensor(out, o.name, internal);
    quantizedOf.set(internal, quantizedOf.get(o.name)!);
    const p = activationParams(o.name);
    out.push(nodeProto('DequantizeLinear', [quantizedOf.get(internal)!, p.scale, p.zeroPoint], [o.name], fresh(`${o.name}/DequantizeLinear`)));
  }
  graph.node = out;
  // The float weights that were replaced would otherwise stay in the file as dead weight.
  const used = new Set(out.flatMap((n) => n.input));
  graph.initializer = [...graph.initializer.filter((t) => used.has(t.name)), ...newInitializers];
  return encodeModel(g.model);
}

function renameTensor(nodes: DecodedNode[], from: string, to: string): void {
  for (const n of nodes) {
    for (let i = 0; i < n.input.length; i++) if (n.input[i] === from) n.input[i] = to;
    for (let i = 0; i < n.output.length; i++) if (n.output[i] === from) n.output[i] = to;
  }
}

/** Replaces a Conv's float weights (and bias) with int8 (int32) initializers read through DequantizeLinear. */
function quantizeConvParameters(
  node: DecodedNode,
  g: GraphIndex,
  bits: 7 | 8,
  inputScale: number,
  fresh: (base: string) => string,
  initializers: DecodedTensor[],
  out: DecodedNode[],
): void {
  const w = g.initializers.get(node.input[1])!;
  const dims = dimsOf(w);
  const outChannels = dims[0];
  const { values, scales } = quantizeWeightsPerChannel(floatTensorValues(w)!, outChannels, bits);
  const wq = fresh(`${w.name}/int8`);
  const ws = fresh(`${w.name}/scale`);
  const wz = fresh(`${w.name}/zero_point`);
  const wdq = fresh(`${w.name}/dequantized`);
  initializers.push(tensorProto(wq, dims, 'int8', values), tensorProto(ws, [outChannels], 'float32', scales), tensorProto(wz, [outChannels], 'int8', new Int8Array(outChannels)));
  out.push(nodeProto('DequantizeLinear', [wq, ws, wz], [wdq], fresh(`${wdq}/DequantizeLinear`), { axis: attr.int(0) }));
  node.input[1] = wdq;
  if (node.input[2]) {
    const b = g.initializers.get(node.input[2])!;
    const bias = floatTensorValues(b)!;
    // Bias in int32 at the scale of the products it is added to (input scale × weight scale),
    // as QLinearConv adds it to the int32 accumulator.
    const biasScales = Float32Array.from(scales, (s) => Math.fround(s * inputScale));
    const biasValues = Int32Array.from(bias, (v, o) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / biasScales[o]))));
    const bq = fresh(`${b.name}/int32`);
    const bs = fresh(`${b.name}/scale`);
    const bz = fresh(`${b.name}/zero_point`);
    const bdq = fresh(`${b.name}/dequantized`);
    initializers.push(tensorProto(bq, [outChannels], 'int32', biasValues), tensorProto(bs, [outChannels], 'float32', biasScales), tensorProto(bz, [outChannels], 'int32', new Int32Array(outChannels)));
    out.push(nodeProto('DequantizeLinear', [bq, bs, bz], [bdq], fresh(`${bdq}/DequantizeLinear`), { axis: attr.int(0) }));
    node.input[2] = bdq;
  }
}
