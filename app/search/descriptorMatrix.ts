// The library's global descriptors held in memory as one row-major Float32Array, the layout every
// search over them scans (DESIGN.md §2: "search reads descriptors into one matrix in memory").
// Rows have no fixed order: removal moves the last row into the hole, so callers address photos
// by id and never keep row numbers across an upsert or a remove.
//
// Ties in every ranking break towards the lower photo id, never the row, so results do not depend
// on the history of inserts and removals that produced the current row order.
import { NeighbourLists } from './neighbourGraph.js';

export interface ScoredId {
  id: number;
  score: number;
}

export interface TopKOptions {
  /** Photo ids never returned (e.g. the query photo itself). */
  exclude?: ReadonlySet<number>;
  /** Only scores ≥ this are returned. */
  minScore?: number;
}

/**
 * Each row's best neighbours above a threshold: row r's list is the first `counts[r]` entries of
 * `neighbours[r·k … r·k + k)` (photo ids, best first) with their `scores`; the rest is padding.
 */
export interface NeighbourGraph {
  /** The photo id of each row the lists belong to. */
  ids: Int32Array;
  k: number;
  counts: Int32Array;
  neighbours: Int32Array;
  scores: Float64Array;
}

const MIN_CAPACITY = 16;

function checkId(id: number): void {
  // Int32Array storage: anything else would be silently truncated into another photo's id.
  if (!Number.isInteger(id) || id < -0x80000000 || id > 0x7fffffff) throw new Error(`DescriptorMatrix: id ${id} is not a 32-bit integer`);
}

function checkK(k: number, what: string): void {
  if (!Number.isInteger(k) || k < 0) throw new Error(`${what}: k must be a non-negative integer, got ${k}`);
}

/**
 * Dot product of `q` (from `qOff`) with row `off` of `m`, 4 independent accumulators: one chain
 * is latency-bound, and four measured 1.7× faster under V8 (100k × 512: 79 → 47 ms). Products
 * and sums are in double precision (JS numbers).
 */
export function dotAt(q: Float32Array, qOff: number, m: Float32Array, off: number, d: number): number {
  const d4 = d & ~3;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let t = 0;
  for (; t < d4; t += 4) {
    const a = qOff + t;
    const b = off + t;
    s0 += q[a] * m[b];
    s1 += q[a + 1] * m[b + 1];
    s2 += q[a + 2] * m[b + 2];
    s3 += q[a + 3] * m[b + 3];
  }
  for (; t < d; t++) s0 += q[qOff + t] * m[off + t];
  return s0 + s1 + s2 + s3;
}

/** Whether (s, id) ranks before (worstS, worstId): higher score, then lower id. */
function beats(s: number, id: number, worstS: number, worstId: number): boolean {
  return s > worstS || (s === worstS && id < worstId);
}

export class DescriptorMatrix {
  readonly dim: number;
  private data: Float32Array;
  private rowIds: Int32Array;
  private readonly rowById = new Map<number, number>();
  private count = 0;

  constructor(dim: number, capacity = 256) {
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`DescriptorMatrix: bad dimension ${dim}`);
    if (!Number.isInteger(capacity) || capacity < 0) throw new Error(`DescriptorMatrix: bad capacity ${capacity}`);
    this.dim = dim;
    const cap = Math.max(MIN_CAPACITY, capacity);
    this.data = new Float32Array(cap * dim);
    this.rowIds = new Int32Array(cap);
  }

  /**
   * A matrix over these rows. With `adopt`, the given Float32Array becomes the storage instead of
   * being copied (the caller must not use it afterwards): at 100k × 512 that is 200 MB saved.
   */
  static from(ids: Int32Array | readonly number[], matrix: Float32Array, dim: number, options: { adopt?: boolean } = {}): DescriptorMatrix {
    const n = ids.length;
    if (matrix.length !== n * dim) throw new Error(`DescriptorMatrix.from: ${matrix.length} values do not make ${n} × ${dim}`);
    // Adopted storage must be exactly n rows of capacity, so the next upsert grows (copies) it.
    const adopt = !!options.adopt && n >= MIN_CAPACITY;
    const out = new DescriptorMatrix(dim, adopt ? 0 : n);
    if (adopt) out.rowIds = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const id = ids[r];
      checkId(id);
      if (out.rowById.has(id)) throw new Error(`DescriptorMatrix.from: id ${id} appears twice`);
      out.rowById.set(id, r);
      out.rowIds[r] = id;
    }
    checkFinite(matrix, 'DescriptorMatrix.from');
    if (adopt) out.data = matrix;
    else out.data.set(matrix);
    out.count = n;
    return out;
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.rowById.has(id);
  }

  /** Inserts the photo's descriptor, or replaces it if the id is already present. */
  upsert(id: number, vector: ArrayLike<number>): void {
    checkId(id);
    if (vector.length !== this.dim) throw new Error(`DescriptorMatrix.upsert: vector has ${vector.length} dimensions, expected ${this.dim}`);
    checkFinite(vector, `DescriptorMatrix.upsert(${id})`);
    let row = this.rowById.get(id);
    if (row === undefined) {
      if (this.count === this.rowIds.length) this.grow();
      row = this.count++;
      this.rowById.set(id, row);
      this.rowIds[row] = id;
    }
    this.data.set(vector, row * this.dim);
  }

  /** Removes the photo; false when it was not there. O(dim): the last row moves into the hole. */
  remove(id: number): boolean {
    const row = this.rowById.get(id);
    if (row === undefined) return false;
    const last = this.count - 1;
    if (row !== last) {
      const d = this.dim;
      this.data.copyWithin(row * d, last * d, last * d + d);
      const moved = this.rowIds[last];
      this.rowIds[row] = moved;
      this.rowById.set(moved, row);
    }
    this.rowById.delete(id);
    this.count = last;
    return true;
  }

  /** A copy of the photo's descriptor (a view would silently change under a later remove). */
  get(id: number): Float32Array | undefined {
    const row = this.rowById.get(id);
    if (row === undefined) return undefined;
    return this.data.slice(row * this.dim, (row + 1) * this.dim);
  }

  /** Dot product of two stored photos; undefined when either is missing. */
  score(a: number, b: number): number | undefined {
    const ra = this.rowById.get(a);
    const rb = this.rowById.get(b);
    if (ra === undefined || rb === undefined) return undefined;
    return dotAt(this.data, ra * this.dim, this.data, rb * this.dim, this.dim);
  }

  /** Dot product of a stored photo with `query`; undefined when the photo is missing. */
  scoreWith(id: number, query: Float32Array): number | undefined {
    const r = this.rowById.get(id);
    if (r === undefined) return undefined;
    if (query.length !== this.dim) throw new Error(`DescriptorMatrix.scoreWith: query has ${query.length} dimensions, expected ${this.dim}`);
    return dotAt(query, 0, this.data, r * this.dim, this.dim);
  }

  /** Row of a photo in the current layout, for code that hands `rows()` to matrix routines. */
  rowOf(id: number): number | undefined {
    return this.rowById.get(id);
  }

  idAt(row: number): number {
    if (!Number.isInteger(row) || row < 0 || row >= this.count) throw new Error(`DescriptorMatrix.idAt: no row ${row} (size ${this.count})`);
    return this.rowIds[row];
  }

  /** Photo ids in row order (a copy). */
  ids(): Int32Array {
    return this.rowIds.slice(0, this.count);
  }

  /** The live rows, size × dim, row-major: a view, valid until the next upsert or remove. */
  rows(): Float32Array {
    return this.data.subarray(0, this.count * this.dim);
  }

  /**
   * The `k` stored photos most similar to `query`, best first. One pass with a bounded min-heap
   * whose root is the current k-th best, so almost every row costs one dot product and one
   * comparison: no full sort.
   */
  topK(query: Float32Array, k: number, opts: TopKOptions = {}): ScoredId[] {
    checkK(k, 'DescriptorMatrix.topK');
    if (query.length !== this.dim) throw new Error(`DescriptorMatrix.topK: query has ${query.length} dimensions, expected ${this.dim}`);
    checkFinite(query, 'DescriptorMatrix.topK query');
    const minScore = opts.minScore ?? -Infinity;
    if (Number.isNaN(minScore)) throw new Error('DescriptorMatrix.topK: minScore is NaN');
    const exclude = opts.exclude;
    if (k === 0 || this.count === 0) return [];
    const d = this.dim;
    const m = this.data;
    const ids = this.rowIds;
    const hs = new Float64Array(k);
    const hi = new Int32Array(k);
    let size = 0;
    // Rows scoring below `bar` cannot enter: the first test in the loop, so it must be cheap.
    let bar = minScore;
    for (let r = 0, off = 0; r < this.count; r++, off += d) {
      const s = dotAt(query, 0, m, off, d);
      if (s < bar) continue;
      const id = ids[r];
      if (size < k) {
        if (exclude?.has(id)) continue;
        heapPush(hs, hi, size++, s, id);
        if (size === k) bar = Math.max(minScore, hs[0]);
      } else if (beats(s, id, hs[0], hi[0])) {
        if (exclude?.has(id)) continue;
        heapReplaceRoot(hs, hi, k, s, id);
        bar = hs[0];
      }
    }
    const out: ScoredId[] = [];
    for (let i = 0; i < size; i++) out.push({ id: hi[i], score: hs[i] });
    return out.sort((a, b) => b.score - a.score || a.id - b.id);
  }

  /**
   * For every row, its up-to-k most similar other rows with score ≥ `threshold` (exact, brute
   * force). Each pair is computed once and offered to both rows. Tiles of 4 × 2 rows keep six
   * rows' values in registers for eight products; the inner rows are taken in chunks of ~256 KB so
   * they are reread from cache, not memory, by every tile. Cost is n²·dim/2 multiply-adds at a
   * measured ~2.1 G/s on one core here (10k × 512, k = 10: 12 s; 20k: 48 s), so 100k × 512 would take
   * ~20 minutes: brute force cannot give a library-sized graph interactively. That is why the
   * duplicate and place finders also accept a graph built row by row with topK (43 ms per photo
   * at 100k × 512) as photos arrive.
   */
  allPairsAbove(threshold: number, k: number): NeighbourGraph {
    checkK(k, 'DescriptorMatrix.allPairsAbove');
    if (Number.isNaN(threshold)) throw new Error('DescriptorMatrix.allPairsAbove: threshold is NaN');
    const n = this.count;
    const d = this.dim;
    const m = this.data;
    const ids = this.rowIds;
    const lists = new NeighbourLists(n, k, threshold, ids);
    if (k === 0 || n < 2) return lists.toGraph();
    const offer = (row: number, cand: number, s: number): void => lists.offer(row, cand, s);
    const bar = { at: (row: number) => lists.barOf(row) };

    const I = 4;
    const nI = n - (n % I);
    // Pairs inside each block of I rows (and inside the tail block): the tiled loop below only
    // pairs a block with later rows.
    for (let i0 = 0; i0 < n; i0 += I) {
      const iEnd = Math.min(i0 + I, n);
      for (let i = i0; i < iEnd; i++) {
        for (let j = i + 1; j < iEnd; j++) {
          const s = dotAt(m, i * d, m, j * d, d);
          offer(i, j, s);
          offer(j, i, s);
        }
      }
    }

    const chunk = Math.max(8, Math.floor(65536 / d));
    for (let j0 = I; j0 < n; j0 += chunk) {
      const jEnd = Math.min(j0 + chunk, n);
      for (let i0 = 0; i0 < nI && i0 + I <= jEnd - 1; i0 += I) {
        const jStart = Math.max(j0, i0 + I);
        if (jStart >= jEnd) continue;
        const a0 = i0 * d;
        const a1 = a0 + d;
        const a2 = a1 + d;
        const a3 = a2 + d;
        let j = jStart;
        for (; j + 1 < jEnd; j += 2) {
          const b = j * d;
          const c = b + d;
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0, r0 = 0, r1 = 0, r2 = 0, r3 = 0;
          for (let t = 0; t < d; t++) {
            const x = m[b + t];
            const y = m[c + t];
            const p0 = m[a0 + t];
            const p1 = m[a1 + t];
            const p2 = m[a2 + t];
            const p3 = m[a3 + t];
            s0 += p0 * x;
            s1 += p1 * x;
            s2 += p2 * x;
            s3 += p3 * x;
            r0 += p0 * y;
            r1 += p1 * y;
            r2 += p2 * y;
            r3 += p3 * y;
          }
          // Most pairs fall below both bars: test before paying for the calls.
          if (s0 >= bar.at(i0) || s0 >= bar.at(j)) { offer(i0, j, s0); offer(j, i0, s0); }
          if (s1 >= bar.at(i0 + 1) || s1 >= bar.at(j)) { offer(i0 + 1, j, s1); offer(j, i0 + 1, s1); }
          if (s2 >= bar.at(i0 + 2) || s2 >= bar.at(j)) { offer(i0 + 2, j, s2); offer(j, i0 + 2, s2); }
          if (s3 >= bar.at(i0 + 3) || s3 >= bar.at(j)) { offer(i0 + 3, j, s3); offer(j, i0 + 3, s3); }
          const j1 = j + 1;
          if (r0 >= bar.at(i0) || r0 >= bar.at(j1)) { offer(i0, j1, r0); offer(j1, i0, r0); }
          if (r1 >= bar.at(i0 + 1) || r1 >= bar.at(j1)) { offer(i0 + 1, j1, r1); offer(j1, i0 + 1, r1); }
          if (r2 >= bar.at(i0 + 2) || r2 >= bar.at(j1)) { offer(i0 + 2, j1, r2); offer(j1, i0 + 2, r2); }
          if (r3 >= bar.at(i0 + 3) || r3 >= bar.at(j1)) { offer(i0 + 3, j1, r3); offer(j1, i0 + 3, r3); }
        }
        if (j < jEnd) {
          for (let i = i0; i < i0 + I; i++) {
            const s = dotAt(m, i * d, m, j * d, d);
            offer(i, j, s);
            offer(j, i, s);
          }
        }
      }
    }

    return lists.toGraph();
  }

  private grow(): void {
    const cap = Math.max(MIN_CAPACITY, this.rowIds.length * 2);
    const data = new Float32Array(cap * this.dim);
    data.set(this.data.subarray(0, this.count * this.dim));
    const rowIds = new Int32Array(cap);
    rowIds.set(this.rowIds.subarray(0, this.count));
    this.data = data;
    this.rowIds = rowIds;
  }
}

function checkFinite(v: ArrayLike<number>, what: string): void {
  // One NaN row would make every comparison against it false and silently drop it from rankings.
  // x·0 is 0 for every finite x and NaN otherwise, so four running sums of it check the whole
  // array without a branch per value: loading 100k descriptors checks 51 M values, ~30 ms this
  // way against ~90 ms for Number.isFinite on each. Only a failed check looks for the culprit.
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  const n = v.length - (v.length % 4);
  for (let i = 0; i < n; i += 4) {
    a0 += v[i] * 0;
    a1 += v[i + 1] * 0;
    a2 += v[i + 2] * 0;
    a3 += v[i + 3] * 0;
  }
  for (let i = n; i < v.length; i++) a0 += v[i] * 0;
  if (a0 + a1 + a2 + a3 === 0) return;
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new Error(`${what}: value ${i} is ${v[i]}`);
}

// Min-heap on (score, then reversed id): the root is the entry every newcomer must beat.
function worse(hs: Float64Array, hi: Int32Array, a: number, b: number): boolean {
  return hs[a] < hs[b] || (hs[a] === hs[b] && hi[a] > hi[b]);
}

function heapPush(hs: Float64Array, hi: Int32Array, size: number, s: number, id: number): void {
  let p = size;
  hs[p] = s;
  hi[p] = id;
  while (p > 0) {
    const parent = (p - 1) >> 1;
    if (!worse(hs, hi, p, parent)) break;
    swap(hs, hi, p, parent);
    p = parent;
  }
}

function heapReplaceRoot(hs: Float64Array, hi: Int32Array, size: number, s: number, id: number): void {
  hs[0] = s;
  hi[0] = id;
  let p = 0;
  for (;;) {
    const l = 2 * p + 1;
    if (l >= size) break;
    const r = l + 1;
    const c = r < size && worse(hs, hi, r, l) ? r : l;
    if (!worse(hs, hi, c, p)) break;
    swap(hs, hi, p, c);
    p = c;
  }
}

function swap(hs: Float64Array, hi: Int32Array, a: number, b: number): void {
  const s = hs[a];
  hs[a] = hs[b];
  hs[b] = s;
  const i = hi[a];
  hi[a] = hi[b];
  hi[b] = i;
}
