// Parity of the TF.js graph-model converter against TF.js itself (pure-JS CPU backend) running
// the same graph: nsfwjs's mobilenet_v2_mid on real photos at non-square sizes, and a small
// handcrafted graph for the ops that model does not use.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { NORMALISATIONS } from '../../app/convert/convertedModel.js';
import { NSFWJS_INPUT_SCALE, nsfwjsPackageInfo, readNsfwjsArtifacts, readNsfwjsModel } from '../../app/convert/nsfwjsWeights.js';
import {
  convertGraphModel, decodeWeightGroups, findInputNormalisation, listGraphNodes, readGraphModel,
  type GraphModelSource, type TfjsGraphNode, type TfjsModelJson, type TfjsWeightSpec,
} from '../../app/convert/tfjsGraphToOnnx.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const EIFFEL = path.join(DATA, 'paris6k-mini/images/eiffel_tower/paris_eiffel_000000.jpg');
const LOUVRE = path.join(DATA, 'paris6k-mini/images/louvre/paris_louvre_000004.jpg');
const PREFIX = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/';

// Bounds measured on this machine plus headroom; TF.js and ORT differ only in float32
// summation order (max measured: 1.4e-5 on expand_11 activations of range 0–6, 1.5e-8 on softmax).
const FEATURE_TOLERANCE = 2e-4;
const SOFTMAX_TOLERANCE = 1e-5;
const TINY_TOLERANCE = 1e-5;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** TF.js insists on the Placeholder's declared [-1, 224, 224, 3]; the ONNX graph takes any size, so relax it for the reference too. */
async function loadTfjs(modelJson: TfjsModelJson, weightData: Uint8Array): Promise<tf.GraphModel> {
  const topology = structuredClone(modelJson.modelTopology);
  for (const node of topology.node ?? []) {
    if (node.op === 'Placeholder') node.attr!.shape = { shape: { dim: [{ size: '-1' }, { size: '-1' }, { size: '-1' }, { size: '3' }] } };
  }
  const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  const buffer = weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength) as ArrayBuffer;
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs, weightData: buffer, format: 'graph-model' }));
}

async function photo(file: string, width: number, height: number): Promise<Uint8Array> {
  return sharp(file).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
}

function toNchw(rgb: Uint8Array, width: number, height: number, map: (v: number, c: number) => number): Float32Array {
  const out = new Float32Array(3 * width * height);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) out[c * width * height + i] = map(rgb[i * 3 + c], c);
  return out;
}

async function runOnnx(bytes: Uint8Array, input: Float32Array, width: number, height: number): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ image: new ort.Tensor('float32', input, [1, 3, height, width]) });
    return out.features;
  } finally {
    await session.release();
  }
}

/** Runs a TF.js graph node on an NHWC input and returns its value transposed to NCHW when rank 4. */
async function runTfjs(model: tf.GraphModel, nhwc: Float32Array, width: number, height: number, node?: string): Promise<{ shape: number[]; data: Float32Array }> {
  const x = tf.tensor4d(nhwc, [1, height, width, 3]);
  const y = (node ? model.execute(x, node) : model.execute(x)) as tf.Tensor;
  const out = y.rank === 4 ? tf.transpose(y, [0, 3, 1, 2]) : y;
  const result = { shape: out.shape, data: (await out.data()) as Float32Array };
  tf.dispose([x, y, out]);
  return result;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('mobilenet_v2_mid from nsfwjs', () => {
  let src: GraphModelSource;
  let model: tf.GraphModel;

  beforeAll(async () => {
    src = await readNsfwjsModel('mobilenet_v2_mid');
    const raw = readNsfwjsArtifacts('mobilenet_v2_mid');
    // The reference gets the still-quantised bytes, so TF.js dequantises them itself.
    model = await loadTfjs(raw.modelJson, raw.groupData[0]);
  });

  afterAll(() => model?.dispose());

  it('records the package metadata and the graph normalisation (x·2 − 1 on x/255 input)', () => {
    expect(nsfwjsPackageInfo()).toMatchObject({ version: '4.4.0', license: 'MIT' });
    const norm = findInputNormalisation(src);
    expect(norm.nodes.map((n) => n.replace(PREFIX, ''))).toEqual(['hub_input/Mul', 'hub_input/Sub']);
    expect(norm.scale).toEqual([2, 2, 2]);
    expect(norm.offset).toEqual([-1, -1, -1]);
    expect(norm.normalisation).toEqual(NORMALISATIONS.minusOneToOne);
  });

  it('matches TF.js on expanded_conv_11/expand/Relu6 at 320×240 with the normalisation skipped', async () => {
    const [width, height] = [320, 240];
    const converted = convertGraphModel(src, { outputNode: 'MobilenetV2/expanded_conv_11/expand/Relu6', skipInputNormalisation: true });
    expect(converted.featureLayer).toBe(`${PREFIX}MobilenetV2/expanded_conv_11/expand/Relu6`);
    expect(converted).toMatchObject({ inputName: 'image', outputName: 'features', channels: 816, stride: 16 });
    expect(converted.inputNormalisation).toEqual(NORMALISATIONS.minusOneToOne);

    const rgb = await photo(EIFFEL, width, height);
    const { mean, std } = converted.inputNormalisation;
    const onnx = await runOnnx(converted.onnx, toNchw(rgb, width, height, (v, c) => (v - mean[c]) / std[c]), width, height);
    const reference = await runTfjs(model, Float32Array.from(rgb, (v) => v * NSFWJS_INPUT_SCALE), width, height, converted.featureLayer);

    expect(onnx.dims).toEqual([1, 816, 15, 20]);
    expect(reference.shape).toEqual([1, 816, 15, 20]);
    const diff = maxAbsDiff(onnx.data as Float32Array, reference.data);
    expect(reference.data.reduce((m, v) => Math.max(m, v), 0)).toBeGreaterThan(1); // a live activation, not all zeros
    expect(diff).toBeLessThan(FEATURE_TOLERANCE);
  });

  it('matches TF.js on the final softmax at 224×200 with the normalisation kept in-graph (0–255 input)', async () => {
    // AvgPool is a fixed 7×7 VALID window followed by a squeeze of H and W, so the classifier
    // head only runs where the last map is 7×7: inputs of 193–224 px per side.
    const [width, height] = [224, 200];
    const converted = convertGraphModel(src, { skipInputNormalisation: false });
    expect(converted.featureLayer).toBe('Identity');
    expect(converted).toMatchObject({ channels: 5, stride: 1 });
    expect(converted.inputNormalisation).toEqual({ mean: [0, 0, 0], std: [1, 1, 1] });

    const rgb = await photo(LOUVRE, width, height);
    const onnx = await runOnnx(converted.onnx, toNchw(rgb, width, height, (v) => v), width, height);
    const reference = await runTfjs(model, Float32Array.from(rgb, (v) => v * NSFWJS_INPUT_SCALE), width, height);

    expect(onnx.dims).toEqual([1, 5]);
    expect(maxAbsDiff(onnx.data as Float32Array, reference.data)).toBeLessThan(SOFTMAX_TOLERANCE);
  });

  it('maps conventional layer names onto the fused nodes', () => {
    const layer = (outputNode: string) => convertGraphModel(src, { outputNode }).featureLayer.replace(PREFIX, '');
    expect(layer('MobilenetV2/expanded_conv_11/depthwise/Relu6')).toBe('MobilenetV2/expanded_conv_11/depthwise/depthwise');
    expect(layer('MobilenetV2/expanded_conv_11/project')).toBe('MobilenetV2/expanded_conv_11/project/BatchNorm/FusedBatchNormV3');
    expect(layer('Conv_1/Relu6:0')).toBe('MobilenetV2/Conv_1/Relu6');
    expect(() => convertGraphModel(src, { outputNode: 'MobilenetV2/expanded_conv_11' })).toThrow(/not found.*scope holds/);
    expect(() => convertGraphModel(src, { outputNode: 'hub_input/Mul' })).toThrow(/inside the skipped input normalisation/);
    expect(listGraphNodes(src)).toHaveLength(70);
  });

  it('prunes what the chosen output does not need', () => {
    const full = convertGraphModel(src).onnx.length;
    const cut = convertGraphModel(src, { outputNode: 'expanded_conv_11/expand/Relu6' }).onnx.length;
    // Blocks 12–16 and Conv_1 hold most of the weights.
    expect(cut).toBeLessThan(full / 4);
  });

  it('refuses the nsfwjs layers-models with a clear error', async () => {
    await expect(readNsfwjsModel('mobilenet_v2').then((s) => convertGraphModel(s))).rejects.toThrow(/not a TF.js graph model \(format: layers-model\)/);
  });
});

// ---------------------------------------------------------------------------------------------
// A handcrafted graph covering the remaining supported ops.

const enc = (s: string) => Buffer.from(s).toString('base64');
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
const float = { type: 'DT_FLOAT' };

class GraphSketch {
  readonly nodes: TfjsGraphNode[] = [{ name: 'input', op: 'Placeholder', attr: { dtype: float, shape: { shape: { dim: [{ size: '-1' }, { size: '-1' }, { size: '-1' }, { size: '3' }] } } } }];
  readonly specs: TfjsWeightSpec[] = [];
  private readonly chunks: Uint8Array[] = [];
  private seed = 1;

  private random(): number {
    this.seed = (this.seed * 16807) % 2147483647;
    return this.seed / 2147483647 - 0.5;
  }

  constFloat(name: string, shape: number[], scale = 1, values?: number[]): string {
    const data = Float32Array.from(values ?? Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => this.random() * scale));
    return this.addConst(name, shape, 'float32', new Uint8Array(data.buffer));
  }

  constInt(name: string, shape: number[], values: number[]): string {
    return this.addConst(name, shape, 'int32', new Uint8Array(Int32Array.from(values).buffer));
  }

  private addConst(name: string, shape: number[], dtype: string, bytes: Uint8Array): string {
    this.specs.push({ name, shape, dtype });
    this.chunks.push(bytes);
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: shape.map((size) => ({ size: String(size) })) } } } } });
    return name;
  }

  op(name: string, op: string, input: string[], attrs: TfjsGraphNode['attr'] = {}): string {
    this.nodes.push({ name, op, input, attr: { T: float, ...attrs } });
    return name;
  }

  get modelJson(): TfjsModelJson {
    return { format: 'graph-model', modelTopology: { node: this.nodes, versions: { producer: 1 } }, weightsManifest: [{ paths: ['shard1', 'shard2'], weights: this.specs }] };
  }

  get weightData(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }
}

function tinyGraph(): GraphSketch {
  const s = new GraphSketch();
  const conv = (padding: string) => ({ strides: ints(1, 1, 1, 1), dilations: ints(1, 1, 1, 1), padding: { s: enc(padding) }, data_format: { s: enc('NHWC') } });
  s.op('norm/Mul', 'Mul', ['input', s.constFloat('norm/scale', [3], 1, [1 / 50, 1 / 60, 1 / 70])]);
  s.op('norm/Sub', 'Sub', ['norm/Mul', s.constFloat('norm/offset', [], 1, [2])]);
  s.op('conv1/Conv2D', 'Conv2D', ['norm/Sub', s.constFloat('conv1/w', [3, 3, 3, 4])], { ...conv('VALID'), dilations: ints(1, 2, 2, 1) });
  s.op('conv1/BiasAdd', 'BiasAdd', ['conv1/Conv2D', s.constFloat('conv1/b', [4])], { data_format: { s: enc('NHWC') } });
  s.op('conv1/Relu', 'Relu', ['conv1/BiasAdd']);
  s.op('pool1', 'MaxPool', ['conv1/Relu'], { ksize: ints(1, 3, 3, 1), strides: ints(1, 2, 2, 1), padding: { s: enc('SAME') }, data_format: { s: enc('NHWC') } });
  s.op('dw', 'FusedDepthwiseConv2dNative', ['pool1', s.constFloat('dw/w', [3, 3, 4, 2]), s.constFloat('dw/b', [8])], {
    ...conv('SAME'), strides: ints(1, 2, 2, 1), num_args: { i: '1' }, fused_ops: { list: { s: [enc('BiasAdd'), enc('Relu6')] } },
  });
  s.op('conv2', '_FusedConv2D', ['pool1', s.constFloat('conv2/w', [1, 1, 4, 8]), s.constFloat('conv2/b', [8])], {
    ...conv('EXPLICIT'), strides: ints(1, 2, 2, 1), explicit_paddings: ints(0, 0, 1, 0, 0, 1, 0, 0),
    num_args: { i: '1' }, fused_ops: { list: { s: [enc('BiasAdd'), enc('LeakyRelu')] } }, leakyrelu_alpha: { f: 0.1 },
  });
  s.op('cat', 'ConcatV2', ['dw', 'conv2', s.constInt('cat/axis', [], [-1])], { N: { i: '2' } });
  s.op('avg', 'AvgPool', ['cat'], { ksize: ints(1, 2, 2, 1), strides: ints(1, 1, 1, 1), padding: { s: enc('SAME') }, data_format: { s: enc('NHWC') } });
  s.op('pad', 'Pad', ['avg', s.constInt('pad/paddings', [4, 2], [0, 0, 1, 0, 0, 2, 0, 0])]);
  s.op('shift', 'AddV2', ['pad', s.constFloat('shift/c', [16])]);
  s.op('gap', 'Mean', ['shift', s.constInt('gap/axes', [2], [1, 2])], { keep_dims: { b: false } });
  s.op('fc', '_FusedMatMul', ['gap', s.constFloat('fc/w', [16, 5], 4), s.constFloat('fc/b', [5])], {
    transpose_a: { b: false }, transpose_b: { b: false }, num_args: { i: '1' }, fused_ops: { list: { s: [enc('BiasAdd'), enc('Relu')] } },
  });
  s.op('prob', 'Softmax', ['fc']);
  return s;
}

describe('handcrafted graph', () => {
  // 13×17 keeps every map odd-sized, where the EXPLICIT-padded branch lines up with the SAME one.
  const [width, height] = [17, 13];
  const sketch = tinyGraph();
  const src: GraphModelSource = { modelJson: sketch.modelJson, weights: decodeWeightGroups(sketch.modelJson.weightsManifest, [sketch.weightData]) };
  const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + 11) % 256);

  it('finds a per-channel normalisation and matches TF.js at an intermediate node and the softmax', async () => {
    const norm = findInputNormalisation(src);
    expect(norm.nodes).toEqual(['norm/Mul', 'norm/Sub']);
    // float32 constants: 1/60 is not exact, so neither is the recovered std.
    [100, 120, 140].forEach((m, c) => expect(norm.normalisation.mean[c]).toBeCloseTo(m, 4));
    [50, 60, 70].forEach((d, c) => expect(norm.normalisation.std[c]).toBeCloseTo(d, 4));

    const model = await loadTfjs(sketch.modelJson, sketch.weightData);
    try {
      for (const [outputNode, skip, channels, stride] of [['cat', true, 16, 4], ['prob', false, 5, 1]] as const) {
        const converted = convertGraphModel(src, { outputNode, skipInputNormalisation: skip });
        expect(converted).toMatchObject({ channels, stride });
        const { mean, std } = converted.inputNormalisation;
        const onnx = await runOnnx(converted.onnx, toNchw(rgb, width, height, (v, c) => (v - mean[c]) / std[c]), width, height);
        const reference = await runTfjs(model, Float32Array.from(rgb), width, height, outputNode);
        expect(onnx.dims).toEqual(reference.shape);
        expect(maxAbsDiff(onnx.data as Float32Array, reference.data)).toBeLessThan(TINY_TOLERANCE);
      }
    } finally {
      model.dispose();
    }
  });

  it('reads the standard model.json + binary shards layout', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tfjs-graph-'));
    try {
      const data = sketch.weightData;
      // Split mid-tensor: shards are byte ranges of one stream, not tensor boundaries.
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(sketch.modelJson));
      await writeFile(path.join(dir, 'shard1'), data.subarray(0, 101));
      await writeFile(path.join(dir, 'shard2'), data.subarray(101));
      const read = await readGraphModel(dir);
      expect([...read.weights.keys()]).toEqual([...src.weights.keys()]);
      for (const [name, values] of src.weights) expect(read.weights.get(name)).toEqual(values);

      await writeFile(path.join(dir, 'shard2'), data.subarray(101, data.length - 4));
      await expect(readGraphModel(dir)).rejects.toThrow(/1388 bytes, but its 14 tensors need 1392/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps a TF node literally named "features" apart from the ONNX output', async () => {
    const s = new GraphSketch();
    s.op('features', 'Relu6', ['input']);
    const plain: GraphModelSource = { modelJson: s.modelJson, weights: new Map() };
    const converted = convertGraphModel(plain, { skipInputNormalisation: false });
    const input = Float32Array.from({ length: 3 * 2 * 2 }, (_, i) => i - 4);
    const out = await runOnnx(converted.onnx, input, 2, 2);
    expect(Array.from(out.data as Float32Array)).toEqual(Array.from(input, (v) => Math.min(6, Math.max(0, v))));
  });

  it('rejects an unsupported op, naming op and node', () => {
    const s = new GraphSketch();
    s.op('weird/node', 'Cumsum', ['input', s.constInt('weird/axis', [], [3])]);
    const bad: GraphModelSource = { modelJson: s.modelJson, weights: decodeWeightGroups(s.modelJson.weightsManifest, [s.weightData]) };
    expect(() => convertGraphModel(bad, { skipInputNormalisation: false })).toThrow('unsupported TF.js op Cumsum at node weird/node');
  });
});

describe('weight dequantisation', () => {
  it('agrees with tfjs-core for uint8, uint16, float16 and quantised int32', () => {
    const specs: TfjsWeightSpec[] = [
      { name: 'u8', shape: [7], dtype: 'float32', quantization: { dtype: 'uint8', min: -1.25, scale: 0.013 } },
      { name: 'u16', shape: [2, 3], dtype: 'float32', quantization: { dtype: 'uint16', min: -0.5, scale: 1.7e-5 } },
      { name: 'f16', shape: [5], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'i32', shape: [3], dtype: 'int32', quantization: { dtype: 'uint8', min: -3, scale: 0.5 } },
      { name: 'plain', shape: [2], dtype: 'float32' },
    ];
    const bytes = new Uint8Array(7 + 12 + 10 + 3 + 8);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 73 + 5) % 256;
    // Keep the float16 exponents below 31 so no value decodes to Inf/NaN.
    for (let i = 19; i < 29; i += 2) bytes[i + 1] &= 0xbb;
    const ours = decodeWeightGroups([{ paths: ['x'], weights: specs }], [bytes]);
    const theirs = tf.io.decodeWeights(bytes.slice().buffer, specs as tf.io.WeightsManifestEntry[]);
    for (const spec of specs) expect(Array.from(ours.get(spec.name)!)).toEqual(Array.from(theirs[spec.name].dataSync()));
    tf.dispose(Object.values(theirs));
  });
});
