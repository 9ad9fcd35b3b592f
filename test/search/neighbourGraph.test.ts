import { describe, expect, it } from 'vitest';
import { DescriptorMatrix } from '../../app/search/descriptorMatrix.js';
import { neighbourGraphAbove } from '../../app/search/neighbourGraph.js';

function clustered(n: number, d: number, seed = 3): DescriptorMatrix {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const centres = Array.from({ length: Math.ceil(n / 7) }, () => Float32Array.from({ length: d }, rnd));
  const m = new DescriptorMatrix(d, n);
  for (let i = 0; i < n; i++) {
    const v = Float32Array.from(centres[i % centres.length], (c) => c + 0.25 * rnd());
    const norm = Math.hypot(...v);
    m.upsert(1000 + 3 * i, v.map((x) => x / norm));
  }
  return m;
}

describe('neighbourGraphAbove (blocked onnxruntime products)', () => {
  it('gives the same lists as the exact JS all-pairs scan, across block boundaries', async () => {
    const m = clustered(700, 48);
    const want = m.allPairsAbove(0.6, 5);
    const got = await neighbourGraphAbove(m, 0.6, 5, { block: 128 });
    expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
    expect(Array.from(got.counts)).toEqual(Array.from(want.counts));
    for (let r = 0; r < want.ids.length; r++) {
      for (let j = 0; j < want.counts[r]; j++) {
        const p = r * want.k + j;
        // float32 GEMM vs the JS loop: identical neighbours, scores within rounding.
        expect(got.neighbours[p]).toBe(want.neighbours[p]);
        expect(got.scores[p]).toBeCloseTo(want.scores[p], 5);
      }
    }
  });

  it('handles empty and single-row matrices', async () => {
    expect((await neighbourGraphAbove(new DescriptorMatrix(8), 0.5, 3)).ids.length).toBe(0);
    const one = new DescriptorMatrix(2);
    one.upsert(1, [1, 0]);
    expect(Array.from((await neighbourGraphAbove(one, 0.5, 3)).counts)).toEqual([0]);
  });
});
