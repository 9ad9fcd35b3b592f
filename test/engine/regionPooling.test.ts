import { describe, expect, it } from 'vitest';
import { globalMaxPool, maxPoolRegion, maxPoolRegions, type FeatureMap, type QuantisedFeatureMap } from '../../app/engine/regionPooling.js';
import { rmacRegions, type CellRegion } from '../../app/engine/rmacRegions.js';
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

/** A deterministic generator, so a failure can be replayed. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function randomMap(channels: number, height: number, width: number, seed: number, value: (r: () => number) => number): FeatureMap {
  const r = lcg(seed);
  return { data: Float32Array.from({ length: channels * height * width }, () => value(r)), channels, height, width };
}

/** Brute force over every region, compared value by value (+0 and −0 count as equal: see maxPoolRegions). */
function expectSameAsOneByOne(map: FeatureMap, regions: CellRegion[]): void {
  const pooled = maxPoolRegions(map, regions);
  expect(pooled.length).toBe(regions.length);
  regions.forEach((region, i) => {
    const expected = Array.from(maxPoolRegion(map, region), (v) => v + 0);
    expect(Array.from(pooled[i], (v) => v + 0), `region ${JSON.stringify(region)} of a ${map.width}×${map.height} map`).toEqual(expected);
  });
}

describe('maxPoolRegions (all regions of a map in one pass)', () => {
  const shapes: Array<[number, number]> = [[1, 1], [1, 7], [7, 1], [3, 4], [12, 12], [16, 12], [12, 16], [24, 32], [32, 24], [27, 32], [54, 64], [13, 40]];

  it('equals a brute-force max over every R-MAC region (and the whole map) on random maps of many shapes', () => {
    shapes.forEach(([height, width], i) => {
      // Signed values, so negative maxima (and their integer ordering) are exercised too.
      const map = randomMap(5, height, width, 1000 + i, (r) => (r() - 0.5) * 12);
      const regions = [...rmacRegions(width, height), ...rmacRegions(width, height, { levels: 5 }), { x: 0, y: 0, width, height }];
      expectSameAsOneByOne(map, regions);
    });
  });

  it('equals brute force on ReLU-like maps full of ties at zero and at the clip value', () => {
    for (const [height, width] of [[24, 32], [27, 32], [9, 9]]) {
      const map = randomMap(8, height, width, height * width, (r) => Math.min(6, Math.max(0, (r() - 0.6) * 20)));
      expectSameAsOneByOne(map, [...rmacRegions(width, height), { x: 0, y: 0, width, height }]);
    }
  });

  it('equals brute force for arbitrary regions: fractional edges, partly outside the map, single cells', () => {
    const r = lcg(7);
    const map = randomMap(4, 19, 23, 42, (rnd) => rnd() * 100 - 50);
    const regions: CellRegion[] = Array.from({ length: 60 }, () => {
      const x = r() * 26 - 3;
      const y = r() * 22 - 3;
      return { x, y, width: 0.5 + r() * 12, height: 0.5 + r() * 12 };
    }).filter((g) => g.x + g.width > 0 && g.y + g.height > 0 && g.x < 23 && g.y < 19);
    regions.push({ x: 5, y: 6, width: 1, height: 1 }, { x: -10, y: -10, width: 100, height: 100 });
    expectSameAsOneByOne(map, regions);
  });

  it('handles infinities and NaNs as brute force does (NaN cells are skipped)', () => {
    const map = randomMap(3, 6, 8, 3, (r) => r() - 0.5);
    map.data[0] = Infinity;
    map.data[5] = NaN;
    map.data[48 + 9] = -Infinity;
    // A channel whose first region holds nothing but NaN: brute force gives −∞ there.
    for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) map.data[2 * 48 + y * 8 + x] = NaN;
    const regions = [{ x: 0, y: 0, width: 2, height: 2 }, { x: 0, y: 0, width: 8, height: 6 }, ...rmacRegions(8, 6)];
    expectSameAsOneByOne(map, regions);
    expect(maxPoolRegions(map, regions)[0][2]).toBe(-Infinity);
  });

  it('refuses a region outside the map, as maxPoolRegion does, and pools nothing for no regions', () => {
    expect(() => maxPoolRegions(map, [{ x: 0, y: 0, width: 1, height: 1 }, { x: 4, y: 0, width: 1, height: 1 }])).toThrow(/outside/);
    expect(maxPoolRegions(map, [])).toEqual([]);
  });
});

describe('maxPoolRegions over a byte map (channels last, dequantised maxima)', () => {
  /** The same map dequantised as onnxruntime's DequantizeLinear does, channel-major, for maxPoolRegion. */
  function dequantised(q: QuantisedFeatureMap): FeatureMap {
    const { channels, height, width } = q;
    const data = new Float32Array(channels * height * width);
    for (let i = 0; i < height * width; i++) {
      for (let c = 0; c < channels; c++) data[c * height * width + i] = Math.fround((q.data[i * channels + c] - q.zeroPoint) * Math.fround(q.scale));
    }
    return { data, channels, height, width };
  }

  function randomBytes(channels: number, height: number, width: number, seed: number, byteOffset: number, zeroPoint: number): QuantisedFeatureMap {
    const r = lcg(seed);
    const buffer = new Uint8Array(byteOffset + channels * height * width);
    // ReLU-like: most cells at the zero point, the rest spread over the whole byte range.
    for (let i = byteOffset; i < buffer.length; i++) buffer[i] = r() < 0.5 ? zeroPoint : Math.floor(r() * 256);
    return { data: buffer.subarray(byteOffset), channels, height, width, scale: 0.0235294122248888, zeroPoint };
  }

  it('gives bit for bit the floats of pooling the dequantised map, for any channel count, offset and zero point', () => {
    const cases: Array<[channels: number, height: number, width: number, byteOffset: number, zeroPoint: number]> = [
      [816, 24, 32, 0, 0], [816, 27, 32, 0, 0], [8, 13, 40, 0, 0], [5, 9, 9, 0, 17], [7, 6, 8, 3, 255], [12, 1, 1, 1, 0], [4, 12, 16, 2, 128],
    ];
    cases.forEach(([channels, height, width, byteOffset, zeroPoint], i) => {
      const q = randomBytes(channels, height, width, 500 + i, byteOffset, zeroPoint);
      const f = dequantised(q);
      const regions = [...rmacRegions(width, height), ...rmacRegions(width, height, { levels: 5 }), { x: 0.5, y: -1, width: width / 2, height: height / 3 + 1 }, { x: 0, y: 0, width, height }];
      const pooled = maxPoolRegions(q, regions);
      expect(pooled.length).toBe(regions.length);
      regions.forEach((region, k) => {
        expect(Array.from(pooled[k]), `${channels} channels, region ${JSON.stringify(region)} of ${width}×${height}`).toEqual(Array.from(maxPoolRegion(f, region)));
      });
    });
  });

  it('refuses a byte count that does not match the shape, and a region outside the map', () => {
    const q = randomBytes(4, 3, 3, 1, 0, 0);
    expect(() => maxPoolRegions({ ...q, channels: 5 }, [{ x: 0, y: 0, width: 1, height: 1 }])).toThrow(/36 bytes for a 3×3×5 map/);
    expect(() => maxPoolRegions(q, [{ x: 3, y: 0, width: 1, height: 1 }])).toThrow(/outside/);
  });
});

describe('l2normalize', () => {
  it('gives unit length and leaves zero vectors at zero', () => {
    expect(Array.from(l2normalize(new Float32Array([3, 4])))).toEqual([0.6000000238418579, 0.800000011920929]);
    expect(Array.from(l2normalize(new Float32Array([0, 0])))).toEqual([0, 0]);
  });
});
