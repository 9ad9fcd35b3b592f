import { describe, expect, it } from 'vitest';
import {
  anchorsPerCell,
  decodeBox,
  encodeBox,
  generateAnchors,
  iou,
  labelAnchors,
  nonMaximumSuppression,
  proposeRegions,
} from '../../app/engine/rpnAnchors.js';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });

describe('RPN anchors', () => {
  it('centres every size × ratio on each cell, cell-major then size then ratio', () => {
    const spec = { stride: 16, sizes: [16, 32], ratios: [0.25, 1, 4] };
    expect(anchorsPerCell(spec)).toBe(6);
    const a = Array.from(generateAnchors(2, 1, spec));
    expect(a).toHaveLength(2 * 6 * 4);
    // Cell (0, 0), centre (8, 8); size 16: ratio ¼ → 32 × 8, ratio 1 → 16 × 16, ratio 4 → 8 × 32.
    expect(a.slice(0, 12)).toEqual([-8, 4, 24, 12, 0, 0, 16, 16, 4, -8, 12, 24]);
    // Size 32, ratio 1 at the same cell: 32 × 32 around (8, 8).
    expect(a.slice(16, 20)).toEqual([-8, -8, 24, 24]);
    // Cell (1, 0), centre (24, 8), first anchor.
    expect(a.slice(24, 28)).toEqual([8, 4, 40, 12]);
  });
});

describe('IoU', () => {
  it('matches hand-computed overlaps', () => {
    expect(iou(box(0, 0, 10, 10), box(5, 5, 15, 15))).toBeCloseTo(25 / 175, 12);
    expect(iou(box(0, 0, 10, 10), box(0, 0, 10, 10))).toBe(1);
    expect(iou(box(0, 0, 10, 10), box(0, 0, 10, 5))).toBeCloseTo(0.5, 12);
    expect(iou(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0); // touching edges share no area
    expect(iou(box(0, 0, 10, 10), box(30, 30, 40, 40))).toBe(0);
  });
});

describe('box deltas', () => {
  it('encodes centre shift in anchor sizes and log size ratio', () => {
    // Anchor centre (5, 5), 10 × 10; target centre (12, 9), 20 × 10.
    const d = encodeBox(box(0, 0, 10, 10), box(2, 4, 22, 14));
    expect(d[0]).toBeCloseTo(0.7, 12);
    expect(d[1]).toBeCloseTo(0.4, 12);
    expect(d[2]).toBeCloseTo(Math.LN2, 12);
    expect(d[3]).toBeCloseTo(0, 12);
  });

  it('decodes back to the target', () => {
    const anchor = box(-8, 4, 24, 12);
    const target = box(3, -2, 50, 31);
    const back = decodeBox(anchor, encodeBox(anchor, target));
    expect(back.x1).toBeCloseTo(3, 10);
    expect(back.y1).toBeCloseTo(-2, 10);
    expect(back.x2).toBeCloseTo(50, 10);
    expect(back.y2).toBeCloseTo(31, 10);
    expect(decodeBox(anchor, [0, 0, 0, 0])).toEqual(anchor);
  });

  it('clamps runaway size deltas', () => {
    const b = decodeBox(box(0, 0, 16, 16), [0, 0, 100, 100]);
    expect(b.x2 - b.x1).toBeCloseTo(1000, 6);
  });
});

describe('anchor labels', () => {
  it('labels ≥ 0.7 positive, < 0.3 negative, between ignored, and the best anchor positive', () => {
    const anchors = new Float32Array([0, 0, 10, 10, 0, 0, 20, 20, 30, 30, 40, 40, 0, 0, 12, 11]);
    const { labels, deltas } = labelAnchors(anchors, box(0, 0, 12, 12), 100, 100);
    // IoUs: 100/144 = 0.694 (below 0.7 but not the best), 144/400 = 0.36, 0, 132/144 = 0.917.
    expect(Array.from(labels)).toEqual([-1, -1, 0, 1]);
    expect(Array.from(deltas.slice(12, 16)).map((v) => Number(v.toFixed(6)))).toEqual([0, Number((0.5 / 11).toFixed(6)), 0, Number(Math.log(12 / 11).toFixed(6))]);
  });

  it('makes the best anchor positive when none reaches 0.7', () => {
    const anchors = new Float32Array([0, 0, 10, 10, 0, 0, 20, 20]);
    const { labels, deltas } = labelAnchors(anchors, box(0, 0, 12, 12), 100, 100);
    expect(Array.from(labels)).toEqual([1, -1]);
    expect(deltas[0]).toBeCloseTo(0.1, 6);
    expect(deltas[2]).toBeCloseTo(Math.log(1.2), 6);
  });

  it('ignores anchors that cross the border by more than the allowance', () => {
    const anchors = new Float32Array([-20, 0, 10, 10, 50, 50, 60, 60]);
    expect(Array.from(labelAnchors(anchors, box(50, 50, 60, 60), 100, 100, undefined, 0).labels)).toEqual([-1, 1]);
  });
});

describe('NMS and proposals', () => {
  // A–B overlap 81/119 = 0.68; C is apart.
  const boxes = [0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30];
  it('suppresses overlaps above the threshold, best first', () => {
    expect(nonMaximumSuppression(boxes, [0.9, 0.8, 0.7], 0.5)).toEqual([0, 2]);
    expect(nonMaximumSuppression(boxes, [0.9, 0.8, 0.7], 0.7)).toEqual([0, 1, 2]);
    expect(nonMaximumSuppression(boxes, [0.7, 0.8, 0.9], 0.5)).toEqual([2, 1]);
    expect(nonMaximumSuppression(boxes, [0.9, 0.8, 0.7], 0.5, 1)).toEqual([0]);
  });

  it('decodes, clips to the image, drops slivers, NMS, top K', () => {
    const anchors = new Float32Array([-8, -8, 24, 24, 0, 0, 32, 32, 40, 40, 42, 42, 100, 0, 132, 32]);
    const deltas = new Float32Array(16);
    const proposals = proposeRegions(anchors, [3, 2, 5, 1], deltas, 64, 64, { nmsIou: 0.5, minSize: 4, topK: 10 });
    // The 2-px box is a sliver; the first is clipped to (0, 0, 24, 24) and, at IoU 0.5625 with
    // the second, suppresses it; the last lies off the image and clips to nothing.
    expect(proposals.map((p) => p.box)).toEqual([box(0, 0, 24, 24)]);
    expect(proposals[0].score).toBe(3);
    expect(proposeRegions(anchors, [3, 2, 5, 1], deltas, 64, 64, { nmsIou: 0.7, minSize: 4, topK: 1 }).map((p) => p.score)).toEqual([3]);
    expect(proposeRegions(anchors, [3, 2, 5, 1], deltas, 64, 64, { nmsIou: 0.7, minSize: 4 }).map((p) => p.score)).toEqual([3, 2]);
  });
});
