import { describe, expect, it } from 'vitest';
import {
  averageQueryExpansion,
  databaseSideAugmentation,
  dotProducts,
  nearestNeighbourLists,
  rankByDotProduct,
  topK,
} from '../../app/eval/queryExpansion.js';

const f32 = (...v: number[]) => Float32Array.from(v);
const rows = (...r: number[][]) => Float32Array.from(r.flat());
const close = (actual: ArrayLike<number>, expected: number[]) => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, 6));
};

// d = 2 unit vectors: a = (1, 0), b = (0.8, 0.6), c = (0, 1), a copy of a.
const a = [1, 0];
const b = [0.8, 0.6];
const c = [0, 1];

describe('ranking', () => {
  it('ranks by descending dot product, equal scores in index order', () => {
    const db = rows(c, a, b, a);
    close(dotProducts(f32(1, 0), db, 4, 2), [0, 1, 0.8, 1]);
    expect(Array.from(rankByDotProduct(f32(1, 0), db, 4, 2))).toEqual([1, 3, 2, 0]);
  });

  it('topK keeps the best k, ties to the lower index, and can exclude one row', () => {
    const scores = [0.5, 0.9, 0.5, 0.9, 0.1];
    expect(Array.from(topK(scores, 3))).toEqual([1, 3, 0]);
    expect(Array.from(topK(scores, 2, 1))).toEqual([3, 0]);
    expect(Array.from(topK(scores, 10))).toEqual([1, 3, 0, 2, 4]);
    expect(Array.from(topK(scores, 10, 4))).toEqual([1, 3, 0, 2]);
    expect(topK(scores, 0)).toHaveLength(0);
  });

  it('refuses a matrix whose size does not match its shape', () => {
    expect(() => dotProducts(f32(1, 0), f32(1, 0, 0), 2, 2)).toThrow(/3 values do not make 2 × 2/);
    expect(() => dotProducts(f32(1, 0, 0), rows(a, b), 2, 2)).toThrow(/query has 3 dimensions, expected 2/);
  });
});

describe('averageQueryExpansion', () => {
  it('is the normalised mean of the query and its top k', () => {
    const db = rows(c, b, a);
    // k = 1 with ranking [2, 1, 0]: (1,0) + a = (2, 0) → (1, 0).
    close(averageQueryExpansion(f32(1, 0), db, 2, [2, 1, 0], 1), [1, 0]);
    // k = 2: (1,0) + a + b = (2.8, 0.6), norm √8.2.
    close(averageQueryExpansion(f32(1, 0), db, 2, [2, 1, 0], 2), [2.8 / Math.sqrt(8.2), 0.6 / Math.sqrt(8.2)]);
    // k = 3 (all): (1,0) + a + b + c = (2.8, 1.6), norm √10.4.
    close(averageQueryExpansion(f32(1, 0), db, 2, Int32Array.from([2, 1, 0]), 3), [2.8 / Math.sqrt(10.4), 1.6 / Math.sqrt(10.4)]);
  });

  it('uses the whole ranking when it is shorter than k, and only the query when k = 0', () => {
    close(averageQueryExpansion(f32(1, 0), rows(c), 2, [0], 5), [Math.SQRT1_2, Math.SQRT1_2]);
    close(averageQueryExpansion(f32(0.6, 0.8), rows(c), 2, [0], 0), [0.6, 0.8]);
  });

  it('rejects a ranking entry that is not a row', () => {
    expect(() => averageQueryExpansion(f32(1, 0), rows(a), 2, [1], 1)).toThrow(/ranking\[0\] = 1 is not a row/);
  });
});

describe('databaseSideAugmentation', () => {
  const db = rows(a, b, c);

  it('adds the neighbours with weights (k − i)/k, the row itself being i = 0', () => {
    // k = 3: self · 1 + 1st neighbour · 2/3 + 2nd neighbour · 1/3 (the 3rd would weigh 0).
    // a: neighbours b (a·b = 0.8), c (0) → (1, 0) + 2/3 (0.8, 0.6) + 1/3 (0, 1) = (1.5333…, 0.7333…)
    // b: neighbours a (0.8), c (0.6)    → (0.8, 0.6) + 2/3 (1, 0) + 1/3 (0, 1)  = (1.4666…, 0.9333…)
    // c: neighbours b (0.6), a (0)      → (0, 1) + 2/3 (0.8, 0.6) + 1/3 (1, 0)  = (0.8666…, 1.4)
    const norm = ([x, y]: number[]) => [x / Math.hypot(x, y), y / Math.hypot(x, y)];
    close(databaseSideAugmentation(db, 3, 2, 3), [
      ...norm([1 + 1.6 / 3, 0.4 + 1 / 3]),
      ...norm([0.8 + 2 / 3, 0.6 + 1 / 3]),
      ...norm([1.6 / 3 + 1 / 3, 1 + 0.4]),
    ]);
    // k = 2: self + 1/2 · nearest. a → (1.4, 0.3).
    close(databaseSideAugmentation(db, 3, 2, 2).subarray(0, 2), norm([1.4, 0.3]));
  });

  it('leaves the database as it is for k = 1 (the only neighbour weighs 0) and k = 0', () => {
    close(databaseSideAugmentation(db, 3, 2, 1), [...a, ...b, ...c]);
    close(databaseSideAugmentation(db, 3, 2, 0), [...a, ...b, ...c]);
  });

  it('copes with k larger than the database', () => {
    expect(databaseSideAugmentation(db, 3, 2, 10)).toHaveLength(6);
    expect(databaseSideAugmentation(f32(1, 0), 1, 2, 5)).toEqual(f32(1, 0));
  });
});

describe('nearestNeighbourLists', () => {
  it('matches brute force for every row, with ties, for sizes that exercise the tiled and tail paths', () => {
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const n of [1, 2, 4, 5, 6, 8, 9, 11, 37]) {
      const d = 3;
      // Values in {−1, 0, 1}: many exactly equal dot products.
      const db = Float32Array.from({ length: n * d }, () => Math.floor(rnd() * 3) - 1);
      for (const m of new Set([0, 1, 3, n - 1])) {
        if (m < 0 || m > n - 1) continue;
        const nn = nearestNeighbourLists(db, n, d, m);
        for (let i = 0; i < n; i++) {
          const expected = topK(dotProducts(db.subarray(i * d, (i + 1) * d), db, n, d), m, i);
          expect(Array.from(nn.idx.subarray(i * m, (i + 1) * m)), `n=${n} m=${m} row ${i}`).toEqual(Array.from(expected));
        }
      }
    }
  });
});
