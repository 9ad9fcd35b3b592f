// An RPN model in the engine: a small head with fixed weights, exported to ONNX and registered with
// the real offline default backbone. The engine's descriptor (worker threads, two sessions) must be
// the one computed here by hand from the backbone's feature map, proposeScoredCellRegions and the
// pooling functions, with and without whitening, at one and two scales; a model whose settings let
// no proposal survive must give exactly the grid model's descriptor and say it fell back.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescriptorEngine } from '../../app/engine/descriptorEngine.js';
import { createSession } from '../../app/engine/featureExtractor.js';
import { loadNetworkInput } from '../../app/engine/imageInput.js';
import { ModelRegistry, type RegisteredModel } from '../../app/engine/modelRegistry.js';
import { resolveModel } from '../../app/engine/modelResolver.js';
import { proposeScoredCellRegions } from '../../app/engine/regionProposals.js';
import { maxPoolRegion, type FeatureMap } from '../../app/engine/regionPooling.js';
import { aggregateRmac, poolScale, regionEmbedding, type ScaleDescription } from '../../app/engine/rmacDescriptor.js';
import { rmacRegions } from '../../app/engine/rmacRegions.js';
import { dot, l2normalize } from '../../app/engine/vectorMath.js';
import { fitWhiteningOnVectors, type Whitening } from '../../app/engine/whitening.js';
import { anchorsPerCell, DEFAULT_ANCHOR_SPEC } from '../../app/engine/rpnAnchors.js';
import { exportRpnHeadOnnx } from '../../app/train/rpnExport.js';
import { RpnHead } from '../../app/train/rpnHead.js';
import { registerRpnModel } from '../../app/train/rpnModelExport.js';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';

const DATA = fileURLToPath(new URL('../../../shared/data/paris6k-mini/images/', import.meta.url));
const PHOTO = path.join(DATA, 'eiffel_tower/paris_eiffel_000037.jpg');
const OTHERS = [path.join(DATA, 'louvre/paris_louvre_000004.jpg'), path.join(DATA, 'defense/paris_defense_000002.jpg')];

let tmp: string;
let base: RegisteredModel;
let rpnModel: RegisteredModel;
let fallbackModel: RegisteredModel;
let backbone: ort.InferenceSession;
let head: ort.InferenceSession;
const engines: DescriptorEngine[] = [];

async function open(model: RegisteredModel, whitening: Whitening | 'none' = 'none'): Promise<DescriptorEngine> {
  // One worker, one thread: the same onnxruntime setup as the sessions below, so results match to the bit.
  const engine = await DescriptorEngine.open(model, { workers: 1, threadsPerWorker: 1, executionProviders: ['cpu'], whitening });
  engines.push(engine);
  return engine;
}

/** The backbone's feature map of one photo at one scale, and where its cells lie in the photo. */
async function featureMap(photo: string, longSide: number) {
  const input = await loadNetworkInput(photo, { longSide, normalisation: base.meta.normalisation });
  const out = await backbone.run({ [base.meta.inputName]: new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]) });
  const f = out[base.meta.outputName];
  const [, channels, height, width] = f.dims as number[];
  const map: FeatureMap = { data: f.data as Float32Array, channels, height, width };
  return { map, input, geometry: { scale: input.scale, offsetX: input.offsetX, offsetY: input.offsetY, stride: base.meta.stride } };
}

/** One scale pooled by hand over the head's proposals, as DESIGN.md §1.4 says the engine must. */
async function proposalsByHand(photo: string, longSide: number): Promise<{ scale: ScaleDescription; objectness: number[]; map: FeatureMap }> {
  const { map, input, geometry } = await featureMap(photo, longSide);
  const proposals = await proposeScoredCellRegions(head, map, rpnModel.meta.rpn!.anchors, input, rpnModel.meta.rpn!.proposals);
  return { scale: poolScale(map, geometry, longSide, proposals.map((p) => p.cell)), objectness: proposals.map((p) => p.objectness), map };
}

function expectSameVector(got: Float32Array, want: Float32Array, tolerance = 1e-6): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-rpn-engine-'));
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  await selectTrainingBackend({ prefer: 'wasm' });
  base = await resolveModel();
  const registry = new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') });
  // Fixed weights (seeded), with objectness spread wide enough that the proposals' order is not
  // decided by rounding, and non-zero deltas so proposals are not just anchors.
  const rpnHead = new RpnHead({ channels: base.meta.channels, hidden: 8, reduced: 4, anchors: anchorsPerCell(DEFAULT_ANCHOR_SPEC) }, 7);
  rpnHead.variables.objW.assign(tf.randomNormal(rpnHead.variables.objW.shape, 0, 1, 'float32', 21));
  rpnHead.variables.objB.assign(tf.randomNormal(rpnHead.variables.objB.shape, 0, 1, 'float32', 22));
  rpnHead.variables.regB.assign(tf.randomNormal(rpnHead.variables.regB.shape, 0, 0.2, 'float32', 23));
  const onnx = await exportRpnHeadOnnx(rpnHead);
  rpnHead.dispose();
  rpnModel = await registerRpnModel({ registry, base, head: onnx, anchors: DEFAULT_ANCHOR_SPEC });
  // Proposals must be at least 100 000 px on a side: none ever survives.
  fallbackModel = await registerRpnModel({ registry, base, head: onnx, anchors: DEFAULT_ANCHOR_SPEC, proposals: { minSize: 100_000 }, name: 'no proposals' });
  backbone = await createSession(base.onnxPath, 1);
  head = await createSession(rpnModel.rpnHeadPath!, 1);
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await backbone?.release();
  await head?.release();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('an RPN model in the engine', () => {
  it('is registered as its own model: kind rpn, top 20 by default, an id unlike its backbone’s', () => {
    expect(rpnModel.meta.kind).toBe('rpn');
    expect(rpnModel.meta.rpn).toMatchObject({ anchors: DEFAULT_ANCHOR_SPEC, proposals: { topK: 20, nmsIou: 0.7 }, base: base.meta.id });
    expect(new Set([base.meta.id, rpnModel.meta.id, fallbackModel.meta.id]).size).toBe(3);
  });

  it('pools the head’s top-20 proposals instead of the grid: the descriptor computed by hand, region by region', async () => {
    const engine = await open(rpnModel);
    expect(engine.descriptorVersion).toBe(rpnModel.meta.id);
    const d = await engine.describe(PHOTO, { scales: [384] });
    const { scale, objectness, map } = await proposalsByHand(PHOTO, 384);
    expect(d.regionSource).toBe('rpn');
    expect(d.regions).toHaveLength(20);
    expect(scale.regions).toHaveLength(20);
    expectSameVector(d.global, aggregateRmac([scale]));
    d.regions.forEach((r, i) => {
      const want = scale.regions[i];
      for (const k of ['x', 'y', 'width', 'height'] as const) expect(r.box[k]).toBeCloseTo(want.box[k], 6);
      // The plain one-region max-pool, not the blocked one poolScale uses.
      expectSameVector(r.vector, l2normalize(maxPoolRegion(map, want.cell)));
      expect(r.objectness).toBeCloseTo(objectness[i], 6);
      expect(r.weight).toBeCloseTo(dot(r.vector, d.global), 6);
    });
    // Best first, as NMS keeps them; σ of a logit.
    const scores = d.regions.map((r) => r.objectness!);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(scores.every((s) => s > 0 && s < 1)).toBe(true);
    // Not the grid in disguise: the grid of this map has other regions.
    const grid = rmacRegions(map.width, map.height);
    expect(scale.regions.some((r) => !grid.some((g) => g.x === r.cell.x && g.y === r.cell.y && g.width === r.cell.width && g.height === r.cell.height))).toBe(true);
  });

  it('whitens, normalises and sums proposals at every scale like grid regions, and the region weights still add up', async () => {
    // Whitening fitted on proposals of other photos than the one described.
    const vectors = (await Promise.all(OTHERS.flatMap((p) => [256, 384].map((s) => proposalsByHand(p, s))))).flatMap((x) => x.scale.regions.map((r) => r.vector));
    const whitening = await fitWhiteningOnVectors(vectors, { dim: 16, fittedOn: 'proposals of two other photos' });
    const engine = await open(rpnModel, whitening);
    const d = await engine.describe(PHOTO, { scales: [256, 384] });
    const scales = [(await proposalsByHand(PHOTO, 256)).scale, (await proposalsByHand(PHOTO, 384)).scale];
    expect(d.regionSource).toBe('rpn');
    expect(d.regions.map((r) => r.longSide)).toEqual(scales.flatMap((s) => s.regions.map(() => s.longSide)));
    expectSameVector(d.global, aggregateRmac(scales, whitening), 1e-5);
    const wanted = scales.flatMap((s) => s.regions);
    d.regions.forEach((r, i) => expectSameVector(r.vector, regionEmbedding(wanted[i].vector, whitening), 1e-5));
    // global = Σv / ‖Σv‖: the weights the heatmaps split a score by sum to ‖Σv‖.
    const sum = new Float64Array(16);
    for (const r of d.regions) r.vector.forEach((v, k) => (sum[k] += v));
    const length = Math.hypot(...sum);
    expect(d.regions.reduce((s, r) => s + r.weight, 0)).toBeCloseTo(length, 4);
  });

  it('falls back to the grid for a photo where no proposal survives, says so, and then equals the grid model', async () => {
    const fallback = await open(fallbackModel);
    const grid = await open(base);
    const d = await fallback.describe(PHOTO, { scales: [384] });
    const g = await grid.describe(PHOTO, { scales: [384] });
    expect(d.regionSource).toBe('grid-fallback');
    expect(g.regionSource).toBe('grid');
    const { map, geometry } = await featureMap(PHOTO, 384);
    const byHand = poolScale(map, geometry, 384);
    expect(d.regions).toHaveLength(byHand.regions.length);
    expect(d.regions.every((r) => r.objectness === undefined)).toBe(true);
    expectSameVector(d.global, aggregateRmac([byHand]));
    expectSameVector(d.global, g.global, 0);
    // Same numbers, other model: the library still keeps their descriptors apart.
    expect(fallback.descriptorVersion).not.toBe(grid.descriptorVersion);
  });
});
