// areaResample against values worked out by hand and against an independent implementation
// (a per-pixel double integral over the footprint, written the slow obvious way).
import { describe, expect, it } from 'vitest';
import { areaResample, halvePacked, isHalf, lumaOf, toBytes } from '../../app/library/areaResample.js';

/** The mean of the source over [x0,x1)×[y0,y1), each pixel weighted by its overlap area. */
function footprintMean(plane: Float32Array, width: number, x0: number, x1: number, y0: number, y1: number): number {
  let sum = 0;
  let area = 0;
  for (let y = Math.floor(y0); y < y1; y++) {
    for (let x = Math.floor(x0); x < x1; x++) {
      const a = (Math.min(x1, x + 1) - Math.max(x0, x)) * (Math.min(y1, y + 1) - Math.max(y0, y));
      if (a <= 0) continue;
      sum += plane[y * width + x] * a;
      area += a;
    }
  }
  return sum / area;
}

function randomPlane(width: number, height: number, seed = 7): Float32Array {
  let s = seed;
  return Float32Array.from({ length: width * height }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % 256));
}

describe('areaResample', () => {
  it('averages whole blocks for integer factors', () => {
    // 4×2 → 2×1: each output pixel is the mean of a 2×2 block.
    const plane = Float32Array.from([1, 3, 10, 20, 5, 7, 30, 40]);
    expect([...areaResample(plane, 4, 2, 2, 1)]).toEqual([4, 25]);
  });

  it('weights partly covered pixels by the overlap (3 → 2 pixels)', () => {
    // Output 0 covers source [0, 1.5): 1·a + 0.5·b over 1.5; output 1 covers [1.5, 3).
    const out = areaResample(Float32Array.from([3, 6, 9]), 3, 1, 2, 1);
    expect(out[0]).toBeCloseTo((3 + 0.5 * 6) / 1.5, 5);
    expect(out[1]).toBeCloseTo((0.5 * 6 + 9) / 1.5, 5);
  });

  it('matches the footprint integral for non-integer factors and crops', () => {
    const [w, h] = [517, 389];
    const plane = randomPlane(w, h);
    for (const [ow, oh, crop] of [
      [384, 289, undefined],
      [32, 32, undefined],
      [32, 32, { x: (w - h) / 2, y: 0, width: h, height: h }],
      [50, 7, { x: 3.25, y: 10.5, width: 101.5, height: 33 }],
    ] as const) {
      const c = crop ?? { x: 0, y: 0, width: w, height: h };
      const out = areaResample(plane, w, h, ow, oh, c);
      const sx = c.width / ow;
      const sy = c.height / oh;
      for (const [i, j] of [[0, 0], [ow - 1, oh - 1], [ow >> 1, oh >> 1], [1, oh - 2]]) {
        const ref = footprintMean(plane, w, c.x + i * sx, c.x + (i + 1) * sx, c.y + j * sy, c.y + (j + 1) * sy);
        expect(out[j * ow + i]).toBeCloseTo(ref, 3);
      }
    }
  });

  it('keeps a constant image constant and never reads outside the source', () => {
    const plane = new Float32Array(13 * 11).fill(200);
    const out = areaResample(plane, 13, 11, 5, 4);
    for (const v of out) expect(v).toBeCloseTo(200, 4);
    // Box upscaling along a short axis (a panorama's height) still covers the source exactly.
    const tall = areaResample(Float32Array.from([0, 100]), 1, 2, 1, 4);
    expect([...tall]).toEqual([0, 0, 100, 100]);
  });

  it('refuses crops outside the source and empty outputs', () => {
    const plane = new Float32Array(16);
    expect(() => areaResample(plane, 4, 4, 2, 2, { x: 1, y: 0, width: 4, height: 4 })).toThrow(RangeError);
    expect(() => areaResample(plane, 4, 4, 0, 2)).toThrow(RangeError);
    expect(() => areaResample(new Float32Array(3), 4, 4, 2, 2)).toThrow(RangeError);
  });
});

describe('lumaOf and toBytes', () => {
  it('uses Rec. 601 weights and rounds with clamping', () => {
    const luma = lumaOf(Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]), 4, 1, 3);
    expect(luma[0]).toBeCloseTo(0.299 * 255, 3);
    expect(luma[1]).toBeCloseTo(0.587 * 255, 3);
    expect(luma[2]).toBeCloseTo(0.114 * 255, 3);
    expect(luma[3]).toBeCloseTo(0.299 * 10 + 0.587 * 20 + 0.114 * 30, 3);
    expect([...toBytes(Float32Array.from([-3, 0.5, 254.6, 300]))]).toEqual([0, 1, 255, 255]);
    expect(() => lumaOf(new Uint8Array(5), 2, 1, 3)).toThrow(RangeError);
  });
});

describe('halvePacked', () => {
  it('averages each 2×2 block per channel, rounding halves up', () => {
    // 4×2, 2 channels: block means per channel, worked out by hand.
    const px = Uint8Array.from([
      0, 10, 1, 11, 100, 0, 101, 255,
      2, 12, 4, 13, 102, 1, 103, 254,
    ]);
    // Channel 0, left block: (0+1+2+4)/4 = 1.75 → 2; channel 1: (10+11+12+13)/4 = 11.5 → 12.
    // Right block: (100+101+102+103)/4 = 101.5 → 102; (0+255+1+254)/4 = 127.5 → 128.
    expect([...halvePacked(px, 4, 2, 2, 2, 1)]).toEqual([2, 12, 102, 128]);
  });

  it('equals the area average of areaResample for even sizes', () => {
    const w = 10;
    const h = 6;
    const plane = Float32Array.from({ length: w * h }, (_, i) => (i * 37) % 256);
    const bytes = Uint8Array.from(plane);
    const half = halvePacked(bytes, w, h, 1, 5, 3);
    const area = areaResample(plane, w, h, 5, 3);
    // Both are the exact block mean; halvePacked rounds it to a byte, halves up.
    area.forEach((v, i) => expect(half[i]).toBe(Math.floor(v + 0.5)));
  });

  it('halves odd sides either way: rounding down drops the last row, rounding up averages it with itself', () => {
    const px = Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90]); // 3×3 grey
    expect([...halvePacked(px, 3, 3, 1, 1, 1)]).toEqual([30]); // (10+20+40+50)/4
    expect([...halvePacked(px, 3, 3, 1, 2, 2)]).toEqual([30, 45, 75, 90]); // (30+30+60+60)/4 = 45, (70+80+70+80)/4 = 75
  });

  it('refuses sizes that are not a half and data of the wrong length', () => {
    expect(() => halvePacked(new Uint8Array(16), 4, 4, 1, 3, 2)).toThrow(RangeError);
    expect(() => halvePacked(new Uint8Array(15), 4, 4, 1, 2, 2)).toThrow(RangeError);
    expect(() => halvePacked(new Uint8Array(16), 4, 4, 0, 2, 2)).toThrow(RangeError);
    expect(isHalf(683, 342)).toBe(true);
    expect(isHalf(683, 341)).toBe(true);
    expect(isHalf(683, 343)).toBe(false);
    expect(isHalf(1, 0)).toBe(false);
  });
});
