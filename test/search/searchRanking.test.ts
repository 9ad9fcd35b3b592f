// rankWithExpansion must rank exactly as the evaluation module's brute-force QE and DBA do (the
// benchmark's numbers are only the product's numbers if so), on a matrix whose row order differs
// from id order after removals.
import { describe, expect, it } from 'vitest';
import { averageQueryExpansion, databaseSideAugmentation, rankByDotProduct } from '../../app/eval/queryExpansion.js';
import { DescriptorMatrix } from '../../app/search/descriptorMatrix.js';
import { augmentDatabase, expandQuery, rankWithExpansion } from '../../app/search/searchRanking.js';
import { rng } from '../support/random.js';

const D = 24;


function unit(rand: () => number): Float32Array {
  const v = Float32Array.from({ length: D }, () => rand() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function library(): DescriptorMatrix {
  const rand = rng(21);
  const m = new DescriptorMatrix(D);
  // Clusters, so that expansion has something to find.
  for (let c = 0; c < 6; c++) {
    const centre = unit(rand);
    for (let i = 0; i < 15; i++) m.upsert(c * 100 + i, centre.map((x) => x + 0.15 * (rand() - 0.5)).map((x, _, a) => x / Math.hypot(...a)));
  }
  for (const id of [3, 107, 412, 500]) m.remove(id);
  return m;
}

/** The eval module's full ranking, mapped back to photo ids. */
function reference(m: DescriptorMatrix, db: Float32Array, q: Float32Array, k: number, exclude = new Set<number>()): number[] {
  const ids = m.ids();
  return Array.from(rankByDotProduct(q, db, m.size, D)).map((r) => ids[r]).filter((id) => !exclude.has(id)).slice(0, k);
}

describe('rankWithExpansion', () => {
  const m = library();
  const q = m.get(205)!;

  it('without options is topK', () => {
    expect(rankWithExpansion(m, q, { k: 10 })).toEqual(m.topK(q, 10));
    expect(rankWithExpansion(m, q, { k: 10, exclude: new Set([205]), minScore: 0.9 })).toEqual(m.topK(q, 10, { exclude: new Set([205]), minScore: 0.9 }));
  });

  it('with QE ranks by the average of the query and its top n, as the eval module does', () => {
    const n = 4;
    const ranking = rankByDotProduct(q, m.rows(), m.size, D);
    const expanded = averageQueryExpansion(q, m.rows(), D, ranking, n);
    const got = rankWithExpansion(m, q, { k: 20, qe: n });
    expect(got.map((r) => r.id)).toEqual(reference(m, m.rows(), expanded, 20));
    got.forEach((r) => expect(r.score).toBeCloseTo(m.scoreWith(r.id, expanded)!, 6));
  });

  it('with QE never expands with an excluded photo', () => {
    const exclude = new Set([205]);
    const top = m.topK(q, 3, { exclude }).map((r) => m.rowOf(r.id)!);
    const want = averageQueryExpansion(q, m.rows(), D, top, 3);
    expect(Array.from(expandQuery(m, q, 3, exclude))).toEqual(Array.from(want));
    expect(rankWithExpansion(m, q, { k: 50, qe: 3, exclude }).some((r) => r.id === 205)).toBe(false);
    expect(Array.from(expandQuery(m, q, 0))).toEqual(Array.from(q));
    expect(() => expandQuery(m, q, -1)).toThrow(/non-negative/);
  });

  it('with DBA ranks against the augmented database, computed here or passed in', () => {
    const augmented = databaseSideAugmentation(m.rows(), m.size, D, 3);
    const cached = augmentDatabase(m, 3);
    expect(Array.from(cached.ids())).toEqual(Array.from(m.ids()));
    expect(Array.from(cached.rows())).toEqual(Array.from(augmented));
    const want = reference(m, augmented, q, 15);
    expect(rankWithExpansion(m, q, { k: 15, dba: 3 }).map((r) => r.id)).toEqual(want);
    expect(rankWithExpansion(m, q, { k: 15, dba: cached }).map((r) => r.id)).toEqual(want);
  });

  it('with QE and DBA expands with augmented vectors', () => {
    const augmented = augmentDatabase(m, 3);
    const ranking = rankByDotProduct(q, augmented.rows(), m.size, D);
    const expanded = averageQueryExpansion(q, augmented.rows(), D, ranking, 2);
    expect(rankWithExpansion(m, q, { k: 15, qe: 2, dba: augmented }).map((r) => r.id)).toEqual(reference(m, augmented.rows(), expanded, 15));
  });

  it('refuses a stale augmented matrix and a query of the wrong size', () => {
    const stale = augmentDatabase(m, 3);
    stale.remove(stale.idAt(0));
    expect(() => rankWithExpansion(m, q, { k: 5, dba: stale })).toThrow(/does not match/);
    expect(() => rankWithExpansion(m, new Float32Array(D + 1), { k: 5 })).toThrow(/dimensions/);
  });
});
