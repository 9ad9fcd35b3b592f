import { describe, expect, it } from 'vitest';
import { DescriptorMatrix } from '../../app/search/descriptorMatrix.js';
import { neighbourGraphAbove, quantisationMargin } from '../../app/search/neighbourGraph.js';

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

function expectSameLists(got: Awaited<ReturnType<typeof neighbourGraphAbove>>, want: ReturnType<DescriptorMatrix['allPairsAbove']>): void {
  expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
  expect(Array.from(got.counts)).toEqual(Array.from(want.counts));
  for (let r = 0; r < want.ids.length; r++) {
    for (let j = 0; j < want.counts[r]; j++) {
      const p = r * want.k + j;
      expect(got.neighbours[p]).toBe(want.neighbours[p]);
      expect(got.scores[p]).toBeCloseTo(want.scores[p], 5);
    }
  }
}

describe('neighbourGraphAbove (blocked onnxruntime int8 products, exact rescoring)', () => {
  it('gives the same lists as the exact JS all-pairs scan, across block boundaries', async () => {
    const m = clustered(700, 48);
    const want = m.allPairsAbove(0.6, 5);
    const got = await neighbourGraphAbove(m, 0.6, 5, { block: 128 });
    // int8 shortlist, float32 rescoring vs the JS loop: identical neighbours, scores within rounding.
    expectSameLists(got, want);
  });

  it('loses no pair when thousands of scores crowd the threshold (512-d, threshold at the median score)', async () => {
    const m = clustered(600, 512, 11);
    const scores: number[] = [];
    const rows = m.rows();
    for (let i = 0; i < 600; i += 7) for (let j = i + 1; j < 600; j += 5) {
      let s = 0;
      for (let c = 0; c < 512; c++) s += rows[i * 512 + c] * rows[j * 512 + c];
      scores.push(s);
    }
    scores.sort((a, b) => a - b);
    const threshold = scores[scores.length >> 1];
    const near = scores.filter((s) => Math.abs(s - threshold) < 0.01).length;
    expect(near).toBeGreaterThan(100);
    expectSameLists(await neighbourGraphAbove(m, threshold, 25, { block: 200 }), m.allPairsAbove(threshold, 25));
  });

  it('keeps the shortlist margin small for unit vectors and growing with the largest component', () => {
    expect(quantisationMargin(0.25)).toBeLessThan(0.025);
    expect(quantisationMargin(1)).toBeGreaterThan(quantisationMargin(0.5));
    expect(quantisationMargin(0.5)).toBeCloseTo(2 * quantisationMargin(0.25), 10);
  });

  it('handles empty and single-row matrices', async () => {
    expect((await neighbourGraphAbove(new DescriptorMatrix(8), 0.5, 3)).ids.length).toBe(0);
    const one = new DescriptorMatrix(2);
    one.upsert(1, [1, 0]);
    expect(Array.from((await neighbourGraphAbove(one, 0.5, 3)).counts)).toEqual([0]);
  });
});
