// Converts a TensorFlow.js *layers* model (Keras topology in model.json plus weight shards) into
// an ONNX feature extractor. The graph stays NCHW throughout so onnxruntime never inserts layout
// transposes; only Keras Reshape/Flatten, which are defined on NHWC memory order, need explicit
// transposes around them.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxGraphBuilder, attr, type OnnxAttribute } from './onnxGraphBuilder.js';
import type { ConvertedModel } from './convertedModel.js';

export interface LayersModelSource {
  /** Parsed model.json (`{ modelTopology, weightsManifest }`). */
  modelJson: unknown;
  /** Weight values by manifest name, dequantised to float32. */
  weights: Map<string, Float32Array>;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

export class UnsupportedLayerError extends Error {
  constructor(readonly layerClass: string, readonly layerName: string, detail?: string) {
    super(`Unsupported Keras layer "${layerClass}" (layer "${layerName}")${detail ? `: ${detail}` : ''}`);
    this.name = 'UnsupportedLayerError';
  }
}

const INPUT_NAME = 'image';
const OUTPUT_NAME = 'features';

// ---------------------------------------------------------------------------------------------
// Weights

/** Reads model.json and every weight shard it lists from `dir`. */
export async function readLayersModel(dir: string): Promise<LayersModelSource> {
  const modelJson: unknown = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  const manifest = (modelJson as { weightsManifest?: Array<{ paths: string[]; weights: WeightSpec[] }> }).weightsManifest ?? [];
  const weights = new Map<string, Float32Array>();
  for (const group of manifest) {
    // A tensor may straddle shard boundaries, so a group is decoded as one buffer.
    const shards = await Promise.all(group.paths.map((p) => readFile(join(dir, p))));
    for (const [name, value] of decodeWeights(group.weights, Buffer.concat(shards))) weights.set(name, value);
  }
  return { modelJson, weights };
}

/** Splits one weight group's bytes into float32 tensors, dequantising where the spec says so. */
export function decodeWeights(specs: WeightSpec[], data: Uint8Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const storage = spec.quantization?.dtype ?? spec.dtype;
    const width = ({ float32: 4, int32: 4, uint16: 2, float16: 2, uint8: 1, bool: 1 } as Record<string, number>)[storage];
    if (width === undefined) throw new Error(`weight ${spec.name}: unsupported storage dtype "${storage}"`);
    const end = offset + count * width;
    if (end > data.byteLength) throw new Error(`weight ${spec.name}: weight data ends at byte ${data.byteLength}, needs ${end}`);
    // Copy (Buffer.slice would not), so the typed-array views below are aligned and exact.
    const bytes = new Uint8Array(end - offset);
    bytes.set(data.subarray(offset, end));
    offset = end;
    out.set(spec.name, decodeValues(bytes.buffer, count, storage, spec.quantization));
  }
  return out;
}

function decodeValues(buf: ArrayBuffer, count: number, storage: string, q: WeightSpec['quantization']): Float32Array {
  switch (storage) {
    case 'float32': return new Float32Array(buf);
    case 'int32': return Float32Array.from(new Int32Array(buf));
    case 'bool': return Float32Array.from(new Uint8Array(buf));
    case 'float16': return Float32Array.from(new Uint16Array(buf), halfToFloat);
    case 'uint8':
    case 'uint16': {
      const raw = storage === 'uint8' ? new Uint8Array(buf) : new Uint16Array(buf);
      const scale = q?.scale ?? 1;
      const min = q?.min ?? 0;
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = raw[i] * scale + min;
      return values;
    }
    default: throw new Error(`unsupported weight dtype ${storage}`);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Finds a layer's weights whether or not the manifest names carry the enclosing models' names. */
class WeightStore {
  private readonly byName = new Map<string, Float32Array>();

  constructor(weights: Map<string, Float32Array>) {
    for (const [name, value] of weights) this.byName.set(name.replace(/:\d+$/, ''), value);
  }

  find(node: FlatNode, weight: string): Float32Array | undefined {
    for (let i = 0; i <= node.path.length; i++) {
      const hit = this.byName.get([...node.path.slice(i), node.name, weight].join('/'));
      if (hit) return hit;
    }
    const suffix = `/${node.name}/${weight}`;
    const hits = [...this.byName.keys()].filter((k) => k.endsWith(suffix));
    return hits.length === 1 ? this.byName.get(hits[0]) : undefined;
  }

  /** `weight` may list alternative names, e.g. Keras 3 renamed DepthwiseConv2D's depthwise_kernel to kernel. */
  get(node: FlatNode, weights: string | string[], expected?: number): Float32Array {
    const names = [weights].flat();
    const weight = names[0];
    const value = names.map((w) => this.find(node, w)).find((v) => v !== undefined);
    if (!value) {
      throw new Error(`Missing weight "${node.name}/${weight}" for ${node.cls} layer "${node.name}" `
        + `(looked for "${[...node.path, node.name, weight].join('/')}" and shorter prefixes)`);
    }
    if (expected !== undefined && value.length !== expected) {
      throw new Error(`Weight "${node.name}/${weight}" has ${value.length} values, layer "${node.name}" needs ${expected}`);
    }
    return value;
  }
}

// ---------------------------------------------------------------------------------------------
// Topology: nested Sequential / functional models flattened into one graph of layer applications

type Json = Record<string, unknown>;

interface LayerDef {
  class_name: string;
  config: unknown;
  name?: string;
  inbound_nodes?: unknown;
}

interface FlatNode {
  id: string;
  cls: string;
  name: string;
  /** Names of the enclosing models, outermost first. */
  path: string[];
  config: Json;
  /** Keys of the input tensors; resolve them through Topology.resolve. */
  inputs: string[];
}

type TensorRef = [string, number, number];

const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);
const INPUT_ID = '<graph input>';

function layerNameOf(def: LayerDef): string {
  const name = def.name ?? configOf(def).name;
  if (typeof name === 'string') return name;
  // Keras 2.0 wrote a Sequential's config as the bare layer list, without a name.
  if (MODEL_CLASSES.has(def.class_name)) return def.class_name.toLowerCase();
  throw new Error(`Keras layer of class ${def.class_name} has no name`);
}

function configOf(def: LayerDef): Json {
  return (def.config && typeof def.config === 'object' && !Array.isArray(def.config) ? def.config : {}) as Json;
}

/** `[name, node, tensor]` or a list of them (Keras 3 writes a single input without the list). */
function refList(value: unknown): TensorRef[] {
  if (!Array.isArray(value) || value.length === 0) return [];
  if (typeof value[0] === 'string') return [value as TensorRef];
  return value as TensorRef[];
}

/** Each inbound node as the tensor refs it consumes, in TF.js/Keras 2 list form or Keras 3 dict form. */
function inboundNodes(value: unknown): TensorRef[][] {
  if (!Array.isArray(value)) return [];
  return value.map((node) => {
    if (Array.isArray(node)) return node.map((r) => [r[0], r[1] ?? 0, r[2] ?? 0] as TensorRef);
    const refs: TensorRef[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Json;
        const history = (o.config as Json | undefined)?.keras_history;
        if (o.class_name === '__keras_tensor__' && Array.isArray(history)) refs.push([history[0], history[1] ?? 0, history[2] ?? 0]);
      }
    };
    walk((node as Json).args);
    return refs;
  });
}

interface Registered { name: string; qualified: string; key: string }

class Topology {
  readonly nodes = new Map<string, FlatNode>();
  readonly registry: Registered[] = [];
  readonly outputs: string[];
  private readonly aliases = new Map<string, string>();
  private scopes = 0;

  constructor(readonly root: LayerDef) {
    this.nodes.set(INPUT_ID, { id: INPUT_ID, cls: 'InputLayer', name: 'input', path: [], config: {}, inputs: [] });
    this.outputs = this.model(root, [], [INPUT_ID]);
  }

  resolve(key: string): string {
    let k = key;
    for (let hops = 0; !this.nodes.has(k); hops++) {
      const next = this.aliases.get(k);
      if (next === undefined || hops > this.aliases.size) {
        throw new Error(`Keras topology refers to layer output "${k.replace(/^.*:/, '')}", which no layer produces`);
      }
      k = next;
    }
    return k;
  }

  /** Layer names in topological order, each once. */
  names(): string[] {
    return [...new Set(this.registry.map((r) => r.name))];
  }

  lookup(name: string): string {
    const matches = this.registry.filter((r) => r.name === name || r.qualified === name);
    const keys = [...new Set(matches.map((r) => this.resolve(r.key)))];
    if (keys.length === 1) return keys[0];
    if (keys.length > 1) {
      const options = [...new Set(matches.map((r) => r.qualified))];
      throw new Error(`Output layer "${name}" is ambiguous (${keys.length} tensors): use one of ${options.map((o) => `"${o}"`).join(', ')}`);
    }
    const names = this.names();
    const shown = names.length > 12 ? [...names.slice(0, 3), '…', ...names.slice(-9)] : names;
    throw new Error(`Unknown output layer "${name}"; the model has ${names.length} layers, e.g. ${shown.join(', ')}`);
  }

  private register(name: string, path: string[], key: string): void {
    this.registry.push({ name, qualified: [...path.slice(1), name].join('/'), key });
  }

  private model(def: LayerDef, path: string[], inputs: string[]): string[] {
    const inner = [...path, layerNameOf(def)];
    return def.class_name === 'Sequential' ? this.sequential(def, inner, inputs) : this.functional(def, inner, inputs);
  }

  private sequential(def: LayerDef, path: string[], inputs: string[]): string[] {
    const layers = (Array.isArray(def.config) ? def.config : configOf(def).layers) as LayerDef[] | undefined;
    if (!Array.isArray(layers)) throw new Error(`Sequential model "${path.at(-1)}" has no layers`);
    const scope = `${path.join('/')}#${this.scopes++}`;
    let current = inputs[0];
    for (const layer of layers) {
      const name = layerNameOf(layer);
      if (layer.class_name === 'InputLayer') {
        this.register(name, path, current);
        continue;
      }
      if (MODEL_CLASSES.has(layer.class_name)) {
        current = this.model(layer, path, [current])[0];
        this.register(name, path, current);
        continue;
      }
      current = this.addLayer(layer, path, [current], `${scope}:${name}#0`);
    }
    return [current];
  }

  private functional(def: LayerDef, path: string[], inputs: string[]): string[] {
    const config = configOf(def);
    const scope = `${path.join('/')}#${this.scopes++}`;
    const key = (layer: string, node: number) => `${scope}:${layer}#${node}`;
    const inputRefs = refList(config.input_layers);
    if (inputRefs.length !== inputs.length) {
      throw new Error(`Model "${path.at(-1)}" has ${inputRefs.length} inputs; only single-image-input models are supported`);
    }
    inputRefs.forEach((ref, i) => this.aliases.set(key(ref[0], ref[1] ?? 0), inputs[i]));
    for (const layer of (config.layers ?? []) as LayerDef[]) {
      const name = layerNameOf(layer);
      if (layer.class_name === 'InputLayer') {
        this.register(name, path, key(name, 0));
        continue;
      }
      inboundNodes(layer.inbound_nodes).forEach((refs, nodeIndex) => {
        const ins = refs.map((r) => {
          if (r[2] !== 0) throw new UnsupportedLayerError(layer.class_name, name, 'inputs from a multi-output layer');
          return key(r[0], r[1]);
        });
        const out = key(name, nodeIndex);
        if (MODEL_CLASSES.has(layer.class_name)) {
          this.aliases.set(out, this.model(layer, path, ins)[0]);
          this.register(name, path, out);
        } else {
          this.addLayer(layer, path, ins, out);
        }
      });
    }
    return refList(config.output_layers).map((r) => key(r[0], r[1] ?? 0));
  }

  private addLayer(def: LayerDef, path: string[], inputs: string[], id: string): string {
    const name = layerNameOf(def);
    this.nodes.set(id, { id, cls: def.class_name, name, path, config: configOf(def), inputs });
    this.register(name, path, id);
    return id;
  }
}

function rootModel(modelJson: unknown): LayerDef {
  const json = (modelJson ?? {}) as Json;
  let topo = (json.modelTopology ?? json) as Json;
  if (topo.model_config) topo = topo.model_config as Json;
  if (typeof topo.class_name !== 'string' || !MODEL_CLASSES.has(topo.class_name)) {
    throw new Error('model.json holds no Keras layers-model topology (is it a TF.js graph model?)');
  }
  return topo as unknown as LayerDef;
}

function kerasMajorVersion(modelJson: unknown): number {
  const json = (modelJson ?? {}) as Json;
  const version = String(((json.modelTopology ?? json) as Json).keras_version ?? '');
  const m = /^(\d+)\./.exec(version);
  return m ? Number(m[1]) : 2;
}

/** Channel count declared by the model's input, if any. */
function inputChannels(def: LayerDef): number | null {
  const config = configOf(def);
  const shapeOf = (c: Json): unknown => c.batch_input_shape ?? c.batch_shape ?? c.build_input_shape;
  let shape: unknown;
  if (def.class_name === 'Sequential') {
    shape = shapeOf(config);
    const first = ((Array.isArray(def.config) ? def.config : config.layers) as LayerDef[] | undefined)?.[0];
    if (shape === undefined && first) return MODEL_CLASSES.has(first.class_name) ? inputChannels(first) : lastNumber(shapeOf(configOf(first)));
  } else {
    const ref = refList(config.input_layers)[0];
    const layer = ((config.layers ?? []) as LayerDef[]).find((l) => ref && layerNameOf(l) === ref[0]);
    if (layer) shape = shapeOf(configOf(layer));
  }
  return lastNumber(shape);
}

function lastNumber(shape: unknown): number | null {
  return Array.isArray(shape) && typeof shape.at(-1) === 'number' ? (shape.at(-1) as number) : null;
}

// ---------------------------------------------------------------------------------------------
// Emission

/**
 * A converted tensor. `shape` is the Keras shape without the batch axis; a rank-3 one ([H, W, C])
 * is stored NCHW in the graph, every other rank in Keras order.
 */
interface Value {
  tensor: string;
  shape: Array<number | null>;
  stride: number;
}

type Padding = 'valid' | 'same';

const isSpatial = (v: Value) => v.shape.length === 3;
const channelsOf = (v: Value) => v.shape[v.shape.length - 1];

function pair(value: unknown, fallback: [number, number], what: string): [number, number] {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) return [value[0], value[1]];
  throw new Error(`${what}: expected a number or a pair, got ${JSON.stringify(value)}`);
}

function product(values: Array<number | null>): number | null {
  return values.every((v) => v !== null) ? (values as number[]).reduce((a, b) => a * b, 1) : null;
}

class Emitter {
  readonly b = new OnnxGraphBuilder();
  readonly values = new Map<string, Value>();
  private readonly scalars = new Map<number, string>();
  private readonly int64s = new Map<string, string>();
  /** BatchNormalization layer id → id of the conv / dense layer it was folded into. */
  private readonly foldedInto = new Map<string, string>();

  constructor(
    private readonly topo: Topology,
    private readonly weights: WeightStore,
    private readonly consumers: Map<string, FlatNode[]>,
    private readonly kerasMajor: number,
  ) {}

  emit(node: FlatNode): void {
    const folded = this.foldedInto.get(node.id);
    if (folded) {
      // A BN folded into the conv before it: the conv's output already is the BN's.
      this.values.set(node.id, this.values.get(folded)!);
      return;
    }
    const inputs = node.inputs.map((k) => {
      const v = this.values.get(this.topo.resolve(k));
      if (!v) throw new Error(`internal: input of layer "${node.name}" not converted yet`);
      return v;
    });
    if (node.config.data_format === 'channels_first') {
      throw new UnsupportedLayerError(node.cls, node.name, 'data_format channels_first');
    }
    this.values.set(node.id, this.layer(node, inputs));
  }

  private layer(node: FlatNode, inputs: Value[]): Value {
    const c = node.config;
    const x = inputs[0];
    const one = () => {
      if (inputs.length !== 1) throw new Error(`layer "${node.name}" (${node.cls}) expects one input, got ${inputs.length}`);
      return x;
    };
    switch (node.cls) {
      case 'Dropout': case 'SpatialDropout1D': case 'SpatialDropout2D': case 'SpatialDropout3D':
      case 'GaussianNoise': case 'GaussianDropout': case 'AlphaDropout': case 'ActivityRegularization': case 'Identity':
        return one();
      case 'Conv2D': return this.conv2d(node, one());
      case 'DepthwiseConv2D': return this.depthwise(node, one());
      case 'SeparableConv2D': return this.separable(node, one());
      case 'Dense': return this.dense(node, one());
      case 'BatchNormalization': return this.batchNorm(node, one());
      case 'Activation': return this.activationValue(node, one(), String(c.activation ?? 'linear'));
      case 'ReLU': return this.relu(node, one());
      case 'LeakyReLU': {
        const alpha = Number(c.alpha ?? c.negative_slope ?? 0.3);
        return { ...x, tensor: this.b.op('LeakyRelu', [one().tensor], node.name, { alpha: attr.float(alpha) }) };
      }
      case 'ELU':
        return { ...x, tensor: this.b.op('Elu', [one().tensor], node.name, { alpha: attr.float(Number(c.alpha ?? 1)) }) };
      case 'ThresholdedReLU':
        return { ...x, tensor: this.b.op('ThresholdedRelu', [one().tensor], node.name, { alpha: attr.float(Number(c.theta ?? 1)) }) };
      case 'PReLU': return this.prelu(node, one());
      case 'Softmax': {
        const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
        if (axis.length !== 1) throw new UnsupportedLayerError(node.cls, node.name, 'softmax over several axes');
        return { ...x, tensor: this.b.op('Softmax', [one().tensor], node.name, { axis: attr.int(this.onnxAxis(node, x, Number(axis[0]))) }) };
      }
      case 'Rescaling': return this.rescaling(node, one());
      case 'Add': case 'Subtract': case 'Multiply': case 'Average': case 'Maximum': case 'Minimum':
        return this.merge(node, inputs);
      case 'Concatenate': return this.concatenate(node, inputs);
      case 'ZeroPadding2D': return this.zeroPadding(node, one());
      case 'Cropping2D': return this.cropping(node, one());
      case 'MaxPooling2D': case 'AveragePooling2D': return this.pool(node, one());
      case 'GlobalAveragePooling2D': case 'GlobalMaxPooling2D': return this.globalPool(node, one());
      case 'Flatten': return this.reshape(node, one(), [-1]);
      case 'Reshape': {
        // TF.js writes the inferred dimension as null rather than -1.
        const target = Array.isArray(c.target_shape) ? c.target_shape.map((d) => (d === null ? -1 : d)) : null;
        if (!target || !target.every((d) => typeof d === 'number')) {
          throw new Error(`Reshape layer "${node.name}" has no numeric target_shape`);
        }
        return this.reshape(node, one(), target as number[]);
      }
      default:
        throw new UnsupportedLayerError(node.cls, node.name);
    }
  }

  // ----- helpers -------------------------------------------------------------------------------

  private scalar(value: number): string {
    let name = this.scalars.get(value);
    if (!name) {
      name = this.b.floatTensor('const', [], Float32Array.of(value));
      this.scalars.set(value, name);
    }
    return name;
  }

  private ints(values: number[]): string {
    const key = values.join(',');
    let name = this.int64s.get(key);
    if (!name) {
      name = this.b.int64Tensor('shape', values);
      this.int64s.set(key, name);
    }
    return name;
  }

  /** Keras axis (counting the batch axis) → axis of the stored tensor. */
  private onnxAxis(node: FlatNode, v: Value, kerasAxis: number): number {
    const rank = v.shape.length + 1;
    const axis = kerasAxis < 0 ? kerasAxis + rank : kerasAxis;
    if (axis <= 0 || axis >= rank) throw new UnsupportedLayerError(node.cls, node.name, `axis ${kerasAxis} on a rank-${rank} tensor`);
    if (!isSpatial(v)) return axis;
    return [0, 2, 3, 1][axis];
  }

  private channelShape(v: Value): number[] {
    const c = channelsOf(v) as number;
    return isSpatial(v) ? [c, 1, 1] : [c];
  }

  private requireChannels(node: FlatNode, v: Value): number {
    const c = channelsOf(v);
    if (c === null || c === undefined) throw new Error(`layer "${node.name}" (${node.cls}): input channel count is unknown`);
    return c;
  }

  // ----- convolutions ------------------------------------------------------------------------

  private conv2d(node: FlatNode, x: Value): Value {
    const c = node.config;
    if (!isSpatial(x)) throw new UnsupportedLayerError(node.cls, node.name, `input of rank ${x.shape.length + 1}`);
    const [kh, kw] = pair(c.kernel_size, [1, 1], `${node.name}.kernel_size`);
    const filters = Number(c.filters);
    const groups = Number(c.groups ?? 1);
    const cin = this.requireChannels(node, x);
    if (cin % groups !== 0) throw new Error(`Conv2D "${node.name}": ${cin} input channels do not split into ${groups} groups`);
    const kernel = this.weights.get(node, 'kernel', kh * kw * (cin / groups) * filters);
    const weight = hwioToOihw(kernel, kh, kw, cin / groups, filters);
    const bias = c.use_bias === false ? null : this.weights.get(node, 'bias', filters);
    const y = this.convOp(node, x, weight, [filters, cin / groups, kh, kw], bias, groups, node.name);
    return this.activationValue(node, y, String(c.activation ?? 'linear'));
  }

  private depthwise(node: FlatNode, x: Value): Value {
    const c = node.config;
    if (!isSpatial(x)) throw new UnsupportedLayerError(node.cls, node.name, `input of rank ${x.shape.length + 1}`);
    const [kh, kw] = pair(c.kernel_size, [1, 1], `${node.name}.kernel_size`);
    const cin = this.requireChannels(node, x);
    const mult = this.depthMultiplier(node, kh * kw * cin);
    const kernel = this.weights.get(node, ['depthwise_kernel', 'kernel'], kh * kw * cin * mult);
    const bias = c.use_bias === false ? null : this.weights.get(node, 'bias', cin * mult);
    const y = this.convOp(node, x, depthwiseToOihw(kernel, kh, kw, cin, mult), [cin * mult, 1, kh, kw], bias, cin, node.name);
    return this.activationValue(node, y, String(c.activation ?? 'linear'));
  }

  private separable(node: FlatNode, x: Value): Value {
    const c = node.config;
    if (!isSpatial(x)) throw new UnsupportedLayerError(node.cls, node.name, `input of rank ${x.shape.length + 1}`);
    const [kh, kw] = pair(c.kernel_size, [1, 1], `${node.name}.kernel_size`);
    const filters = Number(c.filters);
    const cin = this.requireChannels(node, x);
    const mult = this.depthMultiplier(node, kh * kw * cin);
    const dw = this.weights.get(node, 'depthwise_kernel', kh * kw * cin * mult);
    const pw = this.weights.get(node, 'pointwise_kernel', cin * mult * filters);
    const bias = c.use_bias === false ? null : this.weights.get(node, 'bias', filters);
    const mid = this.convOp(node, x, depthwiseToOihw(dw, kh, kw, cin, mult), [cin * mult, 1, kh, kw], null, cin, `${node.name}/depthwise`, false);
    const pointwise: FlatNode = { ...node, config: { ...c, kernel_size: [1, 1], strides: [1, 1], dilation_rate: [1, 1], padding: 'valid' } };
    const y = this.convOp(pointwise, mid, hwioToOihw(pw, 1, 1, cin * mult, filters), [filters, cin * mult, 1, 1], bias, 1, node.name);
    return this.activationValue(node, y, String(c.activation ?? 'linear'));
  }

  /** TF.js leaves depth_multiplier out of a saved SeparableConv2D, so the kernel size decides. */
  private depthMultiplier(node: FlatNode, perMultiplier: number): number {
    if (node.config.depth_multiplier !== undefined) return Number(node.config.depth_multiplier);
    const mult = this.weights.get(node, ['depthwise_kernel', 'kernel']).length / perMultiplier;
    if (!Number.isInteger(mult) || mult < 1) throw new Error(`layer "${node.name}": depthwise kernel size is not a multiple of kernel area × input channels (${perMultiplier})`);
    return mult;
  }

  private dense(node: FlatNode, x: Value): Value {
    const c = node.config;
    const units = Number(c.units);
    const cin = channelsOf(x) ?? (this.weights.get(node, 'kernel').length / units);
    const kernel = this.weights.get(node, 'kernel', cin * units);
    const bias = c.use_bias === false ? null : this.weights.get(node, 'bias', units);
    let y: Value;
    if (isSpatial(x)) {
      // Dense on [N, H, W, C] acts on the channel axis: a 1×1 convolution in NCHW.
      const conv: FlatNode = { ...node, config: { kernel_size: [1, 1], strides: [1, 1], dilation_rate: [1, 1], padding: 'valid', activation: c.activation } };
      y = this.convOp(conv, x, hwioToOihw(kernel, 1, 1, cin, units), [units, cin, 1, 1], bias, 1, node.name);
    } else if (x.shape.length === 1) {
      const folded = this.foldBatchNorm(node, hwioToOihw(kernel, 1, 1, cin, units), units, bias, 2);
      const inputs = [x.tensor, this.b.floatTensor(`${node.name}/kernel`, [units, cin], folded.weight)];
      if (folded.bias) inputs.push(this.b.floatTensor(`${node.name}/bias`, [units], folded.bias));
      y = { tensor: this.b.op('Gemm', inputs, node.name, { transB: attr.int(1) }), shape: [units], stride: x.stride };
    } else {
      let t = this.b.op('MatMul', [x.tensor, this.b.floatTensor(`${node.name}/kernel`, [cin, units], kernel)], `${node.name}/matmul`);
      if (bias) t = this.b.op('Add', [t, this.b.floatTensor(`${node.name}/bias`, [units], bias)], node.name);
      y = { tensor: t, shape: [...x.shape.slice(0, -1), units], stride: x.stride };
    }
    return this.activationValue(node, y, String(c.activation ?? 'linear'));
  }

  /**
   * Emits an ONNX Conv with the layer's strides, dilations and padding, folding a directly
   * following BatchNormalization into the weights when nothing else reads the raw conv output.
   */
  private convOp(node: FlatNode, x: Value, weight: Float32Array, dims: number[], bias: Float32Array | null, group: number, base: string, allowFold = true): Value {
    const c = node.config;
    const kernel: [number, number] = [dims[2], dims[3]];
    const strides = pair(c.strides, [1, 1], `${node.name}.strides`);
    const dilations = pair(c.dilation_rate, [1, 1], `${node.name}.dilation_rate`);
    const padding = this.padding(node);
    const folded = allowFold ? this.foldBatchNorm(node, weight, dims[0], bias, 4) : { weight, bias };
    const inputs = [x.tensor, this.b.floatTensor(`${base}/kernel`, dims, folded.weight)];
    if (folded.bias) inputs.push(this.b.floatTensor(`${base}/bias`, [dims[0]], folded.bias));
    const tensor = this.b.op('Conv', inputs, base, {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(strides),
      dilations: attr.ints(dilations),
      group: attr.int(group),
      ...this.padAttrs(node, padding, kernel, strides, dilations),
    });
    return {
      tensor,
      shape: [outSize(x.shape[0], kernel[0], strides[0], dilations[0], padding), outSize(x.shape[1], kernel[1], strides[1], dilations[1], padding), dims[0]],
      stride: x.stride * strides[0],
    };
  }

  private padAttrs(node: FlatNode, padding: Padding, kernel: [number, number], strides: [number, number], dilations: [number, number]): Record<string, OnnxAttribute> {
    const pads = padAttrs(padding, kernel, strides, dilations);
    if (!pads) {
      throw new UnsupportedLayerError(node.cls, node.name, `'same' padding with kernel ${kernel.join('×')}, strides ${strides.join('×')}, dilation ${dilations.join('×')}`);
    }
    return pads;
  }

  private padding(node: FlatNode): Padding {
    const p = String(node.config.padding ?? 'valid').toLowerCase();
    if (p !== 'valid' && p !== 'same') throw new UnsupportedLayerError(node.cls, node.name, `padding "${p}"`);
    return p;
  }

  // ----- batch normalisation -----------------------------------------------------------------

  private foldBatchNorm(node: FlatNode, weight: Float32Array, outChannels: number, bias: Float32Array | null, rank: number): { weight: Float32Array; bias: Float32Array | null } {
    const activation = normaliseActivation(String(node.config.activation ?? 'linear'));
    const readers = this.consumers.get(node.id) ?? [];
    const bn = readers.length === 1 && readers[0].cls === 'BatchNormalization' ? readers[0] : null;
    if (activation !== 'linear' || !bn || !isLastAxis(bn.config.axis, rank)) return { weight, bias };
    const { scale, shift } = this.bnParams(bn, outChannels);
    const perChannel = weight.length / outChannels;
    const w = new Float32Array(weight.length);
    const b = new Float32Array(outChannels);
    for (let o = 0; o < outChannels; o++) {
      for (let i = 0; i < perChannel; i++) w[o * perChannel + i] = weight[o * perChannel + i] * scale[o];
      b[o] = (bias ? bias[o] : 0) * scale[o] + shift[o];
    }
    this.foldedInto.set(bn.id, node.id);
    return { weight: w, bias: b };
  }

  private bnParams(node: FlatNode, channels: number): { scale: Float64Array; shift: Float64Array } {
    const c = node.config;
    const eps = Number(c.epsilon ?? 1e-3);
    const mean = this.weights.get(node, 'moving_mean', channels);
    const variance = this.weights.get(node, 'moving_variance', channels);
    const gamma = c.scale === false ? null : this.weights.get(node, 'gamma', channels);
    const beta = c.center === false ? null : this.weights.get(node, 'beta', channels);
    const scale = new Float64Array(channels);
    const shift = new Float64Array(channels);
    for (let i = 0; i < channels; i++) {
      scale[i] = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + eps);
      shift[i] = (beta ? beta[i] : 0) - mean[i] * scale[i];
    }
    return { scale, shift };
  }

  private batchNorm(node: FlatNode, x: Value): Value {
    const channels = this.requireChannels(node, x);
    if (!isLastAxis(node.config.axis, x.shape.length + 1)) {
      throw new UnsupportedLayerError(node.cls, node.name, `normalisation over axis ${JSON.stringify(node.config.axis)}`);
    }
    const { scale, shift } = this.bnParams(node, channels);
    const shape = this.channelShape(x);
    const scaled = this.b.op('Mul', [x.tensor, this.b.floatTensor(`${node.name}/scale`, shape, Float32Array.from(scale))], `${node.name}/mul`);
    return { ...x, tensor: this.b.op('Add', [scaled, this.b.floatTensor(`${node.name}/shift`, shape, Float32Array.from(shift))], node.name) };
  }

  // ----- activations -------------------------------------------------------------------------

  private activationValue(node: FlatNode, x: Value, activation: string): Value {
    const axis = isSpatial(x) ? 1 : -1;
    return { ...x, tensor: this.activation(node, x.tensor, activation, axis) };
  }

  private activation(node: FlatNode, x: string, activation: string, channelAxis: number): string {
    const base = node.cls === 'Activation' ? node.name : `${node.name}/${activation}`;
    const b = this.b;
    switch (normaliseActivation(activation)) {
      case 'linear': return x;
      case 'relu': return b.op('Relu', [x], base);
      case 'relu6': return b.op('Clip', [x, this.scalar(0), this.scalar(6)], base);
      case 'sigmoid': return b.op('Sigmoid', [x], base);
      case 'tanh': return b.op('Tanh', [x], base);
      case 'softmax': return b.op('Softmax', [x], base, { axis: attr.int(channelAxis) });
      case 'logsoftmax': return b.op('LogSoftmax', [x], base, { axis: attr.int(channelAxis) });
      case 'elu': return b.op('Elu', [x], base);
      case 'selu': return b.op('Selu', [x], base, { alpha: attr.float(1.6732632423543772), gamma: attr.float(1.0507009873554805) });
      case 'softplus': return b.op('Softplus', [x], base);
      case 'softsign': return b.op('Softsign', [x], base);
      case 'exponential': return b.op('Exp', [x], base);
      case 'leakyrelu': return b.op('LeakyRelu', [x], base, { alpha: attr.float(0.2) });
      case 'swish': case 'silu':
        return b.op('Mul', [x, b.op('Sigmoid', [x], `${base}/sigmoid`)], base);
      case 'mish':
        return b.op('Mul', [x, b.op('Tanh', [b.op('Softplus', [x], `${base}/softplus`)], `${base}/tanh`)], base);
      case 'hardsigmoid': {
        // Keras 2 and TF.js: clip(0.2x + 0.5, 0, 1); Keras 3 switched to relu6(x + 3) / 6.
        const alpha = this.kerasMajor >= 3 ? 1 / 6 : 0.2;
        return b.op('HardSigmoid', [x], base, { alpha: attr.float(alpha), beta: attr.float(0.5) });
      }
      case 'hardswish': case 'hardsilu':
        return b.op('Mul', [x, b.op('HardSigmoid', [x], `${base}/hard_sigmoid`, { alpha: attr.float(1 / 6), beta: attr.float(0.5) })], base);
      case 'gelu': {
        const erf = b.op('Erf', [b.op('Mul', [x, this.scalar(Math.SQRT1_2)], `${base}/scaled`)], `${base}/erf`);
        const half = b.op('Mul', [x, this.scalar(0.5)], `${base}/half`);
        return b.op('Mul', [half, b.op('Add', [erf, this.scalar(1)], `${base}/cdf`)], base);
      }
      case 'gelunew': {
        const cube = b.op('Mul', [b.op('Mul', [x, x], `${base}/sq`), x], `${base}/cube`);
        const inner = b.op('Add', [x, b.op('Mul', [cube, this.scalar(0.044715)], `${base}/cubic`)], `${base}/inner`);
        const t = b.op('Tanh', [b.op('Mul', [inner, this.scalar(Math.sqrt(2 / Math.PI))], `${base}/arg`)], `${base}/tanh`);
        const half = b.op('Mul', [x, this.scalar(0.5)], `${base}/half`);
        return b.op('Mul', [half, b.op('Add', [t, this.scalar(1)], `${base}/one_plus`)], base);
      }
      default:
        throw new UnsupportedLayerError(node.cls, node.name, `activation "${activation}"`);
    }
  }

  private relu(node: FlatNode, x: Value): Value {
    const c = node.config;
    const max = c.max_value === null || c.max_value === undefined ? null : Number(c.max_value);
    const slope = Number(c.negative_slope ?? 0);
    const threshold = Number(c.threshold ?? 0);
    const b = this.b;
    let t: string;
    if (threshold === 0 && slope === 0) {
      return { ...x, tensor: max === null ? b.op('Relu', [x.tensor], node.name) : b.op('Clip', [x.tensor, this.scalar(0), this.scalar(max)], node.name) };
    } else if (threshold === 0) {
      t = b.op('LeakyRelu', [x.tensor], `${node.name}/leaky`, { alpha: attr.float(slope) });
    } else {
      // Keras keeps x only strictly above the threshold; below it the slope applies to x − threshold.
      const above = b.op('Greater', [x.tensor, this.scalar(threshold)], `${node.name}/above`);
      const below = b.op('Mul', [b.op('Sub', [x.tensor, this.scalar(threshold)], `${node.name}/shifted`), this.scalar(slope)], `${node.name}/below`);
      t = b.op('Where', [above, x.tensor, below], `${node.name}/thresholded`);
    }
    return { ...x, tensor: max === null ? t : b.op('Min', [t, this.scalar(max)], node.name) };
  }

  private prelu(node: FlatNode, x: Value): Value {
    const alpha = this.weights.get(node, 'alpha');
    const channels = this.requireChannels(node, x);
    let slope: Float32Array;
    let dims: number[];
    if (alpha.length === 1) {
      slope = alpha;
      dims = [];
    } else if (alpha.length === channels) {
      slope = alpha;
      dims = this.channelShape(x);
    } else if (isSpatial(x) && x.shape[0] !== null && x.shape[1] !== null && alpha.length === x.shape[0] * x.shape[1] * channels) {
      const [h, w] = x.shape as number[];
      slope = new Float32Array(alpha.length);
      for (let i = 0; i < h * w; i++) for (let ch = 0; ch < channels; ch++) slope[ch * h * w + i] = alpha[i * channels + ch];
      dims = [channels, h, w];
    } else {
      throw new UnsupportedLayerError(node.cls, node.name, `alpha with ${alpha.length} values`);
    }
    return { ...x, tensor: this.b.op('PRelu', [x.tensor, this.b.floatTensor(`${node.name}/alpha`, dims, slope)], node.name) };
  }

  private rescaling(node: FlatNode, x: Value): Value {
    const constant = (v: unknown, what: string): string => {
      if (typeof v === 'number') return this.scalar(v);
      if (Array.isArray(v) && v.length === channelsOf(x)) return this.b.floatTensor(`${node.name}/${what}`, this.channelShape(x), Float32Array.from(v as number[]));
      throw new UnsupportedLayerError(node.cls, node.name, `${what} ${JSON.stringify(v)}`);
    };
    const scaled = this.b.op('Mul', [x.tensor, constant(node.config.scale ?? 1, 'scale')], `${node.name}/scale`);
    return { ...x, tensor: this.b.op('Add', [scaled, constant(node.config.offset ?? 0, 'offset')], node.name) };
  }

  // ----- merging -----------------------------------------------------------------------------

  private merge(node: FlatNode, inputs: Value[]): Value {
    if (inputs.length < 2) throw new Error(`layer "${node.name}" (${node.cls}) needs at least two inputs`);
    const rank = Math.max(...inputs.map((v) => v.shape.length));
    // Keras broadcasts a [N, C] operand against [N, H, W, C] as [N, 1, 1, C]: in NCHW that is [N, C, 1, 1].
    const tensors = inputs.map((v) => {
      if (v.shape.length === rank) return v.tensor;
      if (v.shape.length === 1 && rank === 3) return this.b.op('Unsqueeze', [v.tensor, this.ints([2, 3])], `${node.name}/expand`);
      throw new UnsupportedLayerError(node.cls, node.name, `inputs of ranks ${inputs.map((i) => i.shape.length + 1).join(', ')}`);
    });
    const shape = Array.from({ length: rank }, (_, i) => {
      const dims = inputs.filter((v) => v.shape.length === rank).map((v) => v.shape[i]);
      if (i === rank - 1) dims.push(...inputs.filter((v) => v.shape.length !== rank).map((v) => v.shape[0]));
      const big = dims.filter((d) => d !== 1);
      return big.length === 0 ? 1 : big.every((d) => d !== null) ? big[0] : null;
    });
    const stride = Math.max(...inputs.filter((v) => v.shape.length === rank).map((v) => v.stride));
    let tensor: string;
    switch (node.cls) {
      case 'Add': tensor = tensors.length === 2 ? this.b.op('Add', tensors, node.name) : this.b.op('Sum', tensors, node.name); break;
      case 'Subtract':
        if (tensors.length !== 2) throw new Error(`Subtract layer "${node.name}" needs exactly two inputs`);
        tensor = this.b.op('Sub', tensors, node.name);
        break;
      case 'Multiply':
        tensor = tensors.slice(1).reduce((acc, t, i) => this.b.op('Mul', [acc, t], i === tensors.length - 2 ? node.name : `${node.name}/partial`), tensors[0]);
        break;
      case 'Average': tensor = this.b.op('Mean', tensors, node.name); break;
      case 'Maximum': tensor = this.b.op('Max', tensors, node.name); break;
      default: tensor = this.b.op('Min', tensors, node.name); break;
    }
    return { tensor, shape, stride };
  }

  private concatenate(node: FlatNode, inputs: Value[]): Value {
    const rank = inputs[0].shape.length;
    if (inputs.some((v) => v.shape.length !== rank)) throw new UnsupportedLayerError(node.cls, node.name, 'inputs of different ranks');
    const kerasAxis = Number(node.config.axis ?? -1);
    const axis = kerasAxis < 0 ? kerasAxis + rank + 1 : kerasAxis;
    const onnxAxis = this.onnxAxis(node, inputs[0], kerasAxis);
    const shape = inputs[0].shape.map((d, i) => (i === axis - 1 ? sumOrNull(inputs.map((v) => v.shape[i])) : d));
    const tensor = this.b.op('Concat', inputs.map((v) => v.tensor), node.name, { axis: attr.int(onnxAxis) });
    return { tensor, shape, stride: Math.max(...inputs.map((v) => v.stride)) };
  }

  // ----- spatial -----------------------------------------------------------------------------

  private spatialPads(node: FlatNode, key: string): [[number, number], [number, number]] {
    const v = node.config[key];
    if (typeof v === 'number') return [[v, v], [v, v]];
    if (Array.isArray(v) && v.length === 2) {
      const [h, w] = v;
      return [pair(h, [0, 0], `${node.name}.${key}`), pair(w, [0, 0], `${node.name}.${key}`)];
    }
    throw new Error(`layer "${node.name}": cannot read ${key} ${JSON.stringify(v)}`);
  }

  private zeroPadding(node: FlatNode, x: Value): Value {
    if (!isSpatial(x)) throw new UnsupportedLayerError(node.cls, node.name, `input of rank ${x.shape.length + 1}`);
    const [[top, bottom], [left, right]] = this.spatialPads(node, 'padding');
    const tensor = this.b.op('Pad', [x.tensor, this.ints([0, 0, top, left, 0, 0, bottom, right])], node.name, { mode: attr.string('constant') });
    const [h, w, c] = x.shape;
    return { tensor, shape: [h === null ? null : h + top + bottom, w === null ? null : w + left + right, c], stride: x.stride };
  }

  private cropping(node: FlatNode, x: Value): Value {
    if (!isSpatial(x)) throw new UnsupportedLayerError(node.cls, node.name, `input of rank ${x.shape.length + 1}`);
    const [[top, bottom], [left, right]] = this.spatialPads(node, 'cropping');
    const end = (crop: number) => (crop > 0 ? -crop : Number.MAX_SAFE_INTEGER);
    const tensor = this.b.op('Slice', [x.tensor, this.ints([top, left]), this.ints([end(bottom), end(right)]), this.ints([2, 3])], node.name);
    const [h, w, c] = x.shape;
    return { tensor, shape: [h === null ? null : h - top - bottom, w === null ? null : w - left - right, c], stride: x.stride };
  }

  private pool(node: FlatNode, x: Value): Value {
    if (!isSpatial(x)) throw new UnsupportedLayerError(node.cls, node.name, `input of rank ${x.shape.length + 1}`);
    const c = node.config;
    const kernel = pair(c.pool_size, [2, 2], `${node.name}.pool_size`);
    const strides = pair(c.strides, kernel, `${node.name}.strides`);
    const padding = this.padding(node);
    const isMax = node.cls === 'MaxPooling2D';
    const tensor = this.b.op(isMax ? 'MaxPool' : 'AveragePool', [x.tensor], node.name, {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(strides),
      ...this.padAttrs(node, padding, kernel, strides, [1, 1]),
      // TF averages only over the window's real pixels where 'same' padding adds some.
      ...(isMax ? {} : { count_include_pad: attr.int(0) }),
    });
    return {
      tensor,
      shape: [outSize(x.shape[0], kernel[0], strides[0], 1, padding), outSize(x.shape[1], kernel[1], strides[1], 1, padding), x.shape[2]],
      stride: x.stride * strides[0],
    };
  }

  private globalPool(node: FlatNode, x: Value): Value {
    if (!isSpatial(x)) throw new UnsupportedLayerError(node.cls, node.name, `input of rank ${x.shape.length + 1}`);
    const op = node.cls === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool';
    if (node.config.keepdims === true) {
      return { tensor: this.b.op(op, [x.tensor], node.name), shape: [1, 1, x.shape[2]], stride: x.stride };
    }
    const pooled = this.b.op(op, [x.tensor], `${node.name}/pool`);
    return { tensor: this.b.op('Flatten', [pooled], node.name, { axis: attr.int(1) }), shape: [x.shape[2]], stride: x.stride };
  }

  /** Keras Reshape/Flatten work on NHWC memory order, so spatial tensors go through NHWC. */
  private reshape(node: FlatNode, x: Value, target: number[]): Value {
    const b = this.b;
    const isOneByOne = (s: Array<number | null>) => s.length === 3 && s[0] === 1 && s[1] === 1;
    let t = x.tensor;
    if (isSpatial(x) && !isOneByOne(x.shape)) t = b.op('Transpose', [t], `${node.name}/to_nhwc`, { perm: attr.ints([0, 2, 3, 1]) });
    const total = product(x.shape);
    const known = product(target.filter((d) => d !== -1));
    const shape = target.map((d) => (d !== -1 ? d : total !== null && known ? total / known : null));
    const toSpatial = target.length === 3 && !isOneByOne(shape);
    // A 1×1 map has the same memory order in NHWC and NCHW, so it needs only the NCHW dims.
    const dims = target.length === 3 && !toSpatial ? [target[2], 1, 1] : target;
    // Reshape's 0 copies the batch dimension from the input.
    t = b.op('Reshape', [t, this.ints([0, ...dims])], toSpatial ? `${node.name}/reshape` : node.name);
    if (toSpatial) t = b.op('Transpose', [t], node.name, { perm: attr.ints([0, 3, 1, 2]) });
    return { tensor: t, shape, stride: target.length === 3 ? x.stride : 1 };
  }
}

function sumOrNull(values: Array<number | null>): number | null {
  return values.every((v) => v !== null) ? (values as number[]).reduce((a, b) => a + b, 0) : null;
}

function normaliseActivation(name: string): string {
  return name.toLowerCase().replace(/_/g, '');
}

/** True when a BatchNormalization `axis` is the last (channel) axis of a tensor of `rank`. */
function isLastAxis(axis: unknown, rank: number): boolean {
  const a = Array.isArray(axis) ? (axis.length === 1 ? axis[0] : NaN) : (axis ?? -1);
  return a === -1 || a === rank - 1;
}

/**
 * ONNX padding for Keras 'valid' / 'same'. TF's 'same' pads (ceil(in/s) − 1)·s + k − in in total,
 * clamped at 0, the odd pixel at the end. Where that is static it becomes explicit pads; otherwise
 * SAME_UPPER, which is the same rule but which onnxruntime does not clamp, so it only serves
 * kernels at least as large as the stride. Returns null for what neither can express.
 */
function padAttrs(padding: Padding, kernel: [number, number], strides: [number, number], dilations: [number, number]): Record<string, OnnxAttribute> | null {
  if (padding === 'valid') return { pads: attr.ints([0, 0, 0, 0]) };
  const extent = kernel.map((k, i) => (k - 1) * dilations[i] + 1);
  const axes = extent.map((e, i) => {
    const s = strides[i];
    // Stride 1: total e − 1 at every size. Extent ≤ 2 with a stride: the start pad is always 0
    // and an end pad of e − 1 is never read beyond TF's own, so 'valid' over it is exact.
    if (s === 1) return { begin: Math.floor((e - 1) / 2), end: Math.ceil((e - 1) / 2) };
    if (e <= 2) return { begin: 0, end: e - 1 };
    return null;
  });
  if (axes[0] && axes[1]) return { pads: attr.ints([axes[0].begin, axes[1].begin, axes[0].end, axes[1].end]) };
  const sameUpperSafe = extent.every((e, i) => e >= strides[i] && (strides[i] === 1 || dilations[i] === 1));
  return sameUpperSafe ? { auto_pad: attr.string('SAME_UPPER') } : null;
}

function outSize(size: number | null, kernel: number, stride: number, dilation: number, padding: Padding): number | null {
  if (size === null) return null;
  if (padding === 'same') return Math.ceil(size / stride);
  return Math.floor((size - ((kernel - 1) * dilation + 1)) / stride) + 1;
}

/** Keras conv kernel [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
function hwioToOihw(k: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        for (let o = 0; o < cout; o++) out[((o * cin + c) * kh + i) * kw + j] = k[((i * kw + j) * cin + c) * cout + o];
      }
    }
  }
  return out;
}

/** Keras depthwise kernel [kh, kw, C, mult] → ONNX [C·mult, 1, kh, kw]; TF orders outputs c·mult + m. */
function depthwiseToOihw(k: Float32Array, kh: number, kw: number, channels: number, mult: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < channels; c++) {
        for (let m = 0; m < mult; m++) out[((c * mult + m) * kh + i) * kw + j] = k[((i * kw + j) * channels + c) * mult + m];
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/** Layer names in topological order (nested models' own names included), for CLI help and errors. */
export function listLayerNames(src: LayersModelSource): string[] {
  return new Topology(rootModel(src.modelJson)).names();
}

interface EmittedGraph {
  root: LayerDef;
  topo: Topology;
  em: Emitter;
  outputId: string;
  channels: number;
}

function emitGraph(src: LayersModelSource, outputLayer: string | undefined): EmittedGraph {
  const root = rootModel(src.modelJson);
  const topo = new Topology(root);
  if (topo.outputs.length === 0) throw new Error('the Keras model declares no outputs');
  const outputId = outputLayer ? topo.lookup(outputLayer) : topo.resolve(topo.outputs[0]);

  // Post-order walk from the output: this is both the pruning and the emission order.
  const order: FlatNode[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: Array<[string, boolean]> = [[outputId, false]];
  const cycle = (id: string) => new Error(`Keras topology has a cycle through "${topo.nodes.get(id)?.name}"`);
  while (stack.length > 0) {
    const [id, expanded] = stack.pop()!;
    if (expanded) {
      state.set(id, 'done');
      order.push(topo.nodes.get(id)!);
      continue;
    }
    if (state.get(id) === 'done') continue;
    if (state.get(id) === 'open') throw cycle(id);
    state.set(id, 'open');
    stack.push([id, true]);
    for (const input of topo.nodes.get(id)!.inputs) {
      const dep = topo.resolve(input);
      if (state.get(dep) === 'open') throw cycle(dep);
      if (!state.has(dep)) stack.push([dep, false]);
    }
  }

  const consumers = new Map<string, FlatNode[]>();
  for (const node of order) {
    for (const input of node.inputs) {
      const dep = topo.resolve(input);
      consumers.set(dep, [...(consumers.get(dep) ?? []), node]);
    }
  }

  const channels = inputChannels(root) ?? 3;
  const em = new Emitter(topo, new WeightStore(src.weights), consumers, kerasMajorVersion(src.modelJson));
  em.values.set(INPUT_ID, { tensor: em.b.reserve(INPUT_NAME), shape: [null, null, channels], stride: 1 });
  for (const node of order) {
    if (node.id === INPUT_ID) continue;
    em.emit(node);
  }
  return { root, topo, em, outputId, channels };
}

export function convertLayersModel(src: LayersModelSource, opts: { outputLayer?: string } = {}): ConvertedModel {
  const { root, topo, em, outputId, channels } = emitGraph(src, opts.outputLayer);
  const out = em.values.get(outputId)!;
  const outChannels = channelsOf(out);
  if (outChannels === null || outChannels === undefined) {
    throw new Error(`output "${opts.outputLayer ?? topo.nodes.get(outputId)?.name}" has no fixed channel count`);
  }
  em.b.expose(out.tensor, OUTPUT_NAME);
  const outShape: Array<number | string> = isSpatial(out)
    ? ['batch', outChannels, out.shape[0] ?? 'out_height', out.shape[1] ?? 'out_width']
    : ['batch', ...out.shape.map((d, i) => d ?? `out_dim${i + 1}`)];
  const featureLayer = opts.outputLayer ?? topo.nodes.get(outputId)!.name;
  const onnx = em.b.encode({
    graphName: layerNameOf(root),
    inputs: [{ name: INPUT_NAME, shape: ['batch', channels, 'height', 'width'] }],
    outputs: [{ name: OUTPUT_NAME, shape: outShape }],
    docString: `Converted from Keras layers model "${layerNameOf(root)}", output "${featureLayer}"`,
  });
  return {
    onnx,
    inputName: INPUT_NAME,
    outputName: OUTPUT_NAME,
    featureLayer,
    channels: outChannels,
    stride: isSpatial(out) ? out.stride : 1,
  };
}

/**
 * The layer to read features from when the user names none: the last activation on the path to
 * the model's output whose size still follows the input image (before global pooling, Flatten or
 * a classifier Reshape), stepping back over a trailing 1×1 class-score convolution (as in Darknet,
 * whose last conv has one channel per class).
 */
export function defaultFeatureLayer(src: LayersModelSource): string {
  const { topo, em, outputId } = emitGraph(src, undefined);
  const value = (id: string) => em.values.get(id)!;
  const isMap = (id: string) => id !== INPUT_ID && isSpatial(value(id)) && value(id).shape[0] === null;
  const mapInput = (id: string) => topo.nodes.get(id)!.inputs.map((k) => topo.resolve(k)).find(isMap);

  let id = outputId;
  while (!isMap(id)) {
    const inputs = topo.nodes.get(id)!.inputs.map((k) => topo.resolve(k));
    if (inputs.length === 0 || inputs[0] === INPUT_ID) return topo.nodes.get(outputId)!.name;
    id = inputs.find(isMap) ?? inputs[0];
  }
  if (id !== outputId) {
    const classes = channelsOf(value(outputId));
    for (let prev = mapInput(id); prev && channelsOf(value(id)) === classes; prev = mapInput(id)) id = prev;
  }
  const node = topo.nodes.get(id)!;
  const sameName = topo.registry.filter((r) => r.name === node.name).map((r) => topo.resolve(r.key));
  if (sameName.every((k) => k === id)) return node.name;
  // The plain name is shared with another tensor (nested models reusing names): qualify it.
  return topo.registry.find((r) => topo.resolve(r.key) === id)?.qualified ?? node.name;
}
