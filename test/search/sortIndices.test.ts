import { describe, expect, it } from 'vitest';
import { sortIndices } from '../../app/search/sortIndices.js';

/** A small deterministic generator, so a failure can be replayed. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('sortIndices', () => {
  it('orders indices exactly as Array.prototype.sort does under the same strict total order, ties included', () => {
    const random = lcg(7);
    for (const n of [0, 1, 2, 3, 16, 17, 18, 100, 5000]) {
      // Few distinct scores, so most comparisons fall through to the tie-breaks.
      const s = Float64Array.from({ length: n }, () => Math.round(random() * 8) / 8);
      const a = Int32Array.from({ length: n }, () => Math.floor(random() * 5));
      const b = Int32Array.from({ length: n }, (_, i) => i);
      const before = (x: number, y: number) => s[x] > s[y] || (s[x] === s[y] && (a[x] < a[y] || (a[x] === a[y] && b[x] < b[y])));
      const idx = Uint32Array.from({ length: n }, (_, i) => i);
      sortIndices(idx, before);
      const expected = Array.from({ length: n }, (_, i) => i).sort((x, y) => s[y] - s[x] || a[x] - a[y] || b[x] - b[y]);
      expect(Array.from(idx)).toEqual(expected);
    }
  });

  it('handles runs already sorted, reversed and all equal keys without degrading the result', () => {
    const n = 20_000;
    for (const key of [(i: number) => i, (i: number) => n - i, () => 0]) {
      const idx = Uint32Array.from({ length: n }, (_, i) => i);
      // Equal keys: the index itself breaks the tie, so the order is still total.
      sortIndices(idx, (x, y) => key(x) < key(y) || (key(x) === key(y) && x < y));
      const expected = Array.from({ length: n }, (_, i) => i).sort((x, y) => key(x) - key(y) || x - y);
      expect(Array.from(idx)).toEqual(expected);
    }
  });
});
