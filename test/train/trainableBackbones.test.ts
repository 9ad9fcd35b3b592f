// The TF.js backbones are the engine's networks: the graph interpreter runs the offline default's
// nsfwjs graph like its registered ONNX model does, both backbones split into a frozen and a
// trained part that compose to the whole, and weights changed in TF.js come out in the ONNX export.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { NORMALISATIONS, type ConvertedModel } from '../../app/convert/convertedModel.js';
import { readNsfwjsModel } from '../../app/convert/nsfwjsWeights.js';
import { convertGraphModel } from '../../app/convert/tfjsGraphToOnnx.js';
import { DEFAULT_MODEL_LAYER, DEFAULT_MODEL_SOURCE } from '../../app/engine/defaultModel.js';
import { resolveModel } from '../../app/engine/modelResolver.js';
import { loadDefaultBackbone, loadTrainableBackbone } from '../../app/train/backboneSource.js';
import { photoTensor } from '../../app/train/backboneTripletModel.js';
import { LayersBackbone } from '../../app/train/layersBackbone.js';
import { parseTrainedLayers, selectUnits, type TrainableBackbone } from '../../app/train/trainableBackbone.js';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';

const PHOTO = fileURLToPath(new URL('../../../shared/data/paris6k-mini/images/louvre/paris_louvre_000004.jpg', import.meta.url));
const V1 = fileURLToPath(new URL('../../../shared/weights/mobilenet-v1-0.25-imagenet', import.meta.url));

async function onnxFeatures(model: { onnx: Uint8Array | string; inputName: string; outputName: string }, image: tf.Tensor4D): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model.onnx as Uint8Array);
  try {
    const nchw = image.transpose([0, 3, 1, 2]);
    const out = await session.run({ [model.inputName]: new ort.Tensor('float32', Float32Array.from(await nchw.data()), nchw.shape) });
    nchw.dispose();
    return out[model.outputName].data as Float32Array;
  } finally {
    await session.release();
  }
}

async function nchwOf(map: tf.Tensor): Promise<Float32Array> {
  const t = map.transpose([0, 3, 1, 2]);
  const data = Float32Array.from(await t.data());
  t.dispose();
  return data;
}

function relativeMaxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** Moves every trained variable by a deterministic amount, standing in for a training run. */
function perturb(variables: tf.Variable[]): void {
  tf.tidy(() => variables.forEach((v, i) => v.assign(tf.add(v, tf.mul(tf.sin(tf.range(0, v.size).reshape(v.shape).add(i)), 0.05)))));
}

async function checkSplitAndExport(backbone: TrainableBackbone, units: number): Promise<void> {
  const image = await photoTensor(PHOTO, 256, backbone);
  const whole = await nchwOf(backbone.split(new Set()).frozen(image)[0]);
  const split = backbone.split(selectUnits(backbone, { kind: 'top', units }));
  expect(split.variables.length).toBeGreaterThan(0);
  const composed = await nchwOf(split.trainable(split.frozen(image)));
  expect(relativeMaxDiff(composed, whole)).toBeLessThan(1e-6);
  perturb(split.variables);
  const trained = await nchwOf(split.trainable(split.frozen(image)));
  expect(relativeMaxDiff(trained, whole)).toBeGreaterThan(1e-3);
  const exported: ConvertedModel = backbone.exportOnnx();
  expect(relativeMaxDiff(await onnxFeatures(exported, image), trained)).toBeLessThan(1e-4);
  // The frozen part's own export (what onnxruntime caches during training) matches TF.js's.
  const frontier = split.frontierLayers[0];
  if (frontier) expect(relativeMaxDiff(await onnxFeatures(backbone.exportOnnxAt(frontier), image), await nchwOf(split.frozen(image)[0]))).toBeLessThan(1e-4);
  image.dispose();
}

describe('trainable backbones', () => {
  beforeAll(async () => {
    await selectTrainingBackend({ prefer: 'wasm' });
  });

  it('the graph interpreter computes what the converter\'s ONNX model of the offline default computes', async () => {
    const backbone = await loadDefaultBackbone();
    try {
      const registered = await resolveModel();
      expect(backbone.channels).toBe(registered.meta.channels);
      expect(backbone.normalisation).toEqual(registered.meta.normalisation);
      expect(backbone.units.at(-1)).toBe('MobilenetV2/expanded_conv_11/expand/Relu6');
      // The float network as the install builds it (the registered default may be its int8 variant).
      const float = convertGraphModel(await readNsfwjsModel(DEFAULT_MODEL_SOURCE), { outputNode: DEFAULT_MODEL_LAYER, skipInputNormalisation: true });
      expect(backbone.featureLayer).toBe(float.featureLayer);
      const image = await photoTensor(PHOTO, 256, backbone);
      const ours = await nchwOf(backbone.split(new Set()).frozen(image)[0]);
      const theirs = await onnxFeatures(float, image);
      expect(relativeMaxDiff(ours, theirs)).toBeLessThan(1e-5);
      image.dispose();
    } finally {
      backbone.dispose();
    }
  });

  it('graph backbone: frozen + trained parts compose to the whole, and trained weights reach the ONNX export', async () => {
    const backbone = await loadDefaultBackbone();
    try {
      await checkSplitAndExport(backbone, 2);
    } finally {
      backbone.dispose();
    }
  });

  it('layers backbone: the same, with BatchNormalization grouped into its convolution\'s unit', async () => {
    const backbone = await LayersBackbone.load(V1, { normalisation: NORMALISATIONS.minusOneToOne });
    try {
      expect(backbone.featureLayer).toBe('conv_pw_13_relu');
      expect(backbone.units.slice(-2)).toEqual(['conv_dw_13', 'conv_pw_13']);
      expect(backbone.units).toHaveLength(27);
      await checkSplitAndExport(backbone, 2);
    } finally {
      backbone.dispose();
    }
  });

  it('selects units and names what cannot be trained', async () => {
    expect(parseTrainedLayers('top')).toEqual({ kind: 'top', units: 3 });
    expect(parseTrainedLayers('top:5')).toEqual({ kind: 'top', units: 5 });
    expect(parseTrainedLayers('all')).toEqual({ kind: 'all' });
    expect(() => parseTrainedLayers('bottom')).toThrow(/whitening \| top\[:N\] \| all/);
    expect([...selectUnits({ units: ['a', 'b', 'c'] }, { kind: 'top', units: 2 })]).toEqual(['b', 'c']);
    expect([...selectUnits({ units: ['a', 'b', 'c'] }, { kind: 'whitening' })]).toEqual([]);
    await expect(loadTrainableBackbone(path.join(V1, 'no-such-model'))).rejects.toThrow();
  });
});
