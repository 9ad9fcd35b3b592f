// Builds an ONNX model (protobuf via onnx-proto) node by node. Both converters (Keras layers
// and TF.js graph models) emit through this one builder so naming, initializers and the opset
// are handled in one place.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type OnnxAttribute =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): OnnxAttribute => ({ kind: 'int', value }),
  ints: (value: number[]): OnnxAttribute => ({ kind: 'ints', value }),
  float: (value: number): OnnxAttribute => ({ kind: 'float', value }),
  floats: (value: number[]): OnnxAttribute => ({ kind: 'floats', value }),
  string: (value: string): OnnxAttribute => ({ kind: 'string', value }),
};

/** A graph input or output: a name and a shape whose entries are sizes or symbolic names. */
export interface OnnxValueInfo {
  name: string;
  /** Absent: the rank is not known (an extra output of whatever shape the tensor has). */
  shape?: Array<number | string>;
  /** Element type (default float32). */
  elemType?: OnnxElemType;
}

export type OnnxElemType = 'float32' | 'int64' | 'int32' | 'int8' | 'uint8';

const ELEM_TYPES: Record<OnnxElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
};

export const ONNX_OPSET = 13;

export type TensorProto = InstanceType<typeof onnx.TensorProto>;
export type NodeProto = InstanceType<typeof onnx.NodeProto>;
export type ModelProto = InstanceType<typeof onnx.ModelProto>;

// What decoding gives: protobufjs fills every repeated and scalar field of a decoded message
// (empty arrays, '' strings), though its typings leave them all optional.
export interface DecodedNode {
  name: string;
  opType: string;
  domain: string;
  input: string[];
  output: string[];
}
export interface DecodedTensor {
  name: string;
  /** int64: numbers, or Longs when long.js is installed. */
  dims: Array<number | { toNumber(): number }>;
  dataType: number;
  rawData: Uint8Array;
  floatData: number[];
}
export interface DecodedGraph {
  node: DecodedNode[];
  initializer: DecodedTensor[];
  input: Array<{ name: string }>;
  output: Array<{ name: string }>;
}
export interface DecodedModel {
  proto: ModelProto;
  graph: DecodedGraph;
}

export function dimsOf(t: DecodedTensor): number[] {
  return t.dims.map((d) => (typeof d === 'number' ? d : d.toNumber()));
}

/** An initializer from raw little-endian bytes (copied into a fresh, aligned buffer). */
export function tensorProto(name: string, dims: number[], elemType: OnnxElemType, data: ArrayBufferView): TensorProto {
  const raw = new Uint8Array(data.byteLength);
  raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return onnx.TensorProto.create({ name, dims, dataType: ELEM_TYPES[elemType], rawData: raw });
}

/** A float32 initializer's values, whether the exporter stored them as raw bytes or as float_data. */
export function floatTensorValues(t: DecodedTensor): Float32Array | undefined {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  if (t.rawData.length > 0) {
    // A copy, not slice(): on a Node Buffer slice() is a view into the whole decoded file.
    const bytes = new Uint8Array(t.rawData.length);
    bytes.set(t.rawData);
    return new Float32Array(bytes.buffer);
  }
  return Float32Array.from(t.floatData);
}

export function decodeModel(bytes: Uint8Array): DecodedModel {
  const proto = onnx.ModelProto.decode(bytes);
  if (!proto.graph) throw new Error('the ONNX model has no graph');
  return { proto, graph: proto.graph as unknown as DecodedGraph };
}

/** A decoded model with the lookups graph rewrites need. */
export interface GraphIndex {
  model: DecodedModel;
  initializers: Map<string, DecodedTensor>;
  /** Consumers of each tensor, in graph order, each node once. */
  consumers: Map<string, DecodedNode[]>;
  /** The node that computes each tensor. */
  producers: Map<string, DecodedNode>;
  outputs: Set<string>;
}

export function indexGraph(onnx: Uint8Array): GraphIndex {
  const model = decodeModel(onnx);
  const graph = model.graph;
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const consumers = new Map<string, DecodedNode[]>();
  const producers = new Map<string, DecodedNode>();
  for (const node of graph.node) {
    for (const input of node.input) {
      if (!input) continue;
      const list = consumers.get(input) ?? [];
      if (!list.includes(node)) list.push(node);
      consumers.set(input, list);
    }
    for (const output of node.output) producers.set(output, node);
  }
  return { model, initializers, consumers, producers, outputs: new Set(graph.output.map((o) => o.name)) };
}

export function encodeModel(model: DecodedModel): Uint8Array {
  return onnx.ModelProto.encode(model.proto).finish();
}

export function nodeProto(opType: string, inputs: string[], outputs: string[], name: string, attributes: Record<string, OnnxAttribute> = {}): NodeProto {
  return onnx.NodeProto.create({ opType, name, input: inputs, output: outputs, attribute: Object.entries(attributes).map(([key, a]) => toAttributeProto(key, a)) });
}

export class OnnxGraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly usedNames = new Set<string>();

  /** A fresh tensor name derived from `base`, never handed out before. */
  name(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_');
    let candidate = clean;
    for (let i = 1; this.usedNames.has(candidate); i++) candidate = `${clean}__${i}`;
    this.usedNames.add(candidate);
    return candidate;
  }

  /** Reserves a name that comes from outside (a graph input), so later names never clash with it. */
  reserve(name: string): string {
    this.usedNames.add(name);
    return name;
  }

  floatTensor(base: string, dims: number[], data: Float32Array): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(`initializer ${base}: ${data.length} values for shape [${dims.join(', ')}]`);
    }
    const name = this.name(base);
    // Copy into a fresh, aligned buffer: the source may be a view into a larger weights file.
    const raw = new Uint8Array(new Float32Array(data).buffer);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw }));
    return name;
  }

  int64Tensor(base: string, values: number[]): string {
    const name = this.name(base);
    const raw = new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: raw }));
    return name;
  }

  /** An initializer of any element type, from a typed array of matching width. */
  tensor(base: string, dims: number[], elemType: OnnxElemType, data: ArrayBufferView): string {
    const name = this.name(base);
    this.initializers.push(tensorProto(name, dims, elemType, data));
    return name;
  }

  /** Adds a node and returns the names of its outputs (fresh names derived from `outputBase`). */
  node(opType: string, inputs: string[], outputBase: string, attributes: Record<string, OnnxAttribute> = {}, outputCount = 1): string[] {
    const outputs = Array.from({ length: outputCount }, (_, i) => this.name(outputCount === 1 ? outputBase : `${outputBase}:${i}`));
    this.nodes.push(onnx.NodeProto.create({
      opType,
      name: this.name(`${outputBase}/${opType}`),
      input: inputs,
      output: outputs,
      attribute: Object.entries(attributes).map(([key, a]) => toAttributeProto(key, a)),
    }));
    return outputs;
  }

  /** Convenience for single-output nodes. */
  op(opType: string, inputs: string[], outputBase: string, attributes: Record<string, OnnxAttribute> = {}): string {
    return this.node(opType, inputs, outputBase, attributes)[0];
  }

  /** Renames a computed tensor to a public output name with an Identity node. */
  expose(tensor: string, publicName: string): string {
    if (this.usedNames.has(publicName)) throw new Error(`ONNX output name "${publicName}" is already taken by another tensor`);
    this.usedNames.add(publicName);
    this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', name: this.name(`${publicName}/Identity`), input: [tensor], output: [publicName] }));
    return publicName;
  }

  encode(opts: { graphName: string; inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[]; producer?: string; docString?: string }): Uint8Array {
    const graph = onnx.GraphProto.create({
      name: opts.graphName,
      node: this.nodes,
      initializer: this.initializers,
      input: opts.inputs.map(valueInfo),
      output: opts.outputs.map(valueInfo),
    });
    const model = onnx.ModelProto.create({
      irVersion: 7,
      producerName: opts.producer ?? 'sightline-convert',
      producerVersion: '1',
      docString: opts.docString ?? '',
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: ONNX_OPSET })],
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

export function valueInfo(v: OnnxValueInfo) {
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: ELEM_TYPES[v.elemType ?? 'float32'],
        shape: v.shape && onnx.TensorShapeProto.create({
          dim: v.shape.map((d) => (typeof d === 'number' && d >= 0
            ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
            : onnx.TensorShapeProto.Dimension.create({ dimParam: String(d) }))),
        }),
      }),
    }),
  });
}

function toAttributeProto(name: string, a: OnnxAttribute) {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int': return onnx.AttributeProto.create({ name, type: T.INT, i: a.value });
    case 'ints': return onnx.AttributeProto.create({ name, type: T.INTS, ints: a.value });
    case 'float': return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.value });
    case 'floats': return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: a.value });
    case 'string': return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(a.value) });
  }
}
