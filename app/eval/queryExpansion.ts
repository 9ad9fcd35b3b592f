// Brute-force ranking, average query expansion and database-side augmentation (DESIGN.md §1.6) on
// L2-normalised descriptors stored row-major in one Float32Array (n × d), the layout search keeps
// in memory. Ties always break towards the lower index, so rankings are reproducible across runs
// and match a stable sort.

import { DescriptorMatrix } from '../search/descriptorMatrix.js';

function checkMatrix(db: Float32Array, n: number, d: number, what = 'db'): void {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d <= 0) throw new Error(`${what}: bad shape ${n} × ${d}`);
  if (db.length !== n * d) throw new Error(`${what}: ${db.length} values do not make ${n} × ${d}`);
}

function checkVector(v: Float32Array, d: number, what: string): void {
  if (v.length !== d) throw new Error(`${what} has ${v.length} dimensions, expected ${d}`);
}

/** Dot product of `query` with every row of `db`, accumulated in double precision. */
export function dotProducts(query: Float32Array, db: Float32Array, n: number, d: number): Float64Array {
  checkMatrix(db, n, d);
  checkVector(query, d, 'query');
  const scores = new Float64Array(n);
  for (let i = 0, off = 0; i < n; i++, off += d) {
    let s = 0;
    for (let t = 0; t < d; t++) s += query[t] * db[off + t];
    scores[i] = s;
  }
  return scores;
}

/** All row indices of `db` by descending dot product with `query`; equal scores keep index order. */
export function rankByDotProduct(query: Float32Array, db: Float32Array, n: number, d: number): Int32Array {
  const scores = dotProducts(query, db, n, d);
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(order);
}

/**
 * Indices of the `k` largest scores, best first, ties towards the lower index; `exclude` (e.g. the
 * query's own row) is never returned. Fewer than `k` come back when there are not enough scores.
 * Selection by insertion: O(n·k), and k is small (QE/DBA use k ≤ 20).
 */
export function topK(scores: ArrayLike<number>, k: number, exclude = -1): Int32Array {
  if (!Number.isInteger(k) || k < 0) throw new Error(`topK: k must be a non-negative integer, got ${k}`);
  const cap = Math.min(k, scores.length - (exclude >= 0 && exclude < scores.length ? 1 : 0));
  if (cap <= 0) return new Int32Array(0);
  const idx = new Int32Array(cap);
  const val = new Float64Array(cap).fill(-Infinity);
  let filled = 0;
  for (let i = 0; i < scores.length; i++) {
    if (i === exclude) continue;
    const s = scores[i];
    // Scanning in index order, a later equal score never beats an earlier one: strict `>` suffices.
    if (filled === cap && !(s > val[cap - 1])) continue;
    let p = filled < cap ? filled++ : cap - 1;
    while (p > 0 && s > val[p - 1]) {
      val[p] = val[p - 1];
      idx[p] = idx[p - 1];
      p--;
    }
    val[p] = s;
    idx[p] = i;
  }
  return filled === cap ? idx : idx.slice(0, filled);
}

function normaliseInPlace(v: Float32Array | Float64Array, off: number, d: number): void {
  let ss = 0;
  for (let t = 0; t < d; t++) ss += v[off + t] * v[off + t];
  // A zero vector stays zero: there is no direction to restore, and NaNs would poison every later dot product.
  if (ss === 0) return;
  const inv = 1 / Math.sqrt(ss);
  for (let t = 0; t < d; t++) v[off + t] *= inv;
}

/**
 * Average query expansion (Chum et al. 2007; Radenović's αQE with α = 0): the new query is the
 * mean of the query and the descriptors of its top `k` results, re-normalised. `ranking` is the
 * first search's ranking of `db`; when it is shorter than `k` all of it is used.
 */
export function averageQueryExpansion(query: Float32Array, db: Float32Array, d: number, ranking: Int32Array | readonly number[], k: number): Float32Array {
  if (db.length % d !== 0) throw new Error(`db: ${db.length} values are not a multiple of d = ${d}`);
  checkVector(query, d, 'query');
  if (!Number.isInteger(k) || k < 0) throw new Error(`averageQueryExpansion: k must be a non-negative integer, got ${k}`);
  const n = db.length / d;
  const acc = Float64Array.from(query);
  const m = Math.min(k, ranking.length);
  for (let r = 0; r < m; r++) {
    const j = ranking[r];
    if (!Number.isInteger(j) || j < 0 || j >= n) throw new Error(`averageQueryExpansion: ranking[${r}] = ${j} is not a row of db (0..${n - 1})`);
    const off = j * d;
    for (let t = 0; t < d; t++) acc[t] += db[off + t];
  }
  // Dividing by m + 1 is only a scale; the normalisation below makes it the mean's direction.
  normaliseInPlace(acc, 0, d);
  return Float32Array.from(acc);
}

/**
 * Database-side augmentation: every row becomes the weighted sum of itself and its nearest
 * neighbours, weight (k − i)/k for rank i, where i = 0 is the row itself (weight 1) and
 * i = 1..k its k nearest other rows — so the k-th neighbour weighs 0 and in effect k − 1
 * neighbours contribute (k = 1 leaves the database unchanged). This is the same sum as reading
 * "top k" as the row's own top-k list with itself at rank 0; both readings of DESIGN.md §1.6 agree.
 * Neighbours are found among the original rows, not the already augmented ones. Rows are
 * L2-normalised at the end.
 *
 * All-pairs dot products, each pair computed once and offered to both rows' lists, in 4 × 2 tiles
 * to cut memory traffic: 5000 × 512 with k = 10 took 4.6–6 s on one shared core here.
 */
export function databaseSideAugmentation(db: Float32Array, n: number, d: number, k: number): Float32Array {
  checkMatrix(db, n, d);
  if (!Number.isInteger(k) || k < 0) throw new Error(`databaseSideAugmentation: k must be a non-negative integer, got ${k}`);
  // The k-th neighbour's weight is 0: only k − 1 neighbours need finding.
  const m = Math.min(Math.max(k - 1, 0), Math.max(n - 1, 0));
  const neighbours = nearestNeighbourLists(db, n, d, m);
  const out = new Float32Array(n * d);
  const acc = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    for (let t = 0; t < d; t++) acc[t] = db[off + t];
    for (let r = 0; r < m; r++) {
      const w = (k - (r + 1)) / k;
      const j = neighbours.idx[i * m + r];
      const joff = j * d;
      for (let t = 0; t < d; t++) acc[t] += w * db[joff + t];
    }
    normaliseInPlace(acc, 0, d);
    for (let t = 0; t < d; t++) out[off + t] = acc[t];
  }
  return out;
}

/**
 * For each row its `m` most similar other rows, best first, ties towards the lower index.
 * The search module's exact all-pairs scan does the work, with row indices as ids.
 */
export function nearestNeighbourLists(db: Float32Array, n: number, d: number, m: number): { idx: Int32Array; sim: Float64Array } {
  checkMatrix(db, n, d);
  if (!Number.isInteger(m) || m < 0 || m > Math.max(0, n - 1)) throw new Error(`nearestNeighbourLists: m = ${m} with only ${n} rows`);
  const graph = DescriptorMatrix.from(Int32Array.from({ length: n }, (_, i) => i), db.subarray(0, n * d), d).allPairsAbove(-Infinity, m);
  const idx = new Int32Array(n * m).fill(-1);
  const sim = new Float64Array(n * m).fill(-Infinity);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < graph.counts[r]; j++) {
      idx[r * m + j] = graph.neighbours[r * m + j];
      sim[r * m + j] = graph.scores[r * m + j];
    }
  }
  return { idx, sim };
}
