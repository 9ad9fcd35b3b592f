// An index sort for the grouping passes, which order millions of candidate pairs at a time.

/**
 * Sorts `idx` in place so that `before(x, y)` holds for every earlier x and later y (a strict
 * total order). A typed array's own sort with a comparator copies every element into two heap
 * arrays first: 20 MB of garbage for the 1.3 M edges of 100k photos, at the grouping's memory
 * peak. Quicksort (median of three, insertion sort for short runs) allocates only its stack.
 */
export function sortIndices(idx: Uint32Array, before: (x: number, y: number) => boolean): void {
  const stack: number[] = [0, idx.length - 1];
  while (stack.length > 0) {
    let hi = stack.pop()!;
    let lo = stack.pop()!;
    while (hi - lo > 16) {
      const mid = lo + ((hi - lo) >> 1);
      if (before(idx[mid], idx[lo])) swap(idx, mid, lo);
      if (before(idx[hi], idx[lo])) swap(idx, hi, lo);
      if (before(idx[hi], idx[mid])) swap(idx, hi, mid);
      const pivot = idx[mid];
      let i = lo;
      let j = hi;
      while (i <= j) {
        while (before(idx[i], pivot)) i++;
        while (before(pivot, idx[j])) j--;
        if (i <= j) swap(idx, i++, j--);
      }
      // The shorter side next, the longer one on the stack: the stack stays O(log n).
      if (j - lo < hi - i) {
        stack.push(i, hi);
        hi = j;
      } else {
        stack.push(lo, j);
        lo = i;
      }
    }
    for (let k = lo + 1; k <= hi; k++) {
      const v = idx[k];
      let m = k - 1;
      while (m >= lo && before(v, idx[m])) {
        idx[m + 1] = idx[m];
        m--;
      }
      idx[m + 1] = v;
    }
  }
}

function swap(idx: Uint32Array, i: number, j: number): void {
  const t = idx[i];
  idx[i] = idx[j];
  idx[j] = t;
}
