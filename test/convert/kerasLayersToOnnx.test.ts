// The Keras-layers converter is checked against TF.js itself (pure-JS CPU backend) as the
// reference implementation: the real pretrained models on real photos, and small hand-built
// models for the layer semantics that are easy to get subtly wrong (TF 'same' padding, NHWC
// reshapes, BN folding, ...).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import {
  UnsupportedLayerError, convertLayersModel, decodeWeights, defaultFeatureLayer, listLayerNames, readLayersModel,
  type LayersModelSource, type WeightSpec,
} from '../../app/convert/kerasLayersToOnnx.js';
import type { ConvertedModel } from '../../app/convert/convertedModel.js';

const WEIGHTS = new URL('../../../shared/weights/', import.meta.url);
const DATA = new URL('../../../shared/data/', import.meta.url);
const COFFEE = fileURLToPath(new URL('scenes/skimage/coffee.png', DATA));
const EAGLE = fileURLToPath(new URL('scenes/darknet/eagle.jpg', DATA));
const modelDir = (name: string) => fileURLToPath(new URL(`${name}/`, WEIGHTS));

// Max |onnx − tfjs| must stay below this fraction of max |tfjs output|. Measured on this machine:
// at most 2e-4 (MobileNetV1's conv_pw_13_relu, where a BN scale of 48 in conv_dw_13 magnifies
// float summation-order differences; the mean difference there is 3e-6), 1e-5 or less elsewhere.
// A layout, padding or folding mistake gives errors of order 1e-1 and more.
const PARITY_REL_TOL = 1e-3;

type Norm = (v: number) => number;
const minusOneToOne: Norm = (v) => v / 127.5 - 1;
const zeroToOne: Norm = (v) => v / 255;

interface Image { hwc: Float32Array; h: number; w: number }

/** Squashes the whole photo to w×h with nearest-neighbour sampling, like Keras's load_img(target_size). */
async function loadPhoto(file: string, w: number, h: number, norm: Norm): Promise<Image> {
  const raw = await sharp(file).removeAlpha().toColourspace('srgb').resize(w, h, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer();
  expect(raw.length).toBe(w * h * 3);
  return { hwc: Float32Array.from(raw, norm), h, w };
}

function hwcToNchw(img: Image, channels = 3): Float32Array {
  const out = new Float32Array(img.hwc.length);
  const plane = img.h * img.w;
  for (let i = 0; i < plane; i++) for (let c = 0; c < channels; c++) out[c * plane + i] = img.hwc[i * channels + c];
  return out;
}

async function runOnnx(model: ConvertedModel, img: Image, channels = 3): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(model.onnx);
  const out = await session.run({ [model.inputName]: new ort.Tensor('float32', hwcToNchw(img, channels), [1, channels, img.h, img.w]) });
  return out[model.outputName];
}

/** Runs a TF.js model and returns its output in the converter's layout (NCHW for 4-D). */
function runTf(model: tf.LayersModel, img: Image, channels = 3): { data: Float32Array; shape: number[] } {
  return tf.tidy(() => {
    let y = model.predict(tf.tensor4d(img.hwc, [1, img.h, img.w, channels])) as tf.Tensor;
    if (y.rank === 4) y = y.transpose([0, 3, 1, 2]);
    return { data: y.dataSync() as Float32Array, shape: y.shape };
  });
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Compares converter output with TF.js, returning the measured max abs difference. */
async function expectParity(converted: ConvertedModel, reference: tf.LayersModel, img: Image, channels = 3): Promise<number> {
  const ours = await runOnnx(converted, img, channels);
  const ref = runTf(reference, img, channels);
  expect(ours.dims).toEqual(ref.shape);
  const diff = maxAbsDiff(ours.data as Float32Array, ref.data);
  expect(diff).toBeLessThanOrEqual(PARITY_REL_TOL * maxAbs(ref.data));
  return diff;
}

/** Class indices, best first. */
function ranking(t: ort.Tensor): number[] {
  const d = t.data as Float32Array;
  return [...d.keys()].sort((a, b) => d[b] - d[a]);
}

// The Keras MobileNet outputs follow Keras's imagenet_class_index.json (classes sorted by WordNet
// id), not darknet's order, so the darknet name list cannot name them; these are the entries used.
const KERAS_IMAGENET: Record<number, string> = { 22: 'bald eagle', 139: 'ruddy turnstone', 967: 'espresso' };

// --- TF.js reference models ------------------------------------------------------------------

type Json = Record<string, unknown>;

/** Loads a shared model in TF.js with every input layer made size-agnostic, as the README says. */
async function loadTfModel(name: string): Promise<tf.LayersModel> {
  const dir = modelDir(name);
  const json = JSON.parse(readFileSync(`${dir}model.json`, 'utf8')) as Json & { weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
  const topology = json.modelTopology as Json;
  const unfix = (layers: Json[]) => {
    for (const l of layers) {
      const config = l.config as Json;
      if (l.class_name === 'InputLayer') config.batch_input_shape = [null, null, null, 3];
      if (Array.isArray(config.layers)) unfix(config.layers as Json[]);
    }
  };
  unfix((((topology.model_config ?? topology) as Json).config as Json).layers as Json[]);
  const shards = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(`${dir}${p}`)));
  const data = Buffer.concat(shards);
  return tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: topology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
  }));
}

function subModel(model: tf.LayersModel, layer: string): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor });
}

/** Saves a TF.js model the way model.save() would write it and wraps it as converter input. */
async function toSource(model: tf.LayersModel): Promise<LayersModelSource> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const specs = artifacts!.weightSpecs as WeightSpec[];
  const parts = [artifacts!.weightData ?? []].flat() as ArrayBuffer[];
  const bytes = Buffer.concat(parts.map((p) => new Uint8Array(p)));
  return {
    modelJson: { modelTopology: artifacts!.modelTopology, weightsManifest: [{ paths: [], weights: specs }] },
    weights: decodeWeights(specs, bytes),
  };
}

/** Replaces every weight with seeded random values so BN statistics and biases are non-trivial. */
function randomiseWeights(model: tf.LayersModel, seed: number): void {
  model.setWeights(model.weights.map((w, i) => {
    const positive = /moving_variance|gamma/.test(w.originalName ?? w.name);
    const shape = w.shape as number[];
    return positive ? tf.randomUniform(shape, 0.5, 1.5, 'float32', seed + i) : tf.randomUniform(shape, -0.5, 0.5, 'float32', seed + i);
  }));
}

function randomImage(h: number, w: number, channels: number, seed: number): Image {
  return { hwc: tf.randomUniform([h * w * channels], -1, 1, 'float32', seed).dataSync() as Float32Array, h, w };
}

const sym = (layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(input) as tf.SymbolicTensor;

// --- real models -----------------------------------------------------------------------------

describe('convertLayersModel on the shared pretrained models', () => {
  let classNames: string[];
  beforeAll(() => {
    classNames = readFileSync(fileURLToPath(new URL('scenes/darknet/imagenet.shortnames.list', DATA)), 'utf8').split('\n').slice(0, 1000);
  });

  it('MobileNetV1-0.25 matches TF.js (classifier at 224, feature map at 256×192) and classifies photos', async () => {
    const src = await readLayersModel(modelDir('mobilenet-v1-0.25-imagenet'));
    const tfModel = await loadTfModel('mobilenet-v1-0.25-imagenet');

    const classifier = convertLayersModel(src);
    expect(classifier).toMatchObject({ featureLayer: 'reshape_2', channels: 1000, stride: 1 });
    const coffee = await loadPhoto(COFFEE, 224, 224, minusOneToOne);
    const d1 = await expectParity(classifier, tfModel, coffee);

    const features = convertLayersModel(src, { outputLayer: 'conv_pw_13_relu' });
    expect(features).toMatchObject({ channels: 256, stride: 32 });
    const eagleWide = await loadPhoto(EAGLE, 256, 192, minusOneToOne);
    const d2 = await expectParity(features, subModel(tfModel, 'conv_pw_13_relu'), eagleWide);
    console.info(`mobilenet-v1-0.25 max |diff|: classifier ${d1.toExponential(2)}, conv_pw_13_relu ${d2.toExponential(2)}`);

    // 1000 outputs (no background class) in Keras order.
    expect(KERAS_IMAGENET[ranking(await runOnnx(classifier, coffee))[0]]).toBe('espresso');
    // This 0.25-width network takes the juvenile eagle on a beach for a shorebird, and TF.js
    // agrees (parity above): 'bald eagle' is its third guess, whatever the resize kernel or crop.
    const eagleRanks = ranking(await runOnnx(classifier, await loadPhoto(EAGLE, 224, 224, minusOneToOne)));
    expect(KERAS_IMAGENET[eagleRanks[0]]).toBe('ruddy turnstone');
    expect(eagleRanks.slice(0, 3).map((i) => KERAS_IMAGENET[i])).toContain('bald eagle');
  });

  it('Darknet-tiny matches TF.js (classifier at 224, feature map at 200×160) and classifies photos', async () => {
    const src = await readLayersModel(modelDir('darknet-tiny-imagenet'));
    const tfModel = await loadTfModel('darknet-tiny-imagenet');

    const classifier = convertLayersModel(src);
    expect(classifier).toMatchObject({ featureLayer: 'global_average_pooling2d_1', channels: 1000, stride: 1 });
    const eagle = await loadPhoto(EAGLE, 224, 224, zeroToOne);
    const d1 = await expectParity(classifier, tfModel, eagle);

    const features = convertLayersModel(src, { outputLayer: 'leaky_re_lu_15' });
    expect(features).toMatchObject({ channels: 128, stride: 16 });
    const d2 = await expectParity(features, subModel(tfModel, 'leaky_re_lu_15'), await loadPhoto(COFFEE, 200, 160, zeroToOne));
    console.info(`darknet-tiny max |diff|: classifier ${d1.toExponential(2)}, leaky_re_lu_15 ${d2.toExponential(2)}`);

    expect(classNames[ranking(await runOnnx(classifier, eagle))[0]]).toBe('bald eagle');
    expect(classNames[ranking(await runOnnx(classifier, await loadPhoto(COFFEE, 224, 224, zeroToOne)))[0]]).toBe('espresso');
  });

  it('MobileNetV2-0.35 (model nested in two Sequentials) matches TF.js at out_relu and at the head, 320×240', async () => {
    const src = await readLayersModel(modelDir('mobilenet-v2-0.35-keras'));
    const tfModel = await loadTfModel('mobilenet-v2-0.35-keras');
    const backbone = ((tfModel.layers[0] as tf.Sequential).layers[0]) as tf.LayersModel;
    expect(backbone.name).toBe('model3');

    const features = convertLayersModel(src, { outputLayer: 'out_relu' });
    expect(features).toMatchObject({ featureLayer: 'out_relu', channels: 1280, stride: 32 });
    const coffee = await loadPhoto(COFFEE, 320, 240, minusOneToOne);
    const d1 = await expectParity(features, backbone, coffee);
    // Keras's explicit ZeroPadding2D + 'valid' stride-2 blocks floor odd sizes: 240 → 7, not 8.
    expect((await runOnnx(features, coffee)).dims).toEqual([1, 1280, 7, 10]);

    const head = convertLayersModel(src);
    expect(head).toMatchObject({ featureLayer: 'dense_Dense6', channels: 2, stride: 1 });
    const d2 = await expectParity(head, tfModel, await loadPhoto(EAGLE, 320, 240, minusOneToOne));
    console.info(`mobilenet-v2-0.35 max |diff|: out_relu ${d1.toExponential(2)}, head ${d2.toExponential(2)}`);

    // A nested model's name selects its output.
    expect(convertLayersModel(src, { outputLayer: 'model3' }).channels).toBe(1280);
  });

  it('picks the last image-sized activation as the default feature layer', async () => {
    const v2 = await readLayersModel(modelDir('mobilenet-v2-0.35-keras'));
    expect(defaultFeatureLayer(v2)).toBe('out_relu');
    expect(defaultFeatureLayer(await readLayersModel(modelDir('mobilenet-v1-0.25-imagenet')))).toBe('conv_pw_13_relu');
    // Darknet's last conv is the 1000-class score map; the features are the layer before it.
    expect(defaultFeatureLayer(await readLayersModel(modelDir('darknet-tiny-imagenet')))).toBe('leaky_re_lu_15');
  });

  it('matches weights whether or not their names carry the nested model prefix, and names a missing one', async () => {
    const src = await readLayersModel(modelDir('mobilenet-v2-0.35-keras'));
    const plain = convertLayersModel(src, { outputLayer: 'block_2_add' });
    const prefixed = new Map([...src.weights].map(([k, v]) => [`sequential_9/model3/${k}`, v]));
    const renamed = convertLayersModel({ modelJson: src.modelJson, weights: prefixed }, { outputLayer: 'block_2_add' });
    expect(Buffer.from(renamed.onnx).equals(Buffer.from(plain.onnx))).toBe(true);

    const missing = new Map(src.weights);
    missing.delete('Conv1/kernel');
    expect(() => convertLayersModel({ modelJson: src.modelJson, weights: missing }, { outputLayer: 'out_relu' }))
      .toThrow(/Missing weight "Conv1\/kernel" for Conv2D layer "Conv1"/);
  });
});

// --- errors ----------------------------------------------------------------------------------

describe('convertLayersModel errors', () => {
  const conv3dModel = (): LayersModelSource => ({
    modelJson: {
      modelTopology: {
        class_name: 'Sequential',
        keras_version: '2.4.0',
        config: {
          name: 'tiny',
          layers: [
            { class_name: 'Conv2D', config: { name: 'stem', filters: 2, kernel_size: [1, 1], use_bias: false, batch_input_shape: [null, null, null, 3] } },
            { class_name: 'Conv3D', config: { name: 'foo', filters: 2, kernel_size: [1, 1, 1] } },
          ],
        },
      },
    },
    weights: new Map([['stem/kernel', new Float32Array(6)]]),
  });

  it('names the class and the layer of an unsupported layer', () => {
    expect(() => convertLayersModel(conv3dModel())).toThrow(UnsupportedLayerError);
    expect(() => convertLayersModel(conv3dModel())).toThrow('Unsupported Keras layer "Conv3D" (layer "foo")');
  });

  it('only converts what the requested output needs, so unsupported layers after it do not matter', () => {
    expect(convertLayersModel(conv3dModel(), { outputLayer: 'stem' })).toMatchObject({ channels: 2, stride: 1 });
  });

  it('rejects an unknown output layer, listing valid names', () => {
    expect(listLayerNames(conv3dModel())).toEqual(['stem', 'foo']);
    expect(() => convertLayersModel(conv3dModel(), { outputLayer: 'nope' })).toThrow(/Unknown output layer "nope".*stem, foo/);
  });
});

describe('decodeWeights', () => {
  it('dequantises uint8 / uint16 affine and float16 weights to float32', () => {
    const specs: WeightSpec[] = [
      { name: 'a', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
      { name: 'b', shape: [2], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.25, min: 2 } },
      { name: 'c', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'd', shape: [1], dtype: 'float32' },
    ];
    const bytes = new Uint8Array(3 + 4 + 4 + 4);
    bytes.set([0, 2, 4], 0);
    new DataView(bytes.buffer).setUint16(3, 4, true);
    new DataView(bytes.buffer).setUint16(5, 8, true);
    new DataView(bytes.buffer).setUint16(7, 0x3c00, true); // 1.0
    new DataView(bytes.buffer).setUint16(9, 0xc100, true); // -2.5
    new DataView(bytes.buffer).setFloat32(11, 0.125, true);
    const w = decodeWeights(specs, bytes);
    expect([...w.get('a')!]).toEqual([-1, 0, 1]);
    expect([...w.get('b')!]).toEqual([3, 4]);
    expect([...w.get('c')!]).toEqual([1, -2.5]);
    expect([...w.get('d')!]).toEqual([0.125]);
  });
});

// --- layer semantics on small models ---------------------------------------------------------

describe('convertLayersModel layer semantics against TF.js', () => {
  it("strided 'same' convolutions and pools pad like TF on odd and even sizes", async () => {
    const inp = tf.input({ shape: [null, null, 3] as unknown as number[] });
    const branches = [
      sym(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), inp),
      sym(tf.layers.conv2d({ filters: 2, kernelSize: 1, strides: 2, padding: 'same' }), inp),
      sym(tf.layers.conv2d({ filters: 2, kernelSize: [2, 4], strides: 2, padding: 'same' }), inp),
      sym(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2 }), inp),
      sym(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), inp),
      sym(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), inp),
    ];
    const model = tf.model({ inputs: inp, outputs: sym(tf.layers.concatenate(), branches) });
    randomiseWeights(model, 1);
    const converted = convertLayersModel(await toSource(model));
    expect(converted).toMatchObject({ channels: 4 + 2 + 2 + 6 + 3 + 3, stride: 2 });
    for (const [h, w] of [[9, 8], [8, 9], [7, 7], [10, 10]]) await expectParity(converted, model, randomImage(h, w, 3, h * w));

    // Windows smaller than the stride: TF clamps the padding at 0 where onnxruntime's SAME_UPPER would go negative.
    const inp3 = tf.input({ shape: [null, null, 3] as unknown as number[] });
    const model3 = tf.model({ inputs: inp3, outputs: sym(tf.layers.concatenate(), [
      sym(tf.layers.conv2d({ filters: 2, kernelSize: 2, strides: 3, padding: 'same' }), inp3),
      sym(tf.layers.maxPooling2d({ poolSize: 2, strides: 3, padding: 'same' }), inp3),
      sym(tf.layers.averagePooling2d({ poolSize: [4, 3], strides: 3, padding: 'same' }), inp3),
    ]) });
    randomiseWeights(model3, 2);
    const converted3 = convertLayersModel(await toSource(model3));
    for (const [h, w] of [[5, 6], [7, 8], [9, 10]]) await expectParity(converted3, model3, randomImage(h, w, 3, h * w));

    const tooSparse = await toSource(tf.sequential({ layers: [tf.layers.maxPooling2d({ poolSize: 3, strides: 4, padding: 'same', inputShape: [null, null, 3] as unknown as number[] })] }));
    expect(() => convertLayersModel(tooSparse)).toThrow(/Unsupported Keras layer "MaxPooling2D" .*'same' padding with kernel 3×3, strides 4×4/);
  });

  it('handles dilation, asymmetric padding, BN after conv and on its own, pools, merges and activations', async () => {
    const inp = tf.input({ shape: [null, null, 3] as unknown as number[] });
    const padded = sym(tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }), inp);
    const dilated = sym(tf.layers.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same' }), padded);
    const bn1 = sym(tf.layers.batchNormalization({ epsilon: 1e-3 }), dilated);
    const leaky = sym(tf.layers.leakyReLU({ alpha: 0.1 }), bn1);
    const bn2 = sym(tf.layers.batchNormalization({ epsilon: 1e-2 }), leaky);
    const avg = sym(tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }), bn2);
    const product = sym(tf.layers.multiply(), [bn2, avg]);
    const gate = sym(tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'hardSigmoid' }), product);
    const sum = sym(tf.layers.add(), [product, gate]);
    const sep = sym(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'swish' }), sum);
    const relu6 = sym(tf.layers.reLU({ maxValue: 6 }), sep);
    const valid = sym(tf.layers.conv2d({ filters: 3, kernelSize: [3, 2], padding: 'valid', activation: 'elu' }), relu6);
    const pooled = sym(tf.layers.maxPooling2d({ poolSize: 2 }), valid);
    const cropped = sym(tf.layers.cropping2D({ cropping: [[1, 0], [0, 2]] }), pooled);
    const gelu = sym(tf.layers.activation({ activation: 'gelu' }), cropped);
    const model = tf.model({ inputs: inp, outputs: gelu });
    randomiseWeights(model, 2);
    const src = await toSource(model);
    const converted = convertLayersModel(src);
    expect(converted).toMatchObject({ channels: 3, stride: 2 });
    for (const [h, w] of [[13, 16], [16, 13]]) await expectParity(converted, model, randomImage(h, w, 3, h + w));

    // The same topology in Keras 3's inbound-node form converts to the same graph.
    const keras3 = structuredClone(src.modelJson) as { modelTopology: { config: { layers: Json[] } } };
    for (const layer of keras3.modelTopology.config.layers) {
      layer.inbound_nodes = (layer.inbound_nodes as Array<Array<[string, number, number]>>).map((node) => {
        const tensors = node.map(([name, n, t]) => ({ class_name: '__keras_tensor__', config: { shape: [], dtype: 'float32', keras_history: [name, n, t] } }));
        return { args: tensors.length === 1 ? tensors : [tensors], kwargs: {} };
      });
    }
    const fromKeras3 = convertLayersModel({ modelJson: keras3, weights: src.weights });
    expect(Buffer.from(fromKeras3.onnx).equals(Buffer.from(converted.onnx))).toBe(true);
  });

  it('follows NHWC order through Reshape and Flatten, and folds BN into Dense', async () => {
    const inp = tf.input({ shape: [8, 8, 3] });
    const a = sym(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), inp);
    // Spatial → spatial reshape, then flatten + dense: wrong element order would scramble both.
    const reshaped = sym(tf.layers.reshape({ targetShape: [4, 16, 4] }), a);
    const b = sym(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), reshaped);
    const dense = sym(tf.layers.dense({ units: 5 }), sym(tf.layers.flatten(), b));
    const denseBn = sym(tf.layers.activation({ activation: 'softmax' }), sym(tf.layers.batchNormalization(), dense));
    // MobileNetV1's classifier pattern: GAP → Reshape [1,1,C] → 1×1 conv → softmax → Reshape [K].
    const gap = sym(tf.layers.globalAveragePooling2d({}), a);
    const head = sym(tf.layers.conv2d({ filters: 3, kernelSize: 1, padding: 'same' }), sym(tf.layers.reshape({ targetShape: [1, 1, 4] }), gap));
    const probs = sym(tf.layers.reshape({ targetShape: [3] }), sym(tf.layers.activation({ activation: 'softmax' }), head));
    const model = tf.model({ inputs: inp, outputs: sym(tf.layers.concatenate(), [denseBn, probs]) });
    randomiseWeights(model, 3);
    const converted = convertLayersModel(await toSource(model));
    expect(converted).toMatchObject({ channels: 8, stride: 1 });
    await expectParity(converted, model, randomImage(8, 8, 3, 7));
  });

  it('applies a Dense [N, C] gate to a feature map and a GlobalMaxPooling head (nested Sequential)', async () => {
    const inp = tf.input({ shape: [null, null, 3] as unknown as number[] });
    const feat = sym(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'tanh' }), inp);
    const squeeze = sym(tf.layers.dense({ units: 6, activation: 'sigmoid' }), sym(tf.layers.globalAveragePooling2d({}), feat));
    const excited = sym(tf.layers.multiply(), [feat, sym(tf.layers.reshape({ targetShape: [1, 1, 6] }), squeeze)]);
    const block = tf.model({ inputs: inp, outputs: excited });
    const outer = tf.sequential({ layers: [
      tf.layers.inputLayer({ batchInputShape: [null, null, null, 3] }),
      block,
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.globalMaxPooling2d({}),
      tf.layers.dense({ units: 4, activation: 'softmax' }),
    ] });
    randomiseWeights(outer, 4);
    const src = await toSource(outer);
    const converted = convertLayersModel(src);
    expect(converted.channels).toBe(4);
    await expectParity(converted, outer, randomImage(11, 7, 3, 5));
    const inner = convertLayersModel(src, { outputLayer: block.layers.at(-1)!.name });
    expect(inner).toMatchObject({ channels: 6, stride: 1 });
    await expectParity(inner, block, randomImage(7, 11, 3, 6));
  });

  it('converts PReLU, ELU, ThresholdedReLU, Rescaling, Softmax, Average/Maximum/Minimum and Dense on a sequence', async () => {
    const inp = tf.input({ shape: [null, null, 3] as unknown as number[] });
    const a = sym(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }), inp);
    const p = sym(tf.layers.prelu({ sharedAxes: [1, 2] }), a);
    const e = sym(tf.layers.elu(), a);
    const t = sym(tf.layers.thresholdedReLU({ theta: 0.3 }), a);
    const r = sym(tf.layers.rescaling({ scale: 0.5, offset: 0.1 }), a);
    const avg = sym(tf.layers.average(), [t, r, e]);
    const mixed = sym(tf.layers.minimum(), [sym(tf.layers.maximum(), [avg, p]), e]);
    const probs = sym(tf.layers.softmax({ axis: -1 }), mixed);
    const seq = sym(tf.layers.dense({ units: 3, activation: 'tanh' }), sym(tf.layers.reshape({ targetShape: [-1, 4] }), probs));
    const model = tf.model({ inputs: inp, outputs: seq });
    randomiseWeights(model, 6);
    const converted = convertLayersModel(await toSource(model));
    expect(converted.channels).toBe(3);
    await expectParity(converted, model, randomImage(5, 7, 3, 8));
  });

  it('converts a ReLU layer with threshold, negative slope and max value as Keras defines it', async () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ filters: 3, kernelSize: 1, inputShape: [null, null, 3] as unknown as number[] })] });
    randomiseWeights(model, 7);
    const src = await toSource(model);
    const json = structuredClone(src.modelJson) as { modelTopology: { config: { layers: Json[] } } };
    json.modelTopology.config.layers.push({ class_name: 'ReLU', config: { name: 'leaky_capped', max_value: 0.8, negative_slope: 0.1, threshold: 0.2 } });
    const converted = convertLayersModel({ modelJson: json, weights: src.weights });
    const img = randomImage(4, 6, 3, 10);
    img.hwc.forEach((v, i) => { img.hwc[i] = v * 4; });
    const expected = runTf(model, img).data.map((x) => Math.min(x > 0.2 ? x : 0.1 * (x - 0.2), 0.8));
    const ours = await runOnnx(converted, img);
    expect(maxAbsDiff(ours.data as Float32Array, expected)).toBeLessThan(1e-5);
  });

  it('converts hard_swish with Keras\'s definition x·relu6(x + 3)/6', async () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [null, null, 3] as unknown as number[] })] });
    randomiseWeights(model, 5);
    const src = await toSource(model);
    const json = structuredClone(src.modelJson) as { modelTopology: { config: { layers: Array<{ config: Json }> } } };
    // TF.js has no hard_swish, so the reference applies it by hand to the linear conv output.
    json.modelTopology.config.layers[0].config.activation = 'hard_swish';
    const converted = convertLayersModel({ modelJson: json, weights: src.weights });
    const img = randomImage(6, 5, 3, 9);
    img.hwc.forEach((v, i) => { img.hwc[i] = v * 8; });
    const linear = runTf(model, img);
    const expected = linear.data.map((x) => x * Math.min(Math.max(x + 3, 0), 6) / 6);
    const ours = await runOnnx(converted, img);
    expect(maxAbsDiff(ours.data as Float32Array, expected)).toBeLessThan(1e-4 * maxAbs(expected));
  });

  it('converts grouped convolutions (checked against per-group TF.js convolutions)', async () => {
    const [h, w, cin, filters, groups] = [7, 6, 4, 6, 2];
    const kernel = tf.randomUniform([3, 3, cin / groups, filters], -1, 1, 'float32', 11);
    const bias = tf.randomUniform([filters], -1, 1, 'float32', 12);
    const src: LayersModelSource = {
      modelJson: {
        modelTopology: {
          class_name: 'Sequential',
          keras_version: '2.13.1',
          config: {
            name: 'grouped',
            layers: [{ class_name: 'Conv2D', config: {
              name: 'gconv', filters, kernel_size: [3, 3], strides: [1, 1], padding: 'same', groups, dilation_rate: [1, 1],
              use_bias: true, activation: 'linear', batch_input_shape: [null, null, null, cin],
            } }],
          },
        },
      },
      weights: new Map([['gconv/kernel', kernel.dataSync() as Float32Array], ['gconv/bias', bias.dataSync() as Float32Array]]),
    };
    const img = randomImage(h, w, cin, 13);
    const expected = tf.tidy(() => {
      const x = tf.tensor4d(img.hwc, [1, h, w, cin]);
      const per = filters / groups;
      const outs = Array.from({ length: groups }, (_, g) => tf.conv2d(
        x.slice([0, 0, 0, g * cin / groups], [1, h, w, cin / groups]),
        kernel.slice([0, 0, 0, g * per], [3, 3, cin / groups, per]) as tf.Tensor4D, 1, 'same'));
      return tf.concat(outs, 3).add(bias).transpose([0, 3, 1, 2]).dataSync() as Float32Array;
    });
    const converted = convertLayersModel(src);
    const ours = await runOnnx(converted, img, cin);
    expect(ours.dims).toEqual([1, filters, h, w]);
    expect(maxAbsDiff(ours.data as Float32Array, expected)).toBeLessThan(1e-4 * maxAbs(expected));
  });
});
