import { describe, expect, it } from 'vitest';
import { poolScale } from '../../app/engine/rmacDescriptor.js';
import { bestIou, gridBoxes, recallAt } from '../../app/train/rpnEvaluation.js';
import { toNetworkBox, toOriginalBox } from '../../app/train/rpnTraining.js';

describe('proposal recall', () => {
  it('places the grid where the engine pools it', () => {
    const width = 32;
    const height = 24;
    const map = { data: new Float32Array(2 * width * height).fill(1), channels: 2, width, height };
    const pooled = poolScale(map, { scale: 1, offsetX: 0, offsetY: 0, stride: 16 }, 512).regions.map((r) => r.box);
    const grid = gridBoxes({ width, height, stride: 16 });
    expect(grid.length).toBe(pooled.length);
    expect(grid.map((b) => ({ x: b.x1, y: b.y1, width: b.x2 - b.x1, height: b.y2 - b.y1 }))).toEqual(pooled);
  });

  it('counts a photo as recalled when one of the first K boxes reaches the IoU', () => {
    const truth = { x1: 0, y1: 0, x2: 10, y2: 10 };
    const boxes = [{ x1: 50, y1: 50, x2: 60, y2: 60 }, { x1: 0, y1: 0, x2: 10, y2: 5 }, { x1: 0, y1: 0, x2: 10, y2: 8 }];
    expect(bestIou(truth, boxes, 1)).toBe(0);
    expect(bestIou(truth, boxes, 2)).toBeCloseTo(0.5, 12);
    expect(bestIou(truth, boxes)).toBeCloseTo(0.8, 12);
    expect(recallAt([0, 0.5, 0.8, 0.69], [0.5, 0.7])).toEqual([0.75, 0.25]);
    expect(recallAt([], [0.5])).toEqual([0]);
  });

  it('maps boxes between original and network pixels both ways', () => {
    const geometry = { scale: 2, offsetX: 10, offsetY: 4 };
    const net = toNetworkBox(geometry, { x: 30, y: 24, width: 100, height: 50 });
    expect(net).toEqual({ x1: 10, y1: 10, x2: 60, y2: 35 });
    expect(toOriginalBox(geometry, net)).toEqual({ x: 30, y: 24, width: 100, height: 50 });
  });
});
