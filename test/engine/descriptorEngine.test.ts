// DescriptorEngine on real photos with the offline default model: the global R-MAC vector's
// invariants (unit norm, dimension, region weights), determinism, a retrieval sanity check,
// whitening loaded from beside the model, and region queries.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDefaultModel } from '../../app/engine/defaultModel.js';
import { DescriptorEngine, whiteningPathFor, type PhotoDescriptor } from '../../app/engine/descriptorEngine.js';
import { ModelRegistry, type RegisteredModel } from '../../app/engine/modelRegistry.js';
import { dot } from '../../app/engine/vectorMath.js';
import { fitWhitening, saveWhitening } from '../../app/engine/whitening.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const paris = (landmark: string, n: string) => path.join(DATA, `paris6k-mini/images/${landmark}/paris_${landmark === 'eiffel_tower' ? 'eiffel' : landmark}_${n}.jpg`);
// Checked by hand to be a robust pair: without whitening every score of this model is high
// (0.92–0.99: non-negative ReLU6 features), but this pair scores 0.989 against 0.924 for the coffee,
// and every other of the first 12 Eiffel photos also ranks above it from EIFFEL_A.
const EIFFEL_A = paris('eiffel_tower', '000037');
const EIFFEL_B = paris('eiffel_tower', '000041');
const COFFEE = path.join(DATA, 'scenes/skimage/coffee.png');
// Whitening is learned on other photos than the ones the tests compare (as DESIGN.md §1.1 asks).
const WHITENING_SET = [
  paris('defense', '000000'), paris('defense', '000002'), paris('louvre', '000004'), paris('louvre', '000015'),
  paris('invalides', '000002'), paris('moulinrouge', '000003'), path.join(DATA, 'scenes/opencv/building.jpg'), path.join(DATA, 'scenes/darknet/dog.jpg'),
];
const SCALES = [384];
const WHITEN_DIM = 64;

let tmp: string;
let model: RegisteredModel;
let engine: DescriptorEngine;

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** The invariants every descriptor has, whitened or not. */
function expectWellFormed(d: PhotoDescriptor, dim: number): void {
  expect(d.global).toBeInstanceOf(Float32Array);
  expect(d.global.length).toBe(dim);
  expect(norm(d.global)).toBeCloseTo(1, 5);
  expect(d.regions.length).toBeGreaterThanOrEqual(3);
  for (const r of d.regions) {
    expect(r.vector.length).toBe(dim);
    expect(norm(r.vector)).toBeCloseTo(1, 5);
    expect(r.weight).toBeCloseTo(dot(r.vector, d.global), 6);
  }
  // global = Σv / ‖Σv‖, so Σ (vᵢ · global) = ‖Σv‖: the weights add up to the length of the sum.
  const sum = new Float64Array(dim);
  for (const r of d.regions) for (let k = 0; k < dim; k++) sum[k] += r.vector[k];
  const weights = d.regions.reduce((s, r) => s + r.weight, 0);
  expect(Math.abs(weights - norm(sum)) / norm(sum)).toBeLessThan(1e-5);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-descriptor-'));
  // Fitted whitenings go to the user's data dir: keep this test's out of the real profile.
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  model = await buildDefaultModel(undefined, new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') }), 'user');
  engine = await DescriptorEngine.open(model, { workers: 2, threadsPerWorker: 1, scales: SCALES });
});

afterAll(async () => {
  await engine?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('DescriptorEngine without whitening', () => {
  it('gives a unit-norm global vector of the model’s channel count, and consistent region weights', async () => {
    expect(engine.whitening).toBeUndefined();
    expect(engine.dimension).toBe(model.meta.channels);
    const d = await engine.describe(EIFFEL_A);
    expect(d).toMatchObject({ model: model.meta.id, whitened: false });
    expectWellFormed(d, model.meta.channels);
    // One scale, rigid grid: every region is tagged with it and lies inside the photo.
    for (const r of d.regions) {
      expect(r.longSide).toBe(SCALES[0]);
      expect(r.box.x).toBeGreaterThanOrEqual(0);
      expect(r.box.y).toBeGreaterThanOrEqual(0);
      expect(r.box.x + r.box.width).toBeLessThanOrEqual(d.originalWidth + 1e-9);
      expect(r.box.y + r.box.height).toBeLessThanOrEqual(d.originalHeight + 1e-9);
    }
  });

  it('describes the same photo identically every time, whichever worker runs it', async () => {
    const [a, b, c] = await Promise.all([engine.describe(EIFFEL_A), engine.describe(EIFFEL_A), engine.describe(EIFFEL_A)]);
    expect(b.global).toEqual(a.global);
    expect(c.global).toEqual(a.global);
    expect(b.regions.map((r) => r.weight)).toEqual(a.regions.map((r) => r.weight));
  });

  it('scores two photos of the Eiffel Tower above the tower against a cup of coffee', async () => {
    const [a, b, coffee] = await Promise.all([EIFFEL_A, EIFFEL_B, COFFEE].map((p) => engine.describe(p)));
    const same = dot(a.global, b.global);
    const unrelated = dot(a.global, coffee.global);
    expect(same).toBeGreaterThan(unrelated + 0.03);
    // Symmetric, as a dot product must be.
    expect(dot(b.global, a.global)).toBeCloseTo(same, 6);
  });

  it("a 'crop' region query covering the whole photo equals describing the whole photo", async () => {
    const whole = await engine.describe(EIFFEL_A);
    const boxed = await engine.describe(EIFFEL_A, { box: { x: 0, y: 0, width: whole.originalWidth, height: whole.originalHeight }, boxMode: 'crop' });
    expect(maxAbsDiff(boxed.global, whole.global)).toBeLessThanOrEqual(1e-5);
    expect(boxed.regions.map((r) => r.box)).toEqual(whole.regions.map((r) => r.box));
  });

  it('a smaller region query maps its regions back into the box, in original pixels', async () => {
    const whole = await engine.describe(EIFFEL_A);
    const box = { x: Math.round(whole.originalWidth / 4), y: Math.round(whole.originalHeight / 4), width: Math.round(whole.originalWidth / 2), height: Math.round(whole.originalHeight / 2) };
    for (const boxMode of ['crop', 'context'] as const) {
      const d = await engine.describe(EIFFEL_A, { box, boxMode });
      expectWellFormed(d, model.meta.channels);
      expect([d.originalWidth, d.originalHeight]).toEqual([whole.originalWidth, whole.originalHeight]);
      // Context mode may start up to one network pixel (here ≤ 4 original px) before the box.
      const slack = boxMode === 'crop' ? 1e-6 : Math.max(whole.originalWidth, whole.originalHeight) / SCALES[0] + 1e-6;
      for (const r of d.regions) {
        expect(r.box.x).toBeGreaterThanOrEqual(box.x - slack);
        expect(r.box.y).toBeGreaterThanOrEqual(box.y - slack);
        expect(r.box.x + r.box.width).toBeLessThanOrEqual(box.x + box.width + slack);
        expect(r.box.y + r.box.height).toBeLessThanOrEqual(box.y + box.height + slack);
      }
      expect(maxAbsDiff(d.global, whole.global)).toBeGreaterThan(1e-3);
    }
  });
});

describe('DescriptorEngine with the whitening saved beside the model', () => {
  let whitened: DescriptorEngine | undefined;

  afterAll(async () => {
    await whitened?.close();
  });

  it('loads the whitening fitted for the model on open and gives unit-norm vectors of the whitening dimension', async () => {
    // Raw region vectors from the engine's own workers: exactly what whitening is fitted on in the product.
    const raws = await Promise.all(WHITENING_SET.map((p) => engine.pool.describe(p, { scales: SCALES })));
    const vectors = raws.flatMap((r) => r.scales.flatMap((s) => s.regions.map((g) => g.vector)));
    const channels = model.meta.channels;
    const data = new Float32Array(vectors.length * channels);
    vectors.forEach((v, i) => data.set(v, i * channels));
    expect(vectors.length).toBeGreaterThan(WHITEN_DIM);
    const fitted = await fitWhitening(data, vectors.length, channels, { dim: WHITEN_DIM, fittedOn: 'descriptorEngine.test whitening set' });
    await saveWhitening(fitted, whiteningPathFor(model));
    expect(whiteningPathFor(model)).toBe(path.join(tmp, 'data', 'whitening', model.meta.id, 'whitening'));

    whitened = await DescriptorEngine.open(model, { workers: 1, threadsPerWorker: 1, scales: SCALES });
    expect(whitened.whitening).toMatchObject({ dim: WHITEN_DIM, channels, fittedOn: 'descriptorEngine.test whitening set' });
    expect(whitened.dimension).toBe(WHITEN_DIM);

    const [a, b, coffee] = await Promise.all([EIFFEL_A, EIFFEL_B, COFFEE].map((p) => whitened!.describe(p)));
    expect(a.whitened).toBe(true);
    for (const d of [a, b, coffee]) expectWellFormed(d, WHITEN_DIM);
    // Whitening removes the shared component that keeps unwhitened scores high: measured 0.84 vs 0.17.
    expect(dot(a.global, b.global)).toBeGreaterThan(dot(a.global, coffee.global) + 0.3);

    // The same raw description gives the same whitened descriptor whichever engine aggregates it.
    const raw = await engine.pool.describe(EIFFEL_A, { scales: SCALES });
    expect(whitened.fromRaw(raw).global).toEqual(a.global);

    // `whitening: 'none'` ignores the file.
    const plain = await DescriptorEngine.open(model, { workers: 1, threadsPerWorker: 1, scales: SCALES, whitening: 'none' });
    try {
      expect(plain.dimension).toBe(channels);
      expect(plain.fromRaw(raw).global).toEqual(engine.fromRaw(raw).global);
    } finally {
      await plain.close();
    }
  });
});
