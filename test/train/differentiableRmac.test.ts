// The TF.js R-MAC must compute what the engine computes (rmacDescriptor.ts, the reference), and its
// gradients must be those of that function: checked against finite differences.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { maxPoolRegion, type FeatureMap } from '../../app/engine/regionPooling.js';
import { aggregateRmac, poolScale } from '../../app/engine/rmacDescriptor.js';
import { rmacRegions } from '../../app/engine/rmacRegions.js';
import type { Whitening } from '../../app/engine/whitening.js';
import { aggregateRegions, fixedWhitening, poolRegions, rmacOfFeatureMap } from '../../app/train/differentiableRmac.js';
import { LearnableWhitening } from '../../app/train/learnableWhitening.js';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';
import { rng } from '../support/random.js';

function randomMap(height: number, width: number, channels: number, seed: number): { nchw: FeatureMap; hwc: tf.Tensor3D } {
  const r = rng(seed);
  // Post-ReLU6-like values, with exact zeros as real feature maps have.
  const hwcData = Float32Array.from({ length: height * width * channels }, () => Math.max(0, 6 * r() - 2));
  const nchw = new Float32Array(hwcData.length);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) nchw[(c * height + y) * width + x] = hwcData[(y * width + x) * channels + c];
  return { nchw: { data: nchw, channels, height, width }, hwc: tf.tensor3d(hwcData, [height, width, channels]) };
}

function randomWhitening(channels: number, dim: number, seed: number): Whitening {
  const r = rng(seed);
  return {
    channels,
    dim,
    mean: Float32Array.from({ length: channels }, () => 0.2 * r()),
    projection: Float32Array.from({ length: dim * channels }, () => 2 * r() - 1),
    eigenvalues: new Float64Array(dim).fill(1),
    fittedOn: 'random',
    sampleCount: 0,
    epsilon: 0.1,
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('R-MAC in TF.js', () => {
  beforeAll(async () => {
    await selectTrainingBackend({ prefer: 'wasm' });
  });

  it('max-pools every grid region exactly as the engine does', async () => {
    const { nchw, hwc } = randomMap(7, 10, 6, 1);
    const regions = rmacRegions(10, 7);
    const pooled = await poolRegions(hwc, regions).data();
    regions.forEach((region, i) => {
      expect(Array.from(pooled.subarray(i * 6, (i + 1) * 6))).toEqual(Array.from(maxPoolRegion(nchw, region)));
    });
  });

  it('pools boxes that are not grid cells (RPN proposals) with the engine\'s clipping', async () => {
    const { nchw, hwc } = randomMap(6, 8, 3, 2);
    const boxes = [{ x: 0.4, y: 1.2, width: 3.3, height: 2.5 }, { x: -1, y: -1, width: 3, height: 9 }, { x: 7, y: 5, width: 4, height: 4 }];
    const pooled = await poolRegions(hwc, boxes).data();
    boxes.forEach((box, i) => expect(Array.from(pooled.subarray(i * 3, (i + 1) * 3))).toEqual(Array.from(maxPoolRegion(nchw, box))));
  });

  it('gives the engine\'s R-MAC vector, unwhitened and whitened', async () => {
    const { nchw, hwc } = randomMap(9, 12, 16, 3);
    const w = randomWhitening(16, 8, 4);
    const scale = poolScale(nchw, { scale: 1, offsetX: 0, offsetY: 0, stride: 16 }, 512);
    const regions = rmacRegions(12, 9);
    expect(maxAbsDiff(await rmacOfFeatureMap(hwc, regions).data(), aggregateRmac([scale]))).toBeLessThan(1e-6);
    const layer = LearnableWhitening.fromWhitening(w);
    expect(maxAbsDiff(await rmacOfFeatureMap(hwc, regions, layer).data(), aggregateRmac([scale], w))).toBeLessThan(1e-6);
    layer.dispose();
  });

  it('aggregates several images from one stacked block of regions', async () => {
    const maps = [randomMap(5, 7, 8, 10), randomMap(6, 6, 8, 11), randomMap(8, 5, 8, 12)];
    const w = randomWhitening(8, 5, 13);
    const layer = LearnableWhitening.fromWhitening(w);
    const blocks = maps.map((m) => poolRegions(m.hwc, rmacRegions(m.hwc.shape[1], m.hwc.shape[0])));
    const owners = blocks.flatMap((b, k) => Array<number>(b.shape[0]).fill(k));
    const stacked = await aggregateRegions(tf.concat(blocks, 0), owners, 3, layer).data();
    maps.forEach((m, k) => {
      const reference = aggregateRmac([poolScale(m.nchw, { scale: 1, offsetX: 0, offsetY: 0, stride: 16 }, 512)], w);
      expect(maxAbsDiff(stacked.subarray(k * 5, (k + 1) * 5), reference)).toBeLessThan(1e-6);
    });
    layer.dispose();
  });

  it('has the gradients of the function it computes (central finite differences)', async () => {
    await tf.setBackend('cpu');
    const { hwc } = randomMap(6, 9, 5, 20);
    const w = randomWhitening(5, 4, 21);
    const direction = tf.tensor1d([0.3, -0.5, 0.8, 0.1]);
    const regions = rmacRegions(9, 6);
    const f = (mean: tf.Tensor1D, projection: tf.Tensor2D, map: tf.Tensor3D) => tf.sum(tf.mul(rmacOfFeatureMap(map, regions, fixedWhitening(mean, projection)).squeeze(), direction)) as tf.Scalar;
    const mean = tf.tensor1d(w.mean);
    const projection = tf.tensor2d(w.projection, [4, 5]);
    const [gMean, gProjection, gMap] = tf.grads((m: tf.Tensor, p: tf.Tensor, x: tf.Tensor) => f(m as tf.Tensor1D, p as tf.Tensor2D, x as tf.Tensor3D))([mean, projection, hwc]);
    const h = 1e-3;
    const numeric = (values: Float32Array, shape: number[], i: number, evaluate: (t: tf.Tensor) => number) => {
      const plus = Float32Array.from(values);
      const minus = Float32Array.from(values);
      plus[i] += h;
      minus[i] -= h;
      return (evaluate(tf.tensor(plus, shape)) - evaluate(tf.tensor(minus, shape))) / (2 * h);
    };
    const gm = await gMean.data();
    const gp = await gProjection.data();
    const gx = await gMap.data();
    for (const i of [0, 2, 4]) expect(numeric(w.mean, [5], i, (t) => f(t as tf.Tensor1D, projection, hwc).dataSync()[0])).toBeCloseTo(gm[i], 2);
    for (const i of [0, 7, 13, 19]) expect(numeric(w.projection, [4, 5], i, (t) => f(mean, t as tf.Tensor2D, hwc).dataSync()[0])).toBeCloseTo(gp[i], 2);
    // The map's gradient lives on each region's argmax cells only (ROI max-pooling).
    const mapValues = await hwc.data();
    const nonzero = Array.from(gx.keys()).filter((i) => gx[i] !== 0);
    expect(nonzero.length).toBeGreaterThan(0);
    expect(nonzero.length).toBeLessThanOrEqual(regions.length * 5);
    for (const i of nonzero.slice(0, 4)) expect(numeric(Float32Array.from(mapValues), [6, 9, 5], i, (t) => f(mean, projection, t as tf.Tensor3D).dataSync()[0])).toBeCloseTo(gx[i], 2);
    await tf.setBackend('wasm');
  });
});
