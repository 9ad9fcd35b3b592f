import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';
import { iou, labelAnchors, generateAnchors } from '../../app/engine/rpnAnchors.js';
import { RpnHead, rpnLoss, sampleAnchors } from '../../app/train/rpnHead.js';
import { proposalsFor, trainRpnHead, type RpnPhoto } from '../../app/train/rpnTraining.js';
import { SeededRandom } from '../../app/train/tripletMining.js';

// Squares of 3 or 5 cells are centred on a cell, so one anchor fits each exactly: the test is
// whether the head learns which anchor, not how far regression can stretch one.
const SPEC = { stride: 16, sizes: [48, 80], ratios: [0.5, 1, 2] };
const CELLS = 10;
const CHANNELS = 4;

/**
 * A 10 × 10-cell map of noise with a bright square (channel 0 high, 3 or 5 cells a side) somewhere:
 * the square is the "landmark" whose box the RPN must learn to propose.
 */
function brightSquare(random: SeededRandom): RpnPhoto {
  const side = random.next() < 0.5 ? 3 : 5;
  const x0 = Math.floor(random.next() * (CELLS - side + 1));
  const y0 = Math.floor(random.next() * (CELLS - side + 1));
  const features = new Float32Array(CELLS * CELLS * CHANNELS);
  for (let y = 0; y < CELLS; y++) {
    for (let x = 0; x < CELLS; x++) {
      const inside = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
      for (let c = 0; c < CHANNELS; c++) features[(y * CELLS + x) * CHANNELS + c] = 0.3 * random.next() + (inside && c === 0 ? 1 : 0);
    }
  }
  const px = SPEC.stride * CELLS;
  return {
    path: `square-${x0}-${y0}-${side}`, class: 'square', features, channels: CHANNELS, width: CELLS, height: CELLS,
    inputWidth: px, inputHeight: px, scale: 1, offsetX: 0, offsetY: 0, stride: SPEC.stride,
    truth: { x1: x0 * 16, y1: y0 * 16, x2: (x0 + side) * 16, y2: (y0 + side) * 16 },
  };
}

describe('RPN head', () => {
  beforeAll(async () => {
    await selectTrainingBackend({ prefer: 'wasm' });
  });

  it('outputs one objectness and four deltas per anchor, in the anchors\' order', () => {
    const head = new RpnHead({ channels: CHANNELS, hidden: 8, reduced: 2, anchors: 6 });
    const out = head.apply(tf.zeros([1, 3, 5, CHANNELS]));
    expect(out.objectness.shape).toEqual([3 * 5 * 6]);
    expect(out.deltas.shape).toEqual([3 * 5 * 6, 4]);
    expect(generateAnchors(5, 3, SPEC).length / 4).toBe(out.objectness.shape[0]);
    head.dispose();
  });

  it('scores BCE on sampled anchors and smooth-L1 on positives only', async () => {
    // Three anchors: a positive with deltas off by (0.5, 0, 0, 0), a negative, an ignored one.
    const output = { objectness: tf.tensor1d([0, 0, 5]), deltas: tf.tensor2d([[0.5, 0, 0, 0], [9, 9, 9, 9], [9, 9, 9, 9]]) };
    const targets = { labels: new Int8Array([1, 0, -1]), deltas: new Float32Array(12) };
    const batch = sampleAnchors(targets, () => 0, 256);
    const loss = rpnLoss(output, batch);
    // BCE at logit 0 is ln 2 for either label; smooth-L1(0.5) with β = 1/9 is 0.5 − 1/18; both over 2 sampled anchors.
    expect((await loss.objectness.data())[0]).toBeCloseTo(Math.LN2, 5);
    expect((await loss.regression.data())[0]).toBeCloseTo((0.5 - 1 / 18) / 2, 5);
  });

  it('learns where a bright square is: the loss falls and its top proposals cover the square', async () => {
    const random = new SeededRandom(7);
    const train = Array.from({ length: 40 }, () => brightSquare(random));
    const test = Array.from({ length: 10 }, () => brightSquare(random));
    const options = { epochs: 10, hidden: 16, reduced: 0, learningRate: 0.01, anchors: SPEC, batchAnchors: 64 };
    // Recall as bench/rpn.ts measures it: does one of the top 5 proposals cover the box at IoU ≥ 0.7?
    const covered = async (head: RpnHead) => {
      let found = 0;
      for (const photo of test) {
        const top = await proposalsFor(head, photo, SPEC, { topK: 5, minSize: 8 });
        if (top.some((p) => iou(p.box, photo.truth) >= 0.7)) found++;
      }
      return found;
    };
    const untrained = new RpnHead({ channels: CHANNELS, hidden: 16, reduced: 0, anchors: 6 }, 1);
    const before = await covered(untrained);
    untrained.dispose();
    const { head, history } = await trainRpnHead(train, options);
    const first = history.epochs[0].total;
    const last = history.epochs[history.epochs.length - 1].total;
    expect(last).toBeLessThan(0.2 * first);
    const after = await covered(head);
    // Top-1 is not asked for: anchors between IoU 0.3 and 0.7 (a larger box around the square)
    // are never trained, as in Faster R-CNN, and may outscore the exact one; NMS keeps both.
    expect(after).toBeGreaterThanOrEqual(9);
    expect(after).toBeGreaterThan(before);
    // Sanity: the training targets had positives for every photo.
    for (const p of train) expect(labelAnchors(generateAnchors(CELLS, CELLS, SPEC), p.truth, 160, 160).labels.includes(1)).toBe(true);
    head.dispose();
  });
});
