// The whole path on a few real photos: train (learned whitening on the engine's features; triplet
// fine-tuning of backbone units in TF.js), export through app/convert, register, and check that the
// engine (onnxruntime) computes the descriptors TF.js computed for the trained weights.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { NORMALISATIONS } from '../../app/convert/convertedModel.js';
import { DescriptorEngine } from '../../app/engine/descriptorEngine.js';
import { EnginePool } from '../../app/engine/enginePool.js';
import { ModelRegistry, type RegisteredModel } from '../../app/engine/modelRegistry.js';
import { resolveModel } from '../../app/engine/modelResolver.js';
import { aggregateRmac } from '../../app/engine/rmacDescriptor.js';
import { rmacRegions } from '../../app/engine/rmacRegions.js';
import { photoTensor } from '../../app/train/backboneTripletModel.js';
import { aggregateRegions, rmacOfFeatureMap } from '../../app/train/differentiableRmac.js';
import { LayersBackbone } from '../../app/train/layersBackbone.js';
import { LearnableWhitening } from '../../app/train/learnableWhitening.js';
import { fineTuneNetwork } from '../../app/train/networkFineTuning.js';
import { readOnnxMetadata, registerTrainedModel, TRAINING_METADATA_KEY } from '../../app/train/trainedModelExport.js';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';
import { loadTrainingSet, TripletRelations } from '../../app/train/trainingSet.js';
import { DEFAULT_TRIPLET_OPTIONS } from '../../app/train/tripletTrainer.js';
import { describeRegions, fitPcaOnRegions, learnWhitening } from '../../app/train/whiteningTraining.js';

const PARIS = fileURLToPath(new URL('../../../shared/data/paris6k-mini/images/', import.meta.url));
// MobileNetV1-0.25: 256 feature channels, so the PCA that initialises the whitening (an EVD of the
// C × C covariance in JS) takes a moment rather than the minute MobileNetV2's 1280 take.
const KERAS = fileURLToPath(new URL('../../../shared/weights/mobilenet-v1-0.25-imagenet', import.meta.url));
const PHOTOS: Record<string, string[]> = {
  eiffel: ['eiffel_tower/paris_eiffel_000037.jpg', 'eiffel_tower/paris_eiffel_000266.jpg', 'eiffel_tower/paris_eiffel_000004.jpg'],
  louvre: ['louvre/paris_louvre_000004.jpg', 'louvre/paris_louvre_000015.jpg', 'louvre/paris_louvre_000018.jpg'],
  moulinrouge: ['moulinrouge/paris_moulinrouge_000003.jpg', 'moulinrouge/paris_moulinrouge_000004.jpg', 'moulinrouge/paris_moulinrouge_000006.jpg'],
};
const LONG_SIDE = 256;

let tmp: string;
let dataset: string;
let registry: ModelRegistry;
const previousDataDir = process.env.SIGHTLINE_DATA_DIR;

beforeAll(async () => {
  await selectTrainingBackend({ prefer: 'wasm' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-e2e-train-'));
  // The engine looks for a user whitening in the data dir first; keep it away from the real profile.
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  dataset = path.join(tmp, 'photos');
  for (const [group, files] of Object.entries(PHOTOS)) {
    await fs.mkdir(path.join(dataset, group), { recursive: true });
    for (const f of files) await fs.symlink(path.join(PARIS, f), path.join(dataset, group, path.basename(f)));
  }
  registry = new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') });
});

afterAll(async () => {
  if (previousDataDir === undefined) delete process.env.SIGHTLINE_DATA_DIR;
  else process.env.SIGHTLINE_DATA_DIR = previousDataDir;
  await fs.rm(tmp, { recursive: true, force: true });
});

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('training end to end on real photos', () => {
  it('learned whitening on the offline default: registered under a new id, and the engine applies it as TF.js did', async () => {
    const base = await resolveModel();
    const set = await loadTrainingSet(dataset);
    const pool = new EnginePool(base, { workers: 1 });
    let described;
    try {
      described = await describeRegions(pool, set.images, [LONG_SIDE]);
    } finally {
      await pool.close();
    }
    expect(described.skipped).toEqual([]);
    const relations = new TripletRelations(described.images);
    const initial = await fitPcaOnRegions(described.regions, { dim: 32, epsilon: 0.1, fittedOn: 'e2e' });
    const learned = await learnWhitening(described.regions, relations, { initial, label: 'e2e', training: { ...DEFAULT_TRIPLET_OPTIONS, epochs: 3, batchSize: 3, learningRate: 1e-3, remineEvery: 2 } });
    expect(learned.history.losses).toHaveLength(9);
    expect(Array.from(learned.whitening.projection)).not.toEqual(Array.from(initial.projection));

    const model = await registerTrainedModel({
      registry, backbone: base, whitening: learned.whitening, name: 'e2e-whitening', source: base.meta.source, licence: base.meta.licence, normalisation: base.meta.normalisation,
      provenance: { kind: 'whitening', base: base.meta.id, trained: 'whitening', data: dataset, excluded: [], margin: 0.1, steps: 9 },
    });
    expect(model.meta.id).not.toBe(base.meta.id);
    expect(JSON.parse(readOnnxMetadata(await fs.readFile(model.onnxPath), TRAINING_METADATA_KEY)!)).toMatchObject({ kind: 'whitening', base: base.meta.id });

    const engine = await DescriptorEngine.open(model, { workers: 1, scales: [LONG_SIDE] });
    try {
      expect(engine.whitening).toBeDefined();
      const photo = described.images[0].path;
      const d = await engine.describe(photo);
      expect(d.whitened).toBe(true);
      const raw = await engine.pool.describe(photo, { scales: [LONG_SIDE] });
      const reference = aggregateRmac(raw.scales, learned.whitening);
      expect(maxAbsDiff(d.global, reference)).toBeLessThan(1e-6);
      // TF.js on the same regions with the same (trained) layer.
      const layer = LearnableWhitening.fromWhitening(learned.whitening);
      const rows = tf.tensor2d(raw.scales[0].regions.flatMap((r) => Array.from(r.vector)), [raw.scales[0].regions.length, base.meta.channels]);
      const ours = await aggregateRegions(rows, new Int32Array(raw.scales[0].regions.length), 1, layer).data();
      expect(maxAbsDiff(ours, d.global)).toBeLessThan(1e-5);
      layer.dispose();
    } finally {
      await engine.close();
    }
  });

  it('triplet fine-tuning of the top units: the exported ONNX gives the TF.js descriptors (parity for the trained weights)', async () => {
    const backbone = await LayersBackbone.load(KERAS, { normalisation: NORMALISATIONS.minusOneToOne });
    try {
      const set = await loadTrainingSet(dataset);
      const relations = new TripletRelations(set.images);
      const result = await fineTuneNetwork(backbone, set.images.map((i) => i.path), relations, {
        layers: { kind: 'top', units: 2 },
        longSide: LONG_SIDE,
        whiteningDim: 32,
        whiteningEpsilon: 0.1,
        training: { ...DEFAULT_TRIPLET_OPTIONS, epochs: 2, batchSize: 3, learningRate: 1e-3, remineEvery: 2 },
        label: 'e2e triplet',
      });
      expect(result.trainedUnits).toEqual(['conv_dw_13', 'conv_pw_13']);
      expect(result.history.losses).toHaveLength(6);
      expect(result.backbone).toBeDefined();

      const model: RegisteredModel = await registerTrainedModel({
        registry, backbone: result.backbone!, whitening: result.whitening, name: 'e2e-triplet', source: backbone.source, licence: backbone.licence, normalisation: backbone.normalisation,
        provenance: { kind: 'triplet', base: 'mobilenet-v1-0.25-imagenet', trained: 'top:2', data: dataset, excluded: [], margin: 0.1, steps: 6 },
      });
      expect(model.meta).toMatchObject({ channels: 256, stride: 32, kind: 'grid' });

      // TF.js: the whole trained backbone, the grid, the learned whitening.
      const whole = backbone.split(new Set());
      const layer = LearnableWhitening.fromWhitening(result.whitening);
      const engine = await DescriptorEngine.open(model, { workers: 1, scales: [LONG_SIDE] });
      try {
        for (const photo of [set.images[0].path, set.images[4].path]) {
          const image = await photoTensor(photo, LONG_SIDE, backbone);
          const [map] = whole.frozen(image);
          const [, h, w] = map.shape;
          const ours = await rmacOfFeatureMap(map.squeeze([0]) as tf.Tensor3D, rmacRegions(w, h), layer).data();
          tf.dispose([image, map]);
          const theirs = (await engine.describe(photo)).global;
          const diff = maxAbsDiff(ours, theirs);
          console.info(`TF.js vs onnxruntime, trained weights, ${path.basename(photo)}: max |Δ| ${diff.toExponential(2)}, cosine ${cosine(ours, theirs).toFixed(7)}`);
          expect(diff).toBeLessThan(1e-4);
          expect(cosine(ours, theirs)).toBeGreaterThan(0.99999);
        }
      } finally {
        layer.dispose();
        await engine.close();
      }
    } finally {
      backbone.dispose();
    }
  });
});
