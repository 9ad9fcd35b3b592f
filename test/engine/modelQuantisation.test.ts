// int8 variants of registered models on the real offline default: calibration on photos that are
// not the ones compared, the registered int8 model's metadata, descriptors close to the float
// model's, and the shipped calibration that `model prepare-default` quantises the default with.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizedActivations } from '../../app/convert/quantizeOnnx.js';
import { DEFAULT_MODEL_CALIBRATION, buildDefaultInt8Model, buildDefaultModel, prepareDefaultModel, DEFAULT_MODEL_RECIPE } from '../../app/engine/defaultModel.js';
import { DescriptorEngine } from '../../app/engine/descriptorEngine.js';
import { calibrateModel, quantizeRegisteredModel, type CalibrationTable } from '../../app/engine/modelQuantisation.js';
import { ModelRegistry, type RegisteredModel } from '../../app/engine/modelRegistry.js';
import { dot } from '../../app/engine/vectorMath.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const CALIBRATION_PHOTOS = ['scenes/opencv/building.jpg', 'scenes/darknet/dog.jpg', 'scenes/skimage/astronaut.png', 'near-dup/base_images/ukbench00120.jpg'].map((p) => path.join(DATA, p));
const EIFFEL_A = path.join(DATA, 'paris6k-mini/images/eiffel_tower/paris_eiffel_000037.jpg');
const EIFFEL_B = path.join(DATA, 'paris6k-mini/images/eiffel_tower/paris_eiffel_000041.jpg');
const COFFEE = path.join(DATA, 'scenes/skimage/coffee.png');

let tmp: string;
let registry: ModelRegistry;
let float: RegisteredModel;
let table: CalibrationTable;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-int8-'));
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  registry = new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') });
  float = await buildDefaultModel(undefined, registry, 'user');
  table = (await calibrateModel(float, [...CALIBRATION_PHOTOS, path.join(DATA, 'scenes/opencv/H1to3p.xml')], { longSide: 256, photosFrom: 'from the test set' })).table;
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('calibrateModel', () => {
  it('measures a range for every tensor the quantiser needs, skipping files that are not photos', async () => {
    expect(table).toMatchObject({ sourceModelId: float.meta.id, photos: 4, longSide: 256, method: 'minmax', fittedOn: '4 photos from the test set' });
    const needed = quantizedActivations(new Uint8Array(await fs.readFile(float.onnxPath)));
    expect(Object.keys(table.ranges).sort()).toEqual([...needed].sort());
    // The normalised input spans [−1, 1]; ReLU6 outputs are never negative.
    expect(table.ranges[float.meta.inputName].min).toBeGreaterThanOrEqual(-1);
    expect(table.ranges[float.meta.inputName].max).toBeLessThanOrEqual(1);
    for (const [name, r] of Object.entries(table.ranges)) if (name.endsWith('Relu6')) expect(r.min).toBeGreaterThanOrEqual(0);
  });
});

describe('quantizeRegisteredModel', () => {
  let int8: RegisteredModel;
  let engines: DescriptorEngine[] = [];

  beforeAll(async () => {
    int8 = await quantizeRegisteredModel(float, table, registry);
  });

  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    engines = [];
  });

  it('registers a model of its own, saying it is int8 and which float model it came from', async () => {
    expect(int8.meta.id).not.toBe(float.meta.id);
    expect(int8.meta).toMatchObject({
      name: `${float.meta.name} int8`,
      channels: float.meta.channels,
      stride: float.meta.stride,
      inputName: float.meta.inputName,
      outputName: float.meta.outputName,
      normalisation: float.meta.normalisation,
      quantisation: { precision: 'int8', from: float.meta.id, fromName: float.meta.name },
    });
    expect(int8.meta.quantisation?.activations).toContain('4 photos from the test set');
    expect(float.meta.quantisation).toBeUndefined();
    expect((await registry.get(int8.meta.id)).meta).toEqual(int8.meta);
    // The weights are int8 now: the file shrinks to well under half.
    expect((await fs.stat(int8.onnxPath)).size).toBeLessThan((await fs.stat(float.onnxPath)).size / 2);
  });

  it('refuses a calibration measured on another model, and quantising twice', async () => {
    await expect(quantizeRegisteredModel(float, { ...table, sourceModelId: '0123456789abcdef' }, registry)).rejects.toThrow(/measured on model 0123456789abcdef/);
    await expect(quantizeRegisteredModel(int8, { ...table, sourceModelId: int8.meta.id }, registry)).rejects.toThrow(/already an int8 model/);
  });

  it('describes photos almost as the float model does, and still tells the tower from the coffee', async () => {
    const options = { workers: 1, threadsPerWorker: 1, scales: [384], whitening: 'none' as const };
    const [f, q] = await Promise.all([DescriptorEngine.open(float, options), DescriptorEngine.open(int8, options)]);
    engines.push(f, q);
    const [fa, fb, fc] = await Promise.all([EIFFEL_A, EIFFEL_B, COFFEE].map((p) => f.describe(p)));
    const [qa, qb, qc] = await Promise.all([EIFFEL_A, EIFFEL_B, COFFEE].map((p) => q.describe(p)));
    for (const [a, b] of [[fa, qa], [fb, qb], [fc, qc]]) {
      expect(b.global.length).toBe(a.global.length);
      expect(dot(a.global, b.global)).toBeGreaterThan(0.99);
    }
    expect(dot(qa.global, qb.global)).toBeGreaterThan(dot(qa.global, qc.global) + 0.03);
  });
});

describe('the offline default', () => {
  it('ships a calibration measured on exactly the float model this nsfwjs builds, so the default is int8', async () => {
    expect(DEFAULT_MODEL_CALIBRATION.sourceModelId).toBe(float.meta.id);
    const int8 = await buildDefaultInt8Model(float, registry, 'user');
    expect(int8?.meta.quantisation?.from).toBe(float.meta.id);
  });

  it('prepare-default registers both, marks the int8 one as the default, and rebuilds an older recipe', async () => {
    const markerDir = path.join(tmp, 'marker');
    await fs.mkdir(markerDir, { recursive: true });
    // An install from before int8: the marker names the float model and no recipe.
    await fs.writeFile(path.join(markerDir, 'default.json'), JSON.stringify({ id: float.meta.id, name: float.meta.name }));
    const model = await prepareDefaultModel({ registry, markerDir });
    expect(model.meta.quantisation?.from).toBe(float.meta.id);
    const marker = JSON.parse(await fs.readFile(path.join(markerDir, 'default.json'), 'utf8'));
    expect(marker).toEqual({ id: model.meta.id, name: model.meta.name, recipe: DEFAULT_MODEL_RECIPE, float: float.meta.id });
    // Up to date now: the next prepare returns it without building anything.
    const again = await prepareDefaultModel({ registry, markerDir, log: (line) => { throw new Error(`rebuilt: ${line}`); } });
    expect(again.meta.id).toBe(model.meta.id);
  });
});
