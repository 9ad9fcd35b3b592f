// DescriptorMatrix against brute force on random unit vectors: upserts, replacements and removals
// (whose row swapping must never leave a stale id behind), topK with exclusions and a score floor,
// and allPairsAbove across the tile and chunk boundaries of its blocked loop.
import { describe, expect, it } from 'vitest';
import { DescriptorMatrix, type ScoredId } from '../../app/search/descriptorMatrix.js';
import { rng } from '../support/random.js';


function unitVector(d: number, rand: () => number): Float32Array {
  const v = new Float32Array(d);
  let n = 0;
  for (let i = 0; i < d; i++) {
    v[i] = rand() - 0.5;
    n += v[i] * v[i];
  }
  for (let i = 0; i < d; i++) v[i] /= Math.sqrt(n);
  return v;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** The reference: every stored vector scored, sorted by score then id. */
function bruteForce(store: Map<number, Float32Array>, q: Float32Array, k: number, exclude = new Set<number>(), minScore = -Infinity): ScoredId[] {
  return [...store]
    .filter(([id]) => !exclude.has(id))
    .map(([id, v]) => ({ id, score: dot(q, v) }))
    .filter((r) => r.score >= minScore)
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .slice(0, k);
}

function expectSameRanking(got: ScoredId[], want: ScoredId[]): void {
  expect(got.map((r) => r.id)).toEqual(want.map((r) => r.id));
  got.forEach((r, i) => expect(r.score).toBeCloseTo(want[i].score, 10));
}

describe('DescriptorMatrix', () => {
  it('matches brute force through upserts, replacements and removals, growing past its capacity', () => {
    const d = 37; // not a multiple of 4: exercises the unrolled loop's remainder
    const rand = rng(1);
    const m = new DescriptorMatrix(d, 4);
    const store = new Map<number, Float32Array>();
    for (let step = 0; step < 3000; step++) {
      const id = Math.floor(rand() * 400) - 50; // negative ids are ids too
      const r = rand();
      if (r < 0.6) {
        const v = unitVector(d, rand);
        m.upsert(id, v);
        store.set(id, v);
      } else {
        expect(m.remove(id)).toBe(store.delete(id));
      }
      if (step % 250 === 0) {
        const q = unitVector(d, rand);
        expectSameRanking(m.topK(q, 15), bruteForce(store, q, 15));
      }
    }
    expect(m.size).toBe(store.size);
    for (const [id, v] of store) {
      expect(m.has(id)).toBe(true);
      expect(Array.from(m.get(id)!)).toEqual(Array.from(v));
      expect(m.idAt(m.rowOf(id)!)).toBe(id);
    }
    expect(new Set(m.ids())).toEqual(new Set(store.keys()));
    expect(m.get(100_000)).toBeUndefined();
    expect(m.remove(100_000)).toBe(false);
    const q = unitVector(d, rand);
    expectSameRanking(m.topK(q, store.size + 10), bruteForce(store, q, store.size + 10));
  });

  it('get returns a copy that later removals do not change', () => {
    const m = new DescriptorMatrix(2);
    m.upsert(1, [1, 0]);
    m.upsert(2, [0, 1]);
    const v = m.get(1)!;
    m.remove(1); // moves row of id 2 into row 0
    expect(Array.from(v)).toEqual([1, 0]);
    expect(Array.from(m.get(2)!)).toEqual([0, 1]);
  });

  it('from() copies the matrix and rejects inconsistent input', () => {
    const rand = rng(2);
    const d = 8;
    const rows = new Float32Array(5 * d).map(() => rand());
    const m = DescriptorMatrix.from(Int32Array.from([10, 11, 12, 13, 14]), rows, d);
    rows.fill(0);
    expect(m.size).toBe(5);
    expect(m.get(12)![0]).not.toBe(0);
    expect(() => DescriptorMatrix.from([1, 2], new Float32Array(3 * d), d)).toThrow(/do not make/);
    expect(() => DescriptorMatrix.from([1, 1], new Float32Array(2 * d), d)).toThrow(/twice/);
    expect(() => m.upsert(1, new Float32Array(d - 1))).toThrow(/dimensions/);
    expect(() => m.upsert(1.5, new Float32Array(d))).toThrow(/integer/);
    expect(() => m.upsert(1, new Float32Array(d).fill(NaN))).toThrow(/NaN/);
    // One bad value anywhere, in the unrolled body or the tail of the check, names its place.
    for (const [at, bad] of [[0, NaN], [5, Infinity], [3 * 7 - 1, -Infinity], [3 * 7 - 2, NaN]] as const) {
      const values = Float32Array.from({ length: 3 * 7 }, (_, i) => (i % 5) - 2.5);
      values[at] = bad;
      expect(() => DescriptorMatrix.from([1, 2, 3], values, 7)).toThrow(new RegExp(`value ${at} is ${bad}`));
    }
    expect(DescriptorMatrix.from([1, 2, 3], Float32Array.from({ length: 21 }, (_, i) => (i % 2 ? -1e38 : 3.4e38)), 7).size).toBe(3);
    expect(() => m.topK(new Float32Array(d + 1), 3)).toThrow(/dimensions/);
  });

  it('topK honours exclusion and minScore, and breaks ties towards the lower id', () => {
    const rand = rng(3);
    const d = 64;
    const m = new DescriptorMatrix(d);
    const store = new Map<number, Float32Array>();
    for (let id = 0; id < 500; id++) {
      const v = unitVector(d, rand);
      m.upsert(id, v);
      store.set(id, v);
    }
    const q = store.get(7)!;
    const exclude = new Set([7, 3, 99]);
    for (const k of [0, 1, 5, 50]) {
      for (const minScore of [-Infinity, 0, 0.2]) {
        expectSameRanking(m.topK(q, k, { exclude, minScore }), bruteForce(store, q, k, exclude, minScore));
      }
    }
    // The excluded best match never comes back, even when k covers everything.
    expect(m.topK(q, 1000, { exclude }).some((r) => exclude.has(r.id))).toBe(false);
    expect(m.topK(q, 1)[0]).toEqual({ id: 7, score: expect.closeTo(1, 6) });
    expect(m.topK(q, 10, { minScore: 1.5 })).toEqual([]);

    const ties = new DescriptorMatrix(2);
    for (const id of [9, 4, 6, 1]) ties.upsert(id, [1, 0]);
    ties.upsert(5, [0, 1]);
    expect(ties.topK(Float32Array.from([1, 0]), 3).map((r) => r.id)).toEqual([1, 4, 6]);
    expect(ties.topK(Float32Array.from([1, 0]), 3, { exclude: new Set([1]) }).map((r) => r.id)).toEqual([4, 6, 9]);
  });

  it('allPairsAbove equals brute force per row, across tile and chunk boundaries', () => {
    const rand = rng(4);
    for (const [n, d] of [[1, 5], [2, 3], [7, 5], [131, 9], [203, 600]]) {
      // Negative ids included: the lists' lengths are in `counts`, not marked by a sentinel id.
      const ids = Array.from({ length: n }, (_, i) => 300 - 3 * i);
      const vecs = ids.map(() => unitVector(d, rand));
      // Near copies so that some rows have more neighbours above the threshold than k.
      for (let i = 1; i < n; i += 3) for (let t = 0; t < d; t++) vecs[i][t] = vecs[i - 1][t] + 0.05 * vecs[i][t];
      const m = new DescriptorMatrix(d);
      ids.forEach((id, i) => m.upsert(id, vecs[i]));
      const store = new Map(ids.map((id, i) => [id, vecs[i]] as const));
      for (const [threshold, k] of [[-Infinity, 3], [0.05, 4], [0.5, 2], [2, 5]]) {
        const g = m.allPairsAbove(threshold, k);
        expect(g.k).toBe(k);
        expect(Array.from(g.ids)).toEqual(Array.from(m.ids()));
        for (let r = 0; r < n; r++) {
          const id = g.ids[r];
          const want = bruteForce(store, store.get(id)!, k, new Set([id]), threshold);
          const got: ScoredId[] = [];
          for (let j = 0; j < g.counts[r]; j++) got.push({ id: g.neighbours[r * k + j], score: g.scores[r * k + j] });
          expectSameRanking(got, want);
        }
      }
    }
  });

});

describe('DescriptorMatrix.from with adopt', () => {
  it('uses the given storage, stays correct, and grows on the next upsert', () => {
    const rand = rng(11);
    const d = 8;
    const n = 40;
    const data = Float32Array.from({ length: n * d }, () => rand() - 0.5);
    const ids = Int32Array.from({ length: n }, (_, i) => 100 + i);
    const copied = DescriptorMatrix.from(ids, data.slice(), d);
    const adopted = DescriptorMatrix.from(ids, data, d, { adopt: true });
    const q = Float32Array.from({ length: d }, () => rand() - 0.5);
    expect(adopted.topK(q, 5)).toEqual(copied.topK(q, 5));
    adopted.upsert(999, q);
    expect(adopted.size).toBe(n + 1);
    expect(adopted.topK(q, 1)[0].id).toBe(999);
    expect(Array.from(adopted.get(100)!)).toEqual(Array.from(copied.get(100)!));
  });

  it('copies small inputs instead (their storage could not hold the minimum capacity)', () => {
    const small = DescriptorMatrix.from([1, 2], new Float32Array([1, 0, 0, 1]), 2, { adopt: true });
    small.upsert(3, [1, 1]);
    expect(small.size).toBe(3);
    expect(Array.from(small.get(3)!)).toEqual([1, 1]);
  });
});
