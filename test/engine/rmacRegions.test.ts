import { describe, expect, it } from 'vitest';
import { rmacRegions } from '../../app/engine/rmacRegions.js';

const asTuples = (w: number, h: number, opts = {}) => rmacRegions(w, h, opts).map((r) => [r.x, r.y, r.width, r.height]);

describe('rmacRegions (DESIGN.md §1.1, Tolias et al.)', () => {
  it('gives the paper’s 20 regions for a 4:3 map at L = 3', () => {
    // W=16, H=12: w=12; steps=2 gives b=4, overlap (144−48)/144=0.667, the closest to 0.4 → Wd=1.
    // l=1: wl=12, wl2=5, 2 along W (step 4): x=0,4; 1 along H: y=0.
    // l=2: wl=8, wl2=3, 3 along W (step 4): x=0,4,8; 2 along H (step 4): y=0,4.
    // l=3: wl=6, wl2=2, 4 along W (step 10/3): floor(2+0)−2=0, floor(2+3.33)−2=3, floor(2+6.67)−2=6, floor(2+10)−2=10;
    //      3 along H (step 3): 0,3,6.
    expect(asTuples(16, 12)).toEqual([
      [0, 0, 12, 12], [4, 0, 12, 12],
      [0, 0, 8, 8], [4, 0, 8, 8], [8, 0, 8, 8], [0, 4, 8, 8], [4, 4, 8, 8], [8, 4, 8, 8],
      [0, 0, 6, 6], [3, 0, 6, 6], [6, 0, 6, 6], [10, 0, 6, 6],
      [0, 3, 6, 6], [3, 3, 6, 6], [6, 3, 6, 6], [10, 3, 6, 6],
      [0, 6, 6, 6], [3, 6, 6, 6], [6, 6, 6, 6], [10, 6, 6, 6],
    ]);
  });

  it('gives 1 + 4 + 9 = 14 regions for a square map', () => {
    // W=H=12: Wd=Hd=0. l=1: one 12×12; l=2: wl=8, 2×2 at 0,4; l=3: wl=6, 3×3 at 0,3,6.
    expect(asTuples(12, 12)).toEqual([
      [0, 0, 12, 12],
      [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 8, 8], [4, 4, 8, 8],
      [0, 0, 6, 6], [3, 0, 6, 6], [6, 0, 6, 6],
      [0, 3, 6, 6], [3, 3, 6, 6], [6, 3, 6, 6],
      [0, 6, 6, 6], [3, 6, 6, 6], [6, 6, 6, 6],
    ]);
  });

  it('transposes the layout for a portrait map', () => {
    const landscape = asTuples(16, 12);
    const portrait = asTuples(12, 16).map(([x, y, w, h]) => [y, x, h, w]);
    expect(portrait.sort()).toEqual(landscape.sort());
  });

  it('pools a 1×1 map as a single region', () => {
    // w=1: l=1 gives wl=1; l=2 and l=3 give wl=0 and are skipped.
    expect(asTuples(1, 1)).toEqual([[0, 0, 1, 1]]);
  });

  it('adds more regions along a very wide map', () => {
    // W=32, H=8: w=8; b=24/(s−1) = 24, 12, 8, 6, 4.8, 4 → overlaps 1−b/8 = −2, −0.5, 0, 0.25, 0.4, 0.5
    // → steps=6, Wd=5: six 8×8 regions at l=1.
    const regions = rmacRegions(32, 8);
    expect(regions.filter((r) => r.width === 8).map((r) => r.x)).toEqual([0, 4, 9, 14, 19, 24]);
    for (const r of regions) {
      expect(r.x).toBeGreaterThanOrEqual(0);
      expect(r.x + r.width).toBeLessThanOrEqual(32);
      expect(r.y + r.height).toBeLessThanOrEqual(8);
    }
  });

  it('optionally adds the full-image region and honours L', () => {
    expect(asTuples(16, 12, { includeFullImage: true }).at(-1)).toEqual([0, 0, 16, 12]);
    expect(rmacRegions(16, 12, { levels: 1 })).toHaveLength(2);
  });

  it('rejects an empty map', () => {
    expect(() => rmacRegions(0, 5)).toThrow(/at least 1×1/);
  });
});
