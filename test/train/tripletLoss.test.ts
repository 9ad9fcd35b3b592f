import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';
import { tripletLoss, tripletLossOf, tripletLosses } from '../../app/train/tripletLoss.js';

describe('triplet loss ½·max(0, m + ‖q − d⁺‖² − ‖q − d⁻‖²)', () => {
  beforeAll(async () => {
    await selectTrainingBackend({ prefer: 'wasm' });
  });

  it('matches the formula on hand-computed triplets', async () => {
    const q = [[1, 0], [1, 0], [0.6, 0.8]];
    const p = [[0.8, 0.6], [1, 0], [0.6, 0.8]];
    const n = [[0, 1], [0.8, 0.6], [1, 0]];
    // ‖q−p‖² = 0.4, ‖q−n‖² = 2 → 0; 0 vs 0.4 with m = 0.5 → ½·0.1; 0 vs 0.8 → 0.
    const losses = await tripletLosses(tf.tensor2d(q), tf.tensor2d(p), tf.tensor2d(n), 0.5).data();
    expect(losses[0]).toBe(0);
    expect(losses[1]).toBeCloseTo(0.05, 6);
    expect(losses[2]).toBe(0);
    expect((await tripletLoss(tf.tensor2d(q), tf.tensor2d(p), tf.tensor2d(n), 0.5).data())[0]).toBeCloseTo(0.05 / 3, 6);
    q.forEach((_, i) => expect(tripletLossOf(q[i], p[i], n[i], 0.5)).toBeCloseTo(losses[i], 6));
  });

  it('defaults to the paper\'s margin 0.1 and is zero exactly when the negative is m farther', () => {
    expect(tripletLossOf([1, 0], [1, 0], [Math.cos(0.3), Math.sin(0.3)])).toBeCloseTo(0.5 * (0.1 - (2 - 2 * Math.cos(0.3))), 12);
    const farEnough = Math.acos(1 - 0.05 - 1e-9);
    expect(tripletLossOf([1, 0], [1, 0], [Math.cos(farEnough), Math.sin(farEnough)])).toBe(0);
  });

  it('pulls the positive in and pushes the negative away (gradient signs)', async () => {
    const q = tf.tensor2d([[1, 0]]);
    const n = tf.tensor2d([[0.9, 0.1]]);
    const g = tf.grads((pp: tf.Tensor, nn: tf.Tensor) => tripletLoss(q, pp as tf.Tensor2D, nn as tf.Tensor2D))([tf.tensor2d([[0, 1]]), n]);
    const [gp, gn] = await Promise.all(g.map((t) => t.data()));
    expect(gp[0]).toBeLessThan(0); // increasing p's first coordinate moves it towards q
    expect(gn[0]).toBeGreaterThan(0); // increasing n's first coordinate moves it towards q: costs
  });
});
