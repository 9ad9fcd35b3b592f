// A TF.js *graph* model (the offline default's nsfwjs MobileNetV2 is one) as a trainable backbone.
// TF.js's own GraphModel cannot be trained: it runs weights as constants and frees intermediate
// tensors the gradient tape still needs. So this interprets the graph's nodes with plain TF.js
// ops instead, up to the feature node, with the weights of the trained convolutions as
// variables. Graphs are NHWC like TF.js, so no layout changes are needed. The ops are those
// tfjsGraphToOnnx.ts converts (the same node set the engine's ONNX model was built from).
import * as tf from '@tensorflow/tfjs';
import type { ConvertedModel, InputNormalisation } from '../convert/convertedModel.js';
import { attrInts, attrString, attrStrings, convertGraphModel, findInputNormalisation, type GraphModelSource, type TfjsGraphNode } from '../convert/tfjsGraphToOnnx.js';
import { uniqueSuffix } from './learnableWhitening.js';
import type { BackboneSplit, TrainableBackbone } from './trainableBackbone.js';

const CONV_OPS = new Set(['Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'DepthwiseConv2d', 'FusedDepthwiseConv2dNative']);

export interface GraphBackboneOptions {
  /** The feature node, in any form tfjsGraphToOnnx's resolveOutputNode accepts. */
  outputNode: string;
  source: string;
  licence: string;
}

function dataInputs(node: TfjsGraphNode): string[] {
  return (node.input ?? []).filter((s) => !s.startsWith('^')).map((s) => {
    const m = /^(.*):(\d+)$/.exec(s);
    if (m && m[2] !== '0') throw new Error(`node ${node.name} reads output ${m[2]} of ${m[1]}; only single-output ops are supported`);
    return m ? m[1] : s;
  });
}

type Padding = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

function paddingOf(node: TfjsGraphNode): Padding {
  const p = attrString(node, 'padding') ?? 'VALID';
  if (p === 'SAME') return 'same';
  if (p === 'VALID') return 'valid';
  if (p === 'EXPLICIT') {
    const e = attrInts(node, 'explicit_paddings') ?? [];
    if (e.length !== 8) throw new Error(`node ${node.name}: EXPLICIT padding needs 8 explicit_paddings`);
    return [[e[0], e[1]], [e[2], e[3]], [e[4], e[5]], [e[6], e[7]]];
  }
  throw new Error(`node ${node.name} (${node.op}): padding ${p} is not supported`);
}

function activate(x: tf.Tensor, op: string, node: TfjsGraphNode): tf.Tensor {
  switch (op) {
    case 'Relu': return tf.relu(x);
    case 'Relu6': return tf.relu6(x);
    case 'Elu': return tf.elu(x);
    case 'Sigmoid': return tf.sigmoid(x);
    case 'Tanh': return tf.tanh(x);
    case 'LeakyRelu': return tf.leakyRelu(x, Number(node.attr?.alpha?.f ?? 0.2));
    default: throw new Error(`unsupported activation ${op} at node ${node.name}`);
  }
}

export class GraphBackbone implements TrainableBackbone {
  readonly units: readonly string[];
  readonly featureLayer: string;
  readonly channels: number;
  readonly stride: number;
  readonly normalisation: InputNormalisation;
  private readonly byName: Map<string, TfjsGraphNode>;
  /** Needed nodes in topological order, from the seed (exclusive) to the feature node. */
  private readonly order: TfjsGraphNode[];
  private readonly seed: string;
  /** Every Const the feature node needs, as a tensor or, for trained units, a variable. */
  private readonly values = new Map<string, tf.Tensor>();
  private readonly unitByShortName = new Map<string, TfjsGraphNode>();
  private trainedConsts = new Set<string>();

  constructor(private readonly src: GraphModelSource, private readonly options: GraphBackboneOptions) {
    const converted = convertGraphModel(src, { outputNode: options.outputNode, skipInputNormalisation: true });
    this.featureLayer = converted.featureLayer;
    this.channels = converted.channels;
    this.stride = converted.stride;
    this.normalisation = converted.inputNormalisation;
    const nodes = src.modelJson.modelTopology.node ?? [];
    this.byName = new Map(nodes.map((n) => [n.name, n]));
    const norm = findInputNormalisation(src);
    this.seed = norm.nodes.length ? norm.nodes[norm.nodes.length - 1] : norm.placeholder;

    const order: TfjsGraphNode[] = [];
    const seen = new Set<string>([this.seed]);
    const stack: Array<[string, boolean]> = [[this.featureLayer, false]];
    while (stack.length) {
      const [name, expanded] = stack.pop()!;
      const node = this.byName.get(name);
      if (!node) throw new Error(`graph references missing node ${name}`);
      if (expanded) {
        order.push(node);
        continue;
      }
      if (seen.has(name)) continue;
      seen.add(name);
      stack.push([name, true]);
      for (const input of dataInputs(node)) if (!seen.has(input)) stack.push([input, false]);
    }
    this.order = order;
    for (const node of order) {
      if (node.op !== 'Const') continue;
      const data = src.weights.get(node.name);
      const shape = src.modelJson.weightsManifest.flatMap((g) => g.weights).find((w) => w.name === node.name)?.shape;
      if (!data || !shape) throw new Error(`Const ${node.name} has no weight data`);
      this.values.set(node.name, tf.tensor(data, shape));
    }
    const convs = order.filter((n) => CONV_OPS.has(n.op));
    const prefix = commonScope(convs.map((n) => n.name));
    this.units = convs.map((n) => {
      const short = n.name.slice(prefix.length);
      this.unitByShortName.set(short, n);
      return short;
    });
  }

  get source(): string {
    return this.options.source;
  }

  get licence(): string {
    return this.options.licence;
  }

  split(trainable: ReadonlySet<string>): BackboneSplit {
    for (const unit of trainable) if (!this.unitByShortName.has(unit)) throw new Error(`no trainable unit ${unit} in ${this.source}`);
    this.freezeAll();
    const variables: tf.Variable[] = [];
    const top = new Set<string>();
    for (const unit of trainable) {
      const node = this.unitByShortName.get(unit)!;
      top.add(node.name);
      for (const input of dataInputs(node)) {
        if (this.byName.get(input)?.op !== 'Const') continue;
        const variable = tf.variable(this.values.get(input)!, true, `${input}_${uniqueSuffix()}`);
        this.values.get(input)!.dispose();
        this.values.set(input, variable);
        this.trainedConsts.add(input);
        variables.push(variable);
      }
    }
    // Everything downstream of a trained unit is recomputed each step; the rest is frozen.
    for (const node of this.order) if (dataInputs(node).some((i) => top.has(i))) top.add(node.name);
    const frontier = top.size === 0
      ? [this.featureLayer]
      : [...new Set(this.order.filter((n) => top.has(n.name)).flatMap((n) => dataInputs(n)).filter((i) => !top.has(i) && this.byName.get(i)?.op !== 'Const'))];
    return {
      variables,
      frontierLayers: frontier.map((name) => (name === this.seed ? null : name)),
      frozen: (image) => tf.tidy(() => {
        const computed = this.run(new Map([[this.seed, image as tf.Tensor]]), frontier);
        return frontier.map((name) => computed.get(name)!);
      }),
      trainable: (tensors) => {
        if (top.size === 0) return tensors[0] as tf.Tensor4D;
        return tf.tidy(() => this.run(new Map(frontier.map((name, i) => [name, tensors[i]])), [this.featureLayer]).get(this.featureLayer) as tf.Tensor4D);
      },
    };
  }

  exportOnnx(): ConvertedModel {
    return this.exportOnnxAt(this.featureLayer);
  }

  exportOnnxAt(node: string): ConvertedModel {
    const weights = new Map(this.src.weights);
    for (const name of this.trainedConsts) weights.set(name, Float32Array.from(this.values.get(name)!.dataSync()));
    return convertGraphModel({ ...this.src, weights }, { outputNode: node, skipInputNormalisation: true });
  }

  dispose(): void {
    for (const t of this.values.values()) t.dispose();
    this.values.clear();
  }

  /** Turns the variables of an earlier split back into constants (keeping their trained values). */
  private freezeAll(): void {
    for (const name of this.trainedConsts) {
      const v = this.values.get(name)!;
      this.values.set(name, tf.clone(v));
      v.dispose();
    }
    this.trainedConsts = new Set();
  }

  /** Evaluates the needed nodes from the given seeds; returns the computed values by node name. */
  private run(seeds: Map<string, tf.Tensor>, wanted: string[]): Map<string, tf.Tensor> {
    const computed = new Map(seeds);
    const wantedSet = new Set(wanted);
    for (const node of this.order) {
      if (computed.has(node.name) || node.op === 'Const') continue;
      const inputs = dataInputs(node);
      if (!inputs.every((i) => computed.has(i) || this.values.has(i))) continue;
      computed.set(node.name, this.apply(node, inputs.map((i) => computed.get(i) ?? this.values.get(i)!)));
      if ([...wantedSet].every((w) => computed.has(w))) break;
    }
    for (const w of wanted) if (!computed.has(w)) throw new Error(`internal: node ${w} could not be computed from ${[...seeds.keys()].join(', ')}`);
    return computed;
  }

  private constNumbers(name: string): number[] {
    const data = this.src.weights.get(name);
    if (!data) throw new Error(`node ${name} must be a Const`);
    return Array.from(data);
  }

  private apply(node: TfjsGraphNode, ins: tf.Tensor[]): tf.Tensor {
    const inputNames = dataInputs(node);
    switch (node.op) {
      case 'Identity': case 'StopGradient': case 'Snapshot': return ins[0];
      case 'Conv2D': case '_FusedConv2D': case 'DepthwiseConv2dNative': case 'DepthwiseConv2d': case 'FusedDepthwiseConv2dNative': {
        const strides = attrInts(node, 'strides') ?? [1, 1, 1, 1];
        const dilations = attrInts(node, 'dilations') ?? [1, 1, 1, 1];
        const format = attrString(node, 'data_format');
        if (format && format !== 'NHWC') throw new Error(`node ${node.name}: data_format ${format} is not supported`);
        const depthwise = node.op.includes('Depthwise');
        const x = ins[0] as tf.Tensor4D;
        const filter = ins[1] as tf.Tensor4D;
        const pad = paddingOf(node);
        let y: tf.Tensor = depthwise
          ? tf.depthwiseConv2d(x, filter, [strides[1], strides[2]], pad, 'NHWC', [dilations[1], dilations[2]])
          : tf.conv2d(x, filter, [strides[1], strides[2]], pad, 'NHWC', [dilations[1], dilations[2]]);
        const fused = attrStrings(node, 'fused_ops');
        const args = ins.slice(2);
        for (const op of fused) {
          if (op === 'BiasAdd') y = tf.add(y, args[0]);
          else if (op === 'FusedBatchNorm') {
            const epsilon = Number(node.attr?.epsilon?.f ?? 1e-3);
            const [scale, offset, mean, variance] = args;
            y = tf.add(tf.mul(tf.sub(y, mean), tf.div(scale, tf.sqrt(tf.add(variance, epsilon)))), offset);
          } else y = activate(y, op, node);
        }
        return y;
      }
      case 'BiasAdd': case 'Add': case 'AddV2': return tf.add(ins[0], ins[1]);
      case 'Sub': return tf.sub(ins[0], ins[1]);
      case 'Mul': return tf.mul(ins[0], ins[1]);
      case 'RealDiv': case 'Div': return tf.div(ins[0], ins[1]);
      case 'Maximum': return tf.maximum(ins[0], ins[1]);
      case 'Minimum': return tf.minimum(ins[0], ins[1]);
      case 'Relu': case 'Relu6': case 'Elu': case 'Sigmoid': case 'Tanh': case 'LeakyRelu': return activate(ins[0], node.op, node);
      case 'Pad': case 'PadV2': {
        const p = this.constNumbers(inputNames[1]);
        const pairs = Array.from({ length: p.length / 2 }, (_, i) => [p[2 * i], p[2 * i + 1]] as [number, number]);
        const value = node.op === 'PadV2' ? this.constNumbers(inputNames[2])[0] : 0;
        return tf.pad(ins[0], pairs, value);
      }
      case 'MaxPool': case 'AvgPool': {
        const k = attrInts(node, 'ksize') ?? [1, 1, 1, 1];
        const s = attrInts(node, 'strides') ?? [1, 1, 1, 1];
        const pad = paddingOf(node);
        if (Array.isArray(pad)) throw new Error(`node ${node.name}: explicit padding on a pool is not supported`);
        const x = ins[0] as tf.Tensor4D;
        return node.op === 'MaxPool' ? tf.maxPool(x, [k[1], k[2]], [s[1], s[2]], pad) : tf.avgPool(x, [k[1], k[2]], [s[1], s[2]], pad);
      }
      case 'ConcatV2': {
        const axis = this.constNumbers(inputNames[inputNames.length - 1])[0];
        return tf.concat(ins.slice(0, -1), axis);
      }
      case 'Mean': {
        const axes = this.constNumbers(inputNames[1]);
        return tf.mean(ins[0], axes, node.attr?.keep_dims?.b ?? false);
      }
      default:
        throw new Error(`unsupported TF.js graph op ${node.op} at node ${node.name}`);
    }
  }
}

/** The longest `a/b/…/` prefix all names share, so unit names read `expanded_conv_11/expand/Relu6`. */
function commonScope(names: string[]): string {
  if (names.length === 0) return '';
  let prefix = names[0].slice(0, names[0].lastIndexOf('/') + 1);
  for (const n of names) while (prefix && !n.startsWith(prefix)) prefix = prefix.slice(0, prefix.slice(0, -1).lastIndexOf('/') + 1);
  // Keep the model's own name (e.g. MobilenetV2/) in the unit names when every unit shares it.
  const parts = prefix.split('/').filter(Boolean);
  return parts.length > 1 ? `${parts.slice(0, -1).join('/')}/` : prefix;
}
