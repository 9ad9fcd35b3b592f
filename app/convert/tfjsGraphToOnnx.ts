// Converts a TF.js graph model (model.json with `format: graph-model` plus weight shards) into an
// ONNX feature extractor. TF graphs are NHWC; the ONNX graph is NCHW throughout, so every rank-4
// activation is carried as NCHW and constants are permuted to match. Only the nodes the chosen
// output depends on are converted.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OnnxGraphBuilder, attr, type OnnxAttribute } from './onnxGraphBuilder.js';
import type { ConvertedModel, InputNormalisation } from './convertedModel.js';

// ---------------------------------------------------------------------------------------------
// model.json types (only the parts this converter reads)

export interface TfjsQuantization {
  dtype: string;
  min?: number;
  scale?: number;
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: TfjsQuantization;
}

export interface TfjsWeightGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

export interface TfjsAttrValue {
  i?: string | number;
  f?: number;
  b?: boolean;
  s?: string;
  type?: string;
  list?: { i?: Array<string | number>; f?: number[]; s?: string[]; b?: boolean[] };
  shape?: { dim?: Array<{ size?: string | number }>; unknownRank?: boolean };
  tensor?: unknown;
}

export interface TfjsGraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfjsAttrValue>;
  device?: string;
}

export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: { node?: TfjsGraphNode[]; [key: string]: unknown };
  weightsManifest: TfjsWeightGroup[];
  userDefinedMetadata?: Record<string, unknown>;
  signature?: unknown;
  [key: string]: unknown;
}

export interface GraphModelSource {
  modelJson: TfjsModelJson;
  /** Dequantised weights by name (int32/bool weights as exact float values). */
  weights: Map<string, Float32Array>;
  /**
   * What the model's producer multiplies 0–255 pixels by before feeding the Placeholder
   * (1/255 for TF-Hub style graphs that expect [0, 1]). Not recorded in model.json itself.
   * Default 1.
   */
  inputScale?: number;
}

// ---------------------------------------------------------------------------------------------
// Weights

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** Bytes the tensor occupies in its shard group (its quantised size when quantised). */
export function weightByteLength(spec: TfjsWeightSpec): number {
  const stored = spec.quantization?.dtype ?? spec.dtype;
  const size = BYTES_PER_VALUE[stored];
  if (size === undefined) throw new Error(`weight ${spec.name}: unsupported dtype ${stored}`);
  return numel(spec.shape) * size;
}

/**
 * Slices and dequantises the weights of every manifest group. `groupData[i]` is the concatenation
 * of group i's shards; its length must equal the sum of the group's tensor sizes, since a
 * mismatch means a truncated or wrong shard and would silently shift every later tensor.
 */
export function decodeWeightGroups(manifest: TfjsWeightGroup[], groupData: Uint8Array[]): Map<string, Float32Array> {
  if (groupData.length !== manifest.length) {
    throw new Error(`weights: ${groupData.length} shard groups for a manifest of ${manifest.length}`);
  }
  const out = new Map<string, Float32Array>();
  manifest.forEach((group, g) => {
    const data = groupData[g];
    const expected = group.weights.reduce((sum, spec) => sum + weightByteLength(spec), 0);
    if (data.length !== expected) {
      throw new Error(`weights group ${g} (${group.paths.join(', ')}): ${data.length} bytes, but its ${group.weights.length} tensors need ${expected}`);
    }
    let offset = 0;
    for (const spec of group.weights) {
      const length = weightByteLength(spec);
      // slice(): typed-array views need an aligned buffer, and shard offsets are arbitrary.
      out.set(spec.name, decodeWeight(spec, data.slice(offset, offset + length)));
      offset += length;
    }
  });
  return out;
}

function decodeWeight(spec: TfjsWeightSpec, bytes: Uint8Array): Float32Array {
  const buffer = bytes.buffer as ArrayBuffer;
  const q = spec.quantization;
  if (q) {
    if (spec.dtype !== 'float32' && spec.dtype !== 'int32') throw new Error(`weight ${spec.name}: quantised ${spec.dtype} is not supported`);
    if (q.dtype === 'uint8' || q.dtype === 'uint16') {
      if (q.min === undefined || q.scale === undefined) throw new Error(`weight ${spec.name}: ${q.dtype} quantisation without min/scale`);
      const codes = q.dtype === 'uint8' ? new Uint8Array(buffer) : new Uint16Array(buffer);
      const out = new Float32Array(codes.length);
      // Same expression (and rounding for int32) as tfjs-core's decodeWeight, so values match bit for bit.
      for (let i = 0; i < codes.length; i++) {
        const v = codes[i] * q.scale + q.min;
        out[i] = spec.dtype === 'int32' ? Math.round(v) : v;
      }
      return out;
    }
    if (q.dtype === 'float16') {
      if (spec.dtype !== 'float32') throw new Error(`weight ${spec.name}: float16 quantisation of ${spec.dtype}`);
      const halves = new Uint16Array(buffer);
      const out = new Float32Array(halves.length);
      for (let i = 0; i < halves.length; i++) out[i] = halfToFloat(halves[i]);
      return out;
    }
    throw new Error(`weight ${spec.name}: unknown quantisation dtype ${q.dtype}`);
  }
  switch (spec.dtype) {
    case 'float32': return new Float32Array(buffer);
    case 'int32': return Float32Array.from(new Int32Array(buffer));
    case 'bool': return Float32Array.from(new Uint8Array(buffer));
    default: throw new Error(`weight ${spec.name}: unsupported dtype ${spec.dtype}`);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Reads a TF.js model directory in the standard layout: model.json plus the binary shards it names. */
export async function readGraphModel(dir: string): Promise<GraphModelSource> {
  const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as TfjsModelJson;
  if (!Array.isArray(modelJson.weightsManifest)) throw new Error(`${dir}/model.json has no weightsManifest`);
  const groups = await Promise.all(modelJson.weightsManifest.map(async (group) => {
    const shards = await Promise.all(group.paths.map((p) => readFile(path.join(dir, p))));
    return new Uint8Array(Buffer.concat(shards));
  }));
  return { modelJson, weights: decodeWeightGroups(modelJson.weightsManifest, groups) };
}

// ---------------------------------------------------------------------------------------------
// Graph indexing, node names, input normalisation

interface IndexedGraph {
  nodes: TfjsGraphNode[];
  byName: Map<string, TfjsGraphNode>;
  consumers: Map<string, TfjsGraphNode[]>;
  specs: Map<string, TfjsWeightSpec>;
}

function indexGraph(src: GraphModelSource): IndexedGraph {
  const json = src.modelJson;
  const nodes = json.modelTopology?.node;
  if (!Array.isArray(nodes)) {
    const kind = json.format ?? ('model_config' in (json.modelTopology ?? {}) ? 'layers-model' : 'unknown');
    throw new Error(`not a TF.js graph model (format: ${kind}); a layers-model is a Keras model and needs the Keras converter`);
  }
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const consumers = new Map<string, TfjsGraphNode[]>();
  for (const n of nodes) {
    for (const input of dataInputs(n)) {
      const list = consumers.get(input.node) ?? [];
      list.push(n);
      consumers.set(input.node, list);
    }
  }
  const specs = new Map(json.weightsManifest.flatMap((g) => g.weights).map((s) => [s.name, s]));
  return { nodes, byName, consumers, specs };
}

/** Data (non-control) inputs of a node, as node name plus output index. */
function dataInputs(node: TfjsGraphNode): Array<{ node: string; index: number }> {
  return (node.input ?? []).filter((s) => !s.startsWith('^')).map((s) => {
    const m = /^(.*):(\d+)$/.exec(s);
    return m ? { node: m[1], index: Number(m[2]) } : { node: s, index: 0 };
  });
}

/** Every non-Const node name, in graph order: the names `outputNode` accepts. */
export function listGraphNodes(src: GraphModelSource): string[] {
  return indexGraph(src).nodes.filter((n) => n.op !== 'Const').map((n) => n.name);
}

const ACTIVATIONS = new Set(['Relu', 'Relu6', 'Elu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'Prelu']);

/**
 * Resolves a requested output name to a graph node. Rules, first that yields exactly one node wins:
 *  1. the exact node name, or a node whose name ends with `/<name>` (so the long
 *     `StatefulPartitionedCall/.../predict/` prefix may be left off); a `:0` suffix is ignored;
 *  2. `<scope>/<Act>` with Act an activation (Relu6, Relu, …) that no node carries: the node
 *     inside `<scope>/` whose fused_ops end in Act. The TF.js converter folds BiasAdd+activation
 *     into the conv and names the fused node after one of the original ops, so e.g.
 *     `expanded_conv_11/depthwise/Relu6` lives on in `expanded_conv_11/depthwise/depthwise`;
 *  3. a scope name (`expanded_conv_11/project`) holding exactly one non-Const node.
 * Anything else is an error listing the candidates.
 */
function resolveOutputNode(g: IndexedGraph, requested: string): TfjsGraphNode {
  const q = requested.replace(/:0$/, '');
  const live = g.nodes.filter((n) => n.op !== 'Const');
  const exact = g.byName.get(q);
  if (exact && exact.op !== 'Const') return exact;
  const bySuffix = live.filter((n) => n.name.endsWith(`/${q}`));
  if (bySuffix.length === 1) return bySuffix[0];
  if (bySuffix.length > 1) throw new Error(`output node ${requested} is ambiguous: ${bySuffix.map((n) => n.name).join(', ')}`);

  const inScope = (scope: string) => live.filter((n) => n.name.startsWith(`${scope}/`) || n.name.includes(`/${scope}/`));
  const slash = q.lastIndexOf('/');
  if (slash > 0 && ACTIVATIONS.has(q.slice(slash + 1))) {
    const act = q.slice(slash + 1);
    const fused = inScope(q.slice(0, slash)).filter((n) => {
      const ops = attrStrings(n, 'fused_ops');
      return ops.length > 0 && ops[ops.length - 1] === act;
    });
    if (fused.length === 1) return fused[0];
    if (fused.length > 1) throw new Error(`output node ${requested} is ambiguous: ${fused.map((n) => n.name).join(', ')}`);
  }
  const scoped = inScope(q);
  if (scoped.length === 1) return scoped[0];
  const hint = scoped.length > 1 ? `; scope holds ${scoped.map((n) => n.name).join(', ')}` : '; see listGraphNodes()';
  throw new Error(`output node ${requested} not found in the graph${hint}`);
}

function defaultOutputNode(g: IndexedGraph, json: TfjsModelJson): TfjsGraphNode {
  const sig = (json.signature ?? (json.userDefinedMetadata?.signature)) as { outputs?: Record<string, unknown> } | undefined;
  const sigOutputs = Object.keys(sig?.outputs ?? {}).map((k) => k.replace(/:\d+$/, '')).filter((n) => g.byName.has(n));
  if (sigOutputs.length === 1) return g.byName.get(sigOutputs[0])!;
  const sinks = g.nodes.filter((n) => n.op !== 'Const' && !(g.consumers.get(n.name)?.length));
  if (sinks.length === 1) return sinks[0];
  throw new Error(`graph has ${sinks.length} outputs (${sinks.map((n) => n.name).join(', ')}); pass outputNode`);
}

/** The input normalisation a graph applies right after its Placeholder. */
export interface GraphInputNormalisation {
  /** The Placeholder node. */
  placeholder: string;
  /** The elementwise chain from the Placeholder towards the first conv, in order (may be empty). */
  nodes: string[];
  /** Per-channel affine the chain applies to the Placeholder value: y = x·scale + offset. */
  scale: [number, number, number];
  offset: [number, number, number];
  /** The same on 0–255 RGB (taking the producer's inputScale into account) as mean/std. */
  normalisation: InputNormalisation;
}

const AFFINE_OPS = new Set(['Mul', 'Add', 'AddV2', 'BiasAdd', 'Sub', 'RealDiv', 'Div']);

/**
 * Finds the normalisation by walking from the Placeholder while each step is the single consumer
 * of the previous one and is an affine op with a scalar or per-channel constant. This follows the
 * data path rather than matching node names, so it finds `hub_input/Mul`+`Sub` as well as a
 * Keras `Rescaling` or a Sub-mean/RealDiv-std pair.
 */
export function findInputNormalisation(src: GraphModelSource, inputScale = src.inputScale ?? 1): GraphInputNormalisation {
  const g = indexGraph(src);
  const placeholder = findPlaceholder(g);
  const scale = [1, 1, 1];
  const offset = [0, 0, 0];
  const chain: string[] = [];
  let current = placeholder.name;
  for (;;) {
    const next = g.consumers.get(current);
    if (!next || next.length !== 1 || !AFFINE_OPS.has(next[0].op)) break;
    const node = next[0];
    const ins = dataInputs(node);
    if (ins.length !== 2 || ins.some((i) => i.index !== 0)) break;
    const first = ins[0].node === current;
    const other = first ? ins[1].node : ins[0].node;
    const c = channelConstant(g, src, other);
    if (!c) break;
    if (node.op === 'Mul') {
      for (let k = 0; k < 3; k++) { scale[k] *= c[k]; offset[k] *= c[k]; }
    } else if (node.op === 'Sub' && !first) {
      for (let k = 0; k < 3; k++) { scale[k] = -scale[k]; offset[k] = c[k] - offset[k]; }
    } else if (node.op === 'Sub') {
      for (let k = 0; k < 3; k++) offset[k] -= c[k];
    } else if (node.op === 'RealDiv' || node.op === 'Div') {
      if (!first) break;
      for (let k = 0; k < 3; k++) { scale[k] /= c[k]; offset[k] /= c[k]; }
    } else {
      for (let k = 0; k < 3; k++) offset[k] += c[k];
    }
    chain.push(node.name);
    current = node.name;
  }
  const tidy = (v: number) => Number(v.toPrecision(12));
  const s = scale.map((v) => v * inputScale);
  return {
    placeholder: placeholder.name,
    nodes: chain,
    scale: scale.map(tidy) as [number, number, number],
    offset: offset.map(tidy) as [number, number, number],
    normalisation: {
      mean: s.map((v, k) => tidy(-offset[k] / v)) as [number, number, number],
      std: s.map((v) => tidy(1 / v)) as [number, number, number],
    },
  };
}

function findPlaceholder(g: IndexedGraph): TfjsGraphNode {
  const placeholders = g.nodes.filter((n) => n.op === 'Placeholder');
  if (placeholders.length !== 1) throw new Error(`expected one Placeholder (the image), found ${placeholders.length}`);
  return placeholders[0];
}

/** A scalar or 3-vector Const broadcast to three channels, or null if it is something else. */
function channelConstant(g: IndexedGraph, src: GraphModelSource, name: string): number[] | null {
  const node = g.byName.get(name);
  const data = src.weights.get(name);
  if (node?.op !== 'Const' || !data) return null;
  if (data.length === 1) return [data[0], data[0], data[0]];
  const shape = g.specs.get(name)?.shape ?? [];
  if (data.length === 3 && shape[shape.length - 1] === 3) return Array.from(data);
  return null;
}

// ---------------------------------------------------------------------------------------------
// Attributes

export function attrString(node: TfjsGraphNode, key: string): string | undefined {
  const s = node.attr?.[key]?.s;
  return s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8');
}

export function attrStrings(node: TfjsGraphNode, key: string): string[] {
  return (node.attr?.[key]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

export function attrInts(node: TfjsGraphNode, key: string): number[] | undefined {
  const list = node.attr?.[key]?.list;
  return list ? (list.i ?? []).map(Number) : undefined;
}

function attrNumber(node: TfjsGraphNode, key: string): number | undefined {
  const a = node.attr?.[key];
  if (a?.f !== undefined) return Number(a.f);
  if (a?.i !== undefined) return Number(a.i);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Conversion

/**
 * A converted value. `dims` are in TF (NHWC) order whatever the layout; null = dynamic. Rank-4
 * tensors are always NCHW in the ONNX graph, lower ranks as in TF.
 */
type Val =
  | { kind: 'const'; node: string; data: Float32Array; dims: number[] }
  | { kind: 'tensor'; name: string; layout: 'nchw' | 'plain'; dims: Array<number | null>; stride: number };
type Tensor = Extract<Val, { kind: 'tensor' }>;
type Const = Extract<Val, { kind: 'const' }>;

const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];
const INPUT_NAME = 'image';
const OUTPUT_NAME = 'features';

/** Keeps tensor names derived from TF node names off the public output name, which expose() claims last. */
class ConverterBuilder extends OnnxGraphBuilder {
  override name(base: string): string {
    return super.name(base === OUTPUT_NAME ? `${base}_` : base);
  }
}

class GraphConverter {
  readonly b = new ConverterBuilder();
  private readonly vals = new Map<string, Val>();
  private readonly shared = new Map<string, string>();

  constructor(private readonly g: IndexedGraph, private readonly src: GraphModelSource) {}

  seed(node: string, val: Val): void {
    this.vals.set(node, val);
  }

  value(name: string): Val {
    const known = this.vals.get(name);
    if (known) return known;
    const node = this.g.byName.get(name);
    if (!node) throw new Error(`graph references missing node ${name}`);
    const val = this.convert(node);
    this.vals.set(name, val);
    return val;
  }

  private inputs(node: TfjsGraphNode): Val[] {
    return dataInputs(node).map((i) => {
      if (i.index !== 0) throw new Error(`node ${node.name} (${node.op}) reads output ${i.index} of ${i.node}; only single-output ops are supported`);
      return this.value(i.node);
    });
  }

  private convert(node: TfjsGraphNode): Val {
    switch (node.op) {
      case 'Const': {
        const data = this.src.weights.get(node.name);
        const spec = this.g.specs.get(node.name);
        if (!data || !spec) throw new Error(`Const ${node.name} has no weight data in the manifest`);
        return { kind: 'const', node: node.name, data, dims: spec.shape };
      }
      case 'Placeholder':
        throw new Error(`node ${node.name}: the raw input is used past the skipped input normalisation; convert with skipInputNormalisation: false`);
      case 'Identity': case 'StopGradient': case 'Snapshot':
        return this.inputs(node)[0];
      case 'Conv2D': case '_FusedConv2D':
        return this.conv(node, false);
      case 'DepthwiseConv2dNative': case 'DepthwiseConv2d': case 'FusedDepthwiseConv2dNative':
        return this.conv(node, true);
      case 'BiasAdd': {
        const [x, bias] = this.inputs(node);
        return this.binaryOp(node, 'Add', x, bias);
      }
      case 'Add': case 'AddV2': case 'Sub': case 'Mul': case 'RealDiv': case 'Div': case 'Maximum': case 'Minimum': {
        const onnxOp = { Add: 'Add', AddV2: 'Add', Sub: 'Sub', Mul: 'Mul', RealDiv: 'Div', Div: 'Div', Maximum: 'Max', Minimum: 'Min' }[node.op]!;
        const [a, c] = this.inputs(node);
        return this.binaryOp(node, onnxOp, a, c);
      }
      case 'Relu': case 'Relu6': case 'Elu': case 'Sigmoid': case 'Tanh': case 'LeakyRelu': {
        const x = this.tensor(node, this.inputs(node)[0]);
        return { ...x, name: this.activation(node, node.op, x, node.name, attrNumber(node, 'alpha')) };
      }
      case 'MaxPool': case 'AvgPool':
        return this.pool(node);
      case 'ConcatV2':
        return this.concat(node);
      case 'Pad': case 'PadV2':
        return this.pad(node);
      case 'Mean':
        return this.mean(node);
      case 'Squeeze':
        return this.squeeze(node);
      case 'Reshape':
        return this.reshape(node);
      case 'MatMul': case '_FusedMatMul':
        return this.matmul(node);
      case 'Softmax': {
        const x = this.tensor(node, this.inputs(node)[0]);
        const axis = x.layout === 'nchw' ? 1 : -1;
        return { ...x, name: this.b.op('Softmax', [x.name], node.name, { axis: attr.int(axis) }) };
      }
      default:
        throw new Error(`unsupported TF.js op ${node.op} at node ${node.name}`);
    }
  }

  private tensor(node: TfjsGraphNode, v: Val): Tensor {
    if (v.kind !== 'tensor') throw new Error(`node ${node.name} (${node.op}): input ${v.node} is a constant where a tensor is expected`);
    return v;
  }

  private constant(node: TfjsGraphNode, v: Val | undefined, role: string): Const {
    if (!v || v.kind !== 'const') throw new Error(`node ${node.name} (${node.op}): ${role} must be a Const`);
    return v;
  }

  private image4d(node: TfjsGraphNode, v: Val): Tensor {
    const t = this.tensor(node, v);
    if (t.layout !== 'nchw') throw new Error(`node ${node.name} (${node.op}) needs a rank-4 image tensor, got rank ${t.dims.length}`);
    const format = attrString(node, 'data_format');
    if (format && format !== 'NHWC') throw new Error(`node ${node.name} (${node.op}): data_format ${format} is not supported`);
    return t;
  }

  private scalar(value: number): string {
    const key = `scalar:${value}`;
    let name = this.shared.get(key);
    if (!name) {
      name = this.b.floatTensor(`const_${value}`, [], new Float32Array([value]));
      this.shared.set(key, name);
    }
    return name;
  }

  private int64(base: string, values: number[]): string {
    return this.b.int64Tensor(base, values);
  }

  /** A constant as an initializer laid out to broadcast against `layout` tensors the way TF broadcasts it against NHWC. */
  private constInitializer(c: Const, layout: 'nchw' | 'plain'): string {
    if (c.data.length === 1) return this.scalar(c.data[0]);
    if (layout === 'plain') return this.b.floatTensor(c.node, c.dims, c.data);
    if (c.dims.length > 4) throw new Error(`constant ${c.node} of rank ${c.dims.length} cannot broadcast against a rank-4 tensor`);
    const [n, h, w, ch] = [...Array(4 - c.dims.length).fill(1), ...c.dims] as number[];
    const out = new Float32Array(c.data.length);
    for (let a = 0; a < n; a++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < ch; k++) {
      out[((a * ch + k) * h + y) * w + x] = c.data[((a * h + y) * w + x) * ch + k];
    }
    return this.b.floatTensor(c.node, [n, ch, h, w], out);
  }

  /** A value as an ONNX tensor name in the requested layout. */
  private asLayout(v: Val, layout: 'nchw' | 'plain', base: string): string {
    if (v.kind === 'const') return this.constInitializer(v, layout);
    if (v.layout === layout) return v.name;
    if (layout === 'plain') throw new Error(`internal: ${v.name} is NCHW where a plain tensor is needed`);
    // A lower-rank tensor broadcast against an image tensor aligns with its trailing NHWC dims.
    const missing = 4 - v.dims.length;
    const expanded = missing > 0
      ? this.b.op('Unsqueeze', [v.name, this.int64(`${base}/axes`, Array.from({ length: missing }, (_, i) => i))], `${base}/unsqueeze`)
      : v.name;
    return this.b.op('Transpose', [expanded], `${base}/to_nchw`, { perm: attr.ints([0, 3, 1, 2]) });
  }

  private toNhwc(t: Tensor, base: string): string {
    return t.layout === 'nchw' ? this.b.op('Transpose', [t.name], `${base}/to_nhwc`, { perm: attr.ints([0, 2, 3, 1]) }) : t.name;
  }

  private binaryOp(node: TfjsGraphNode, onnxOp: string, a: Val, c: Val): Tensor {
    if (a.kind === 'const' && c.kind === 'const') throw new Error(`node ${node.name} (${node.op}): arithmetic on two constants is not supported`);
    const tensors = [a, c].filter((v): v is Tensor => v.kind === 'tensor');
    const layout = tensors.some((t) => t.layout === 'nchw') ? 'nchw' : 'plain';
    const out = this.b.op(onnxOp, [this.asLayout(a, layout, `${node.name}/a`), this.asLayout(c, layout, `${node.name}/b`)], node.name);
    return { kind: 'tensor', name: out, layout, dims: broadcastDims(a.dims, c.dims), stride: Math.max(...tensors.map((t) => t.stride)) };
  }

  private activation(node: TfjsGraphNode, act: string, x: Tensor, base: string, alpha?: number, preluSlope?: Val): string {
    switch (act) {
      case 'Relu': return this.b.op('Relu', [x.name], base);
      case 'Relu6': return this.b.op('Clip', [x.name, this.scalar(0), this.scalar(6)], base);
      case 'Elu': return this.b.op('Elu', [x.name], base, { alpha: attr.float(1) });
      case 'Sigmoid': return this.b.op('Sigmoid', [x.name], base);
      case 'Tanh': return this.b.op('Tanh', [x.name], base);
      case 'LeakyRelu': return this.b.op('LeakyRelu', [x.name], base, { alpha: attr.float(alpha ?? 0.2) });
      case 'Prelu': {
        const slope = this.constant(node, preluSlope, 'the Prelu alpha');
        return this.b.op('PRelu', [x.name, this.constInitializer(slope, x.layout)], base);
      }
      default: throw new Error(`unsupported fused op ${act} at node ${node.name} (${node.op})`);
    }
  }

  private padding(node: TfjsGraphNode): Record<string, OnnxAttribute> {
    const padding = attrString(node, 'padding') ?? 'VALID';
    switch (padding) {
      // TF SAME puts the odd extra row/column at the end, which is ONNX's SAME_UPPER.
      case 'SAME': return { auto_pad: attr.string('SAME_UPPER') };
      case 'VALID': return { pads: attr.ints([0, 0, 0, 0]) };
      case 'EXPLICIT': {
        const e = attrInts(node, 'explicit_paddings') ?? [];
        if (e.length !== 8) throw new Error(`node ${node.name}: EXPLICIT padding needs 8 explicit_paddings, got ${e.length}`);
        return { pads: attr.ints([e[2], e[4], e[3], e[5]]) };
      }
      default: throw new Error(`node ${node.name} (${node.op}): padding ${padding} is not supported`);
    }
  }

  private conv(node: TfjsGraphNode, depthwise: boolean): Tensor {
    const ins = this.inputs(node);
    const x = this.image4d(node, ins[0]);
    const filter = this.constant(node, ins[1], 'the filter');
    if (filter.dims.length !== 4) throw new Error(`node ${node.name}: filter of rank ${filter.dims.length}`);
    const [kh, kw, ci, co] = filter.dims;
    const inChannels = x.dims[3];
    if (inChannels !== null && inChannels !== ci) throw new Error(`node ${node.name}: filter expects ${ci} input channels, input has ${inChannels}`);
    const strides = attrInts(node, 'strides') ?? [1, 1, 1, 1];
    const dilations = attrInts(node, 'dilations') ?? [1, 1, 1, 1];
    if (strides[0] !== 1 || strides[3] !== 1) throw new Error(`node ${node.name}: strides over batch or channels`);
    if (strides[1] !== strides[2]) throw new Error(`node ${node.name}: unequal strides ${strides[1]}×${strides[2]} make the feature stride ambiguous`);

    const w = filter.data;
    const outChannels = depthwise ? ci * co : co;
    const weight = new Float32Array(w.length);
    for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) {
      const src = ((y * kw + xx) * ci + i) * co + o;
      // Depthwise [kh, kw, C, M] becomes C·M single-input filters, output channel c·M + m (TF's order).
      const dst = depthwise ? ((i * co + o) * kh + y) * kw + xx : ((o * ci + i) * kh + y) * kw + xx;
      weight[dst] = w[src];
    }
    const weightName = this.b.floatTensor(filter.node, depthwise ? [outChannels, 1, kh, kw] : [co, ci, kh, kw], weight);

    const fusedOps = attrStrings(node, 'fused_ops');
    const args = ins.slice(2);
    const convInputs = [x.name, weightName];
    let next = 0;
    let argIndex = 0;
    if (fusedOps[0] === 'BiasAdd') {
      const bias = this.constant(node, args[argIndex++], 'the fused bias');
      if (bias.data.length !== outChannels) throw new Error(`node ${node.name}: bias of ${bias.data.length} for ${outChannels} channels`);
      convInputs.push(this.b.floatTensor(bias.node, [outChannels], bias.data));
      next = 1;
    }
    const activations = fusedOps.slice(next);
    if (activations.length > 1) throw new Error(`unsupported fused op chain ${fusedOps.join('+')} at node ${node.name} (${node.op})`);

    const out = this.b.op('Conv', convInputs, activations.length ? `${node.name}/conv` : node.name, {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([strides[1], strides[2]]),
      dilations: attr.ints([dilations[1], dilations[2]]),
      group: attr.int(depthwise ? ci : 1),
      ...this.padding(node),
    });
    const result: Tensor = { kind: 'tensor', name: out, layout: 'nchw', dims: [x.dims[0], null, null, outChannels], stride: x.stride * strides[1] };
    if (!activations.length) return result;
    return { ...result, name: this.activation(node, activations[0], result, node.name, attrNumber(node, 'leakyrelu_alpha'), args[argIndex]) };
  }

  private pool(node: TfjsGraphNode): Tensor {
    const x = this.image4d(node, this.inputs(node)[0]);
    const k = attrInts(node, 'ksize') ?? [];
    const s = attrInts(node, 'strides') ?? [];
    if (k.length !== 4 || s.length !== 4 || k[0] !== 1 || k[3] !== 1 || s[0] !== 1 || s[3] !== 1) {
      throw new Error(`node ${node.name} (${node.op}): only spatial pooling is supported`);
    }
    if (s[1] !== s[2]) throw new Error(`node ${node.name}: unequal strides ${s[1]}×${s[2]}`);
    // count_include_pad stays 0: TF's SAME average pooling divides by the in-image count.
    const out = this.b.op(node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool', [x.name], node.name, {
      kernel_shape: attr.ints([k[1], k[2]]),
      strides: attr.ints([s[1], s[2]]),
      ...this.padding(node),
    });
    return { ...x, name: out, stride: x.stride * s[1] };
  }

  private concat(node: TfjsGraphNode): Tensor {
    const ins = this.inputs(node);
    const axisVal = this.constant(node, ins[ins.length - 1], 'the axis');
    const parts = ins.slice(0, -1);
    const tensors = parts.filter((v): v is Tensor => v.kind === 'tensor');
    if (!tensors.length) throw new Error(`node ${node.name}: concatenation of constants only`);
    const rank = parts[0].dims.length;
    let axis = axisVal.data[0];
    if (axis < 0) axis += rank;
    const layout = tensors.some((t) => t.layout === 'nchw') ? 'nchw' : 'plain';
    const names = parts.map((p, i) => this.asLayout(p, layout, `${node.name}/in${i}`));
    const out = this.b.op('Concat', names, node.name, { axis: attr.int(layout === 'nchw' ? NHWC_TO_NCHW_AXIS[axis] : axis) });
    const dims = [...parts[0].dims];
    dims[axis] = parts.reduce<number | null>((sum, p) => (sum === null || p.dims[axis] === null ? null : sum + (p.dims[axis] as number)), 0);
    return { kind: 'tensor', name: out, layout, dims, stride: Math.max(...tensors.map((t) => t.stride)) };
  }

  private pad(node: TfjsGraphNode): Tensor {
    const ins = this.inputs(node);
    const x = this.tensor(node, ins[0]);
    const p = this.constant(node, ins[1], 'the paddings');
    const rank = x.dims.length;
    if (p.data.length !== rank * 2) throw new Error(`node ${node.name}: ${p.data.length / 2} padding pairs for rank ${rank}`);
    const order = x.layout === 'nchw' ? [0, 3, 1, 2] : Array.from({ length: rank }, (_, i) => i);
    const pads = [...order.map((d) => p.data[d * 2]), ...order.map((d) => p.data[d * 2 + 1])];
    const inputs = [x.name, this.int64(`${node.name}/pads`, pads)];
    if (ins[2]) inputs.push(this.scalar(this.constant(node, ins[2], 'the pad value').data[0]));
    const out = this.b.op('Pad', inputs, node.name, { mode: attr.string('constant') });
    const dims = x.dims.map((d, i) => (d === null ? null : d + p.data[i * 2] + p.data[i * 2 + 1]));
    return { ...x, name: out, dims };
  }

  private mean(node: TfjsGraphNode): Tensor {
    const ins = this.inputs(node);
    const x = this.tensor(node, ins[0]);
    const rank = x.dims.length;
    const axes = Array.from(this.constant(node, ins[1], 'the axes').data, (a) => (a < 0 ? a + rank : a));
    const keep = node.attr?.keep_dims?.b === true;
    const dims = keep ? x.dims.map((d, i) => (axes.includes(i) ? 1 : d)) : x.dims.filter((_, i) => !axes.includes(i));
    if (keep) {
      const mapped = x.layout === 'nchw' ? axes.map((a) => NHWC_TO_NCHW_AXIS[a]) : axes;
      return { ...x, dims, name: this.b.op('ReduceMean', [x.name], node.name, { axes: attr.ints(mapped), keepdims: attr.int(1) }) };
    }
    const out = this.b.op('ReduceMean', [this.toNhwc(x, node.name)], node.name, { axes: attr.ints(axes), keepdims: attr.int(0) });
    return { kind: 'tensor', name: out, layout: 'plain', dims, stride: x.stride };
  }

  private squeeze(node: TfjsGraphNode): Tensor {
    const x = this.tensor(node, this.inputs(node)[0]);
    const rank = x.dims.length;
    const axes = (attrInts(node, 'squeeze_dims') ?? attrInts(node, 'axis') ?? []).map((a) => (a < 0 ? a + rank : a));
    const dims = axes.length ? x.dims.filter((_, i) => !axes.includes(i)) : x.dims.filter((d) => d !== 1);
    // With H and W both squeezed, what is left ([N,] C) has the same order in NCHW, so no transpose.
    const direct = x.layout === 'nchw' && axes.includes(1) && axes.includes(2);
    const source = direct ? x.name : this.toNhwc(x, node.name);
    const onnxAxes = direct ? axes.map((a) => NHWC_TO_NCHW_AXIS[a]) : axes;
    const inputs = onnxAxes.length ? [source, this.int64(`${node.name}/axes`, onnxAxes)] : [source];
    const out = this.b.op('Squeeze', inputs, node.name);
    if (dims.length === 4) throw new Error(`node ${node.name}: squeeze kept rank 4`);
    return { kind: 'tensor', name: out, layout: 'plain', dims, stride: x.stride };
  }

  private reshape(node: TfjsGraphNode): Tensor {
    const ins = this.inputs(node);
    const x = this.tensor(node, ins[0]);
    const shape = Array.from(this.constant(node, ins[1], 'the shape').data);
    const known = x.dims.every((d) => d !== null) ? x.dims.reduce<number>((a, d) => a * (d as number), 1) : null;
    const rest = shape.filter((d) => d !== -1).reduce((a, d) => a * d, 1);
    const dims = shape.map((d) => (d === -1 ? (known === null ? null : known / rest) : d));
    // TF reshapes in NHWC element order, so the data goes back to NHWC first.
    const nhwc = this.b.op('Reshape', [this.toNhwc(x, node.name), this.int64(`${node.name}/shape`, shape)], dims.length === 4 ? `${node.name}/nhwc` : node.name);
    if (dims.length !== 4) return { kind: 'tensor', name: nhwc, layout: 'plain', dims, stride: x.stride };
    const out = this.b.op('Transpose', [nhwc], node.name, { perm: attr.ints([0, 3, 1, 2]) });
    return { kind: 'tensor', name: out, layout: 'nchw', dims, stride: x.stride };
  }

  private matmul(node: TfjsGraphNode): Tensor {
    const ins = this.inputs(node);
    const a = this.tensor(node, ins[0]);
    if (a.dims.length !== 2) throw new Error(`node ${node.name} (${node.op}): rank-${a.dims.length} matmul is not supported`);
    const transA = node.attr?.transpose_a?.b === true;
    const transB = node.attr?.transpose_b?.b === true;
    const bVal = ins[1];
    const fusedOps = attrStrings(node, 'fused_ops');
    const args = ins.slice(2);
    const n = bVal.dims[transB ? 0 : 1];
    let argIndex = 0;
    let bias: Const | undefined;
    let next = 0;
    if (fusedOps[0] === 'BiasAdd') { bias = this.constant(node, args[argIndex++], 'the fused bias'); next = 1; }
    const activations = fusedOps.slice(next);
    if (activations.length > 1) throw new Error(`unsupported fused op chain ${fusedOps.join('+')} at node ${node.name} (${node.op})`);
    const base = activations.length ? `${node.name}/matmul` : node.name;
    let out: string;
    if (bVal.kind === 'const') {
      const inputs = [a.name, this.b.floatTensor(bVal.node, bVal.dims, bVal.data)];
      if (bias) inputs.push(this.b.floatTensor(bias.node, bias.dims, bias.data));
      out = this.b.op('Gemm', inputs, base, { transA: attr.int(transA ? 1 : 0), transB: attr.int(transB ? 1 : 0) });
    } else {
      const t = (v: string, flip: boolean, tag: string) => (flip ? this.b.op('Transpose', [v], `${node.name}/${tag}`, { perm: attr.ints([1, 0]) }) : v);
      out = this.b.op('MatMul', [t(a.name, transA, 'ta'), t(this.tensor(node, bVal).name, transB, 'tb')], bias ? `${base}/mm` : base);
      if (bias) out = this.b.op('Add', [out, this.b.floatTensor(bias.node, bias.dims, bias.data)], base);
    }
    const result: Tensor = { kind: 'tensor', name: out, layout: 'plain', dims: [a.dims[transA ? 1 : 0], n], stride: a.stride };
    if (!activations.length) return result;
    return { ...result, name: this.activation(node, activations[0], result, node.name, attrNumber(node, 'leakyrelu_alpha'), args[argIndex]) };
  }
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function broadcastDims(a: Array<number | null>, b: Array<number | null>): Array<number | null> {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) return y;
    if (y === 1) return x;
    return x ?? y;
  });
}

export interface ConvertGraphOptions {
  /** Node whose activation becomes `features`; see resolveOutputNode for the accepted names. Default: the graph's output. */
  outputNode?: string;
  /**
   * Leave the graph's input normalisation out of the ONNX graph (default true): the ONNX input is
   * then the normalised image and `inputNormalisation` says how to make it. When false the chain
   * stays in and the ONNX input is 0–255 RGB (scaled by inputScale before the graph's own ops).
   */
  skipInputNormalisation?: boolean;
  /** Overrides GraphModelSource.inputScale. */
  inputScale?: number;
}

export interface ConvertedGraphModel extends ConvertedModel {
  /** What preprocessing does to 0–255 RGB before the ONNX input: the graph's normalisation if skipped, identity if kept. */
  inputNormalisation: InputNormalisation;
  /** The normalisation found at the graph's input, whether or not it was skipped. */
  graphNormalisation: GraphInputNormalisation;
}

const IDENTITY_NORMALISATION: InputNormalisation = { mean: [0, 0, 0], std: [1, 1, 1] };

export function convertGraphModel(src: GraphModelSource, opts: ConvertGraphOptions = {}): ConvertedGraphModel {
  const g = indexGraph(src);
  const skip = opts.skipInputNormalisation ?? true;
  const inputScale = opts.inputScale ?? src.inputScale ?? 1;
  const graphNormalisation = findInputNormalisation(src, inputScale);
  const output = opts.outputNode === undefined ? defaultOutputNode(g, src.modelJson) : resolveOutputNode(g, opts.outputNode);

  const placeholder = g.byName.get(graphNormalisation.placeholder)!;
  const dims = placeholder.attr?.shape?.shape?.dim?.map((d) => Number(d.size ?? -1));
  if (dims && (dims.length !== 4 || dims[3] !== 3)) throw new Error(`Placeholder ${placeholder.name} has shape [${dims.join(', ')}], not an NHWC RGB image`);

  const conv = new GraphConverter(g, src);
  const inputName = conv.b.reserve(INPUT_NAME);
  const image = (name: string): Val => ({ kind: 'tensor', name, layout: 'nchw', dims: [1, null, null, 3], stride: 1 });
  const boundary = skip ? [placeholder.name, ...graphNormalisation.nodes] : [placeholder.name];
  if (boundary.slice(0, -1).includes(output.name)) throw new Error(`output node ${output.name} lies inside the skipped input normalisation`);
  if (skip) {
    conv.seed(boundary[boundary.length - 1], image(inputName));
  } else {
    const scaled = inputScale === 1 ? inputName : conv.b.op('Mul', [inputName, conv.b.floatTensor('input_scale', [], new Float32Array([inputScale]))], 'input_scaled');
    conv.seed(placeholder.name, image(scaled));
  }

  const result = conv.value(output.name);
  if (result.kind !== 'tensor') throw new Error(`output node ${output.name} is a constant`);
  const outputName = conv.b.expose(result.name, OUTPUT_NAME);
  const rank = result.dims.length;
  const channels = result.dims[rank - 1];
  if (channels === null) throw new Error(`channels of ${output.name} are not static`);
  const shape: Array<number | string> = result.layout === 'nchw'
    ? [1, channels, 'features_height', 'features_width']
    : result.dims.map((d, i) => (i === 0 ? 1 : d ?? `features_dim${i}`));
  const onnx = conv.b.encode({
    graphName: 'tfjs_graph',
    inputs: [{ name: inputName, shape: [1, 3, 'height', 'width'] }],
    outputs: [{ name: outputName, shape }],
    docString: `Converted from a TF.js graph model (${src.modelJson.convertedBy ?? src.modelJson.generatedBy ?? 'unknown converter'}); features = ${output.name}`,
  });
  return {
    onnx,
    inputName,
    outputName,
    featureLayer: output.name,
    channels,
    stride: result.layout === 'nchw' ? result.stride : 1,
    inputNormalisation: skip ? graphNormalisation.normalisation : IDENTITY_NORMALISATION,
    graphNormalisation,
  };
}

export interface GraphNodeInfo {
  name: string;
  op: string;
  fusedOps: string[];
  /** Last (channel) dimension of the node's output, null if not static. */
  channels: number | null;
  /** Total stride relative to the input for rank-4 outputs, 1 otherwise. */
  stride: number;
  rank: number;
}

/** Every non-Const node with its output channels and stride: the menu for picking a feature layer. */
export function describeGraphNodes(src: GraphModelSource): GraphNodeInfo[] {
  const g = indexGraph(src);
  const placeholder = findPlaceholder(g);
  const conv = new GraphConverter(g, src);
  conv.seed(placeholder.name, { kind: 'tensor', name: conv.b.reserve(INPUT_NAME), layout: 'nchw', dims: [1, null, null, 3], stride: 1 });
  return g.nodes.filter((n) => n.op !== 'Const').map((n) => {
    const v = conv.value(n.name);
    const rank = v.dims.length;
    return {
      name: n.name,
      op: n.op,
      fusedOps: attrStrings(n, 'fused_ops'),
      channels: v.dims[rank - 1] ?? null,
      stride: v.kind === 'tensor' && v.layout === 'nchw' ? v.stride : 1,
      rank,
    };
  });
}
