import { describe, expect, it } from 'vitest';
import { averagePrecision, meanAveragePrecision } from '../../app/eval/averagePrecision.js';

const set = (...ids: string[]) => new Set(ids);
const none = set();

/** A line-by-line transcript of the datasets' compute_ap.cpp, kept as an independent oracle. */
function computeApCpp(pos: Set<string>, amb: Set<string>, ranked: string[]): number {
  let oldRecall = 0;
  let oldPrecision = 1;
  let ap = 0;
  let intersect = 0;
  let j = 0;
  for (let i = 0; i < ranked.length; i++) {
    if (amb.has(ranked[i])) continue;
    if (pos.has(ranked[i])) intersect++;
    const recall = intersect / pos.size;
    const precision = intersect / (j + 1);
    ap += (recall - oldRecall) * ((oldPrecision + precision) / 2);
    oldRecall = recall;
    oldPrecision = precision;
    j++;
  }
  return ap;
}

describe('averagePrecision', () => {
  it('is 1 for a perfect ranking, whatever follows the last positive', () => {
    expect(averagePrecision(['a', 'b', 'c', 'x', 'y'], set('a', 'b', 'c'), none)).toBe(1);
    expect(averagePrecision(['a'], set('a'), none)).toBe(1);
  });

  it('scores a single positive at rank 3 as 1/6, the trapezoid from the precision before the hit', () => {
    // Non-junk ranks 0, 1 are misses: recall stays 0, so they add nothing (precision 0/1, 0/2).
    // Rank 2 is the hit: recall 0 → 1, precision before = 0/2 = 0, after = 1/3.
    // ap = (1 − 0) · (0 + 1/3) / 2 = 1/6   (not the textbook 1/3).
    expect(averagePrecision(['x', 'y', 'p', 'z'], set('p'), none)).toBeCloseTo(1 / 6, 12);
  });

  it('drops junk before counting ranks (junk at ranks 1, 3 and the end)', () => {
    // Ranking J1 P1 J2 N1 P2 J3 with junk removed is P1 N1 P2, |pos| = 2:
    //   rank 0 (P1): recall 0 → 1/2, precision 1 (before, by definition) and 1/1 → 1/2 · (1 + 1)/2 = 1/2
    //   rank 1 (N1): recall unchanged → 0
    //   rank 2 (P2): recall 1/2 → 1, precision 1/2 → 2/3 → 1/2 · (1/2 + 2/3)/2 = 7/24
    //   ap = 1/2 + 7/24 = 19/24
    const ranking = ['J1', 'P1', 'J2', 'N1', 'P2', 'J3'];
    const ap = averagePrecision(ranking, set('P1', 'P2'), set('J1', 'J2', 'J3'));
    expect(ap).toBeCloseTo(19 / 24, 12);
    expect(ap).toBeCloseTo(averagePrecision(['P1', 'N1', 'P2'], set('P1', 'P2'), none), 12);
    // Without the junk list the same ranking scores lower: junk must not count as a miss.
    expect(averagePrecision(ranking, set('P1', 'P2'), none)).toBeLessThan(ap);
  });

  it('lets positives missing from the ranking cap recall below 1', () => {
    // P1 at rank 0, P2 never retrieved: 1/2 · (1 + 1)/2 = 1/2, nothing more.
    expect(averagePrecision(['P1', 'N1', 'N2'], set('P1', 'P2'), none)).toBeCloseTo(1 / 2, 12);
    // |pos| = 3, one hit at rank 1: 1/3 · (0/1 + 1/2)/2 = 1/12.
    expect(averagePrecision(['N1', 'P1'], set('P1', 'P2', 'P3'), none)).toBeCloseTo(1 / 12, 12);
    expect(averagePrecision([], set('P1'), none)).toBe(0);
  });

  it('treats an id that is both positive and junk as junk, still counted in |positives| (compute_ap tests junk first)', () => {
    expect(averagePrecision(['P1', 'P2'], set('P1', 'P2'), set('P2'))).toBeCloseTo(1 / 2, 12);
  });

  it('rejects a ranking that lists an id twice', () => {
    expect(() => averagePrecision(['a', 'b', 'a'], set('a'), none)).toThrow(/"a" appears more than once/);
  });

  it('is NaN for a query without positives', () => {
    expect(averagePrecision(['a', 'b'], none, set('a'))).toBeNaN();
  });

  it('agrees with a transcript of compute_ap.cpp on random rankings', () => {
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rnd() * 40);
      const ids = Array.from({ length: n }, (_, i) => `img${i}`);
      const ranked = ids.filter(() => rnd() < 0.9).sort(() => rnd() - 0.5);
      const pos = new Set(ids.filter(() => rnd() < 0.3));
      const junk = new Set(ids.filter((id) => !pos.has(id) && rnd() < 0.2));
      if (pos.size === 0) continue;
      expect(averagePrecision(ranked, pos, junk)).toBeCloseTo(computeApCpp(pos, junk, ranked), 12);
    }
  });
});

describe('meanAveragePrecision', () => {
  it('averages over the queries with positives and reports the skipped ones', () => {
    expect(meanAveragePrecision([1, NaN, 0.5])).toEqual({ mAP: 0.75, evaluated: 2, skipped: 1 });
    expect(meanAveragePrecision([0.2, 0.4])).toEqual({ mAP: expect.closeTo(0.3, 12), evaluated: 2, skipped: 0 });
  });

  it('is NaN when no query has positives', () => {
    const r = meanAveragePrecision([NaN, NaN]);
    expect(r.mAP).toBeNaN();
    expect(r).toMatchObject({ evaluated: 0, skipped: 2 });
    expect(meanAveragePrecision([]).mAP).toBeNaN();
  });
});
