import { describe, expect, it } from 'vitest';
import { globalMaxPool, maxPoolRegion, type FeatureMap } from '../../app/engine/regionPooling.js';
import { l2normalize } from '../../app/engine/vectorMath.js';

// 2 channels over a 3×4 map (H=3, W=4); channel 1 is channel 0 negated.
const ch0 = [
  1, 2, 3, 4,
  5, 9, 7, 8,
  0, 1, 2, 6,
];
const map: FeatureMap = { data: new Float32Array([...ch0, ...ch0.map((v) => -v)]), channels: 2, height: 3, width: 4 };

describe('maxPoolRegion', () => {
  it('takes the per-channel maximum inside the region only', () => {
    expect(Array.from(maxPoolRegion(map, { x: 2, y: 1, width: 2, height: 2 }))).toEqual([8, -2]);
    expect(Array.from(maxPoolRegion(map, { x: 0, y: 0, width: 1, height: 1 }))).toEqual([1, -1]);
  });

  it('equals MAC over the full map', () => {
    expect(Array.from(globalMaxPool(map))).toEqual([9, -0]);
  });

  it('clips regions to the map and refuses ones fully outside', () => {
    expect(Array.from(maxPoolRegion(map, { x: 3, y: 2, width: 5, height: 5 }))).toEqual([6, -6]);
    expect(() => maxPoolRegion(map, { x: 4, y: 0, width: 1, height: 1 })).toThrow(/outside/);
  });
});

describe('l2normalize', () => {
  it('gives unit length and leaves zero vectors at zero', () => {
    expect(Array.from(l2normalize(new Float32Array([3, 4])))).toEqual([0.6000000238418579, 0.800000011920929]);
    expect(Array.from(l2normalize(new Float32Array([0, 0])))).toEqual([0, 0]);
  });
});
