// The all-pairs neighbour graph that duplicate tiers and place clusters start from, computed as
// blocked matrix products in onnxruntime (MLAS, every core) instead of a JS loop: the O(n²·d)
// work at 100k photos is ~5 TFLOP, which only an optimised GEMM gets through in about a minute.
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../convert/onnxGraphBuilder.js';
import type { DescriptorMatrix, NeighbourGraph } from './descriptorMatrix.js';

/** Each row's best k neighbours at or above a threshold, best first, ties to the lower photo id. */
export class NeighbourLists {
  readonly rows: Int32Array;
  readonly scores: Float64Array;
  readonly counts: Int32Array;
  private readonly bar: Float64Array;

  constructor(readonly n: number, readonly k: number, readonly threshold: number, private readonly ids: Int32Array) {
    this.rows = new Int32Array(n * k).fill(-1);
    this.scores = new Float64Array(n * k).fill(-Infinity);
    this.counts = new Int32Array(n);
    this.bar = new Float64Array(n).fill(threshold);
  }

  /** The score a candidate must reach to enter row's list. */
  barOf(row: number): number {
    return this.bar[row];
  }

  offer(row: number, cand: number, s: number): void {
    const k = this.k;
    if (k === 0 || s < this.bar[row]) return;
    const base = row * k;
    const f = this.counts[row];
    const cid = this.ids[cand];
    const beats = (p: number) => s > this.scores[p] || (s === this.scores[p] && cid < this.ids[this.rows[p]]);
    let p: number;
    if (f < k) {
      p = base + f;
      this.counts[row] = f + 1;
    } else {
      p = base + k - 1;
      if (!beats(p)) return;
    }
    while (p > base && beats(p - 1)) {
      this.scores[p] = this.scores[p - 1];
      this.rows[p] = this.rows[p - 1];
      p--;
    }
    this.scores[p] = s;
    this.rows[p] = cand;
    if (this.counts[row] === k) this.bar[row] = Math.max(this.threshold, this.scores[base + k - 1]);
  }

  toGraph(): NeighbourGraph {
    const neighbours = new Int32Array(this.n * this.k);
    for (let i = 0; i < neighbours.length; i++) neighbours[i] = this.rows[i] < 0 ? 0 : this.ids[this.rows[i]];
    return { ids: this.ids.slice(0, this.n), k: this.k, counts: this.counts, neighbours, scores: this.scores };
  }
}

export interface NeighbourGraphOptions {
  /** Rows per block product (default 2048: a 16 MB score block). */
  block?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function neighbourGraphAbove(matrix: DescriptorMatrix, threshold: number, k: number, options: NeighbourGraphOptions = {}): Promise<NeighbourGraph> {
  const n = matrix.size;
  const d = matrix.dim;
  const data = matrix.rows();
  const ids = matrix.ids();
  const lists = new NeighbourLists(n, k, threshold, ids);
  if (n < 2 || k === 0) return lists.toGraph();

  const b = new OnnxGraphBuilder();
  const q = b.reserve('q');
  const r = b.reserve('r');
  b.expose(b.op('Gemm', [q, r], 'scores', { transB: { kind: 'int', value: 1 } }), 's');
  const bytes = b.encode({ graphName: 'block_scores', inputs: [{ name: 'q', shape: ['bq', d] }, { name: 'r', shape: ['br', d] }], outputs: [{ name: 's', shape: ['bq', 'br'] }] });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 0, graphOptimizationLevel: 'all' });
  const B = options.block ?? 2048;
  const blocks = Math.ceil(n / B);
  const total = (blocks * (blocks + 1)) / 2;
  let done = 0;

  // Block pairs in order; the next product runs in onnxruntime's threads while this thread scans
  // the previous one, so the GEMM and the JS scan overlap.
  const pairs: Array<[number, number]> = [];
  for (let i0 = 0; i0 < n; i0 += B) for (let j0 = i0; j0 < n; j0 += B) pairs.push([i0, j0]);
  const product = ([i0, j0]: [number, number]) => {
    const i1 = Math.min(n, i0 + B);
    const j1 = Math.min(n, j0 + B);
    return session.run({
      q: new ort.Tensor('float32', data.subarray(i0 * d, i1 * d), [i1 - i0, d]),
      r: new ort.Tensor('float32', data.subarray(j0 * d, j1 * d), [j1 - j0, d]),
    });
  };
  try {
    let pending = product(pairs[0]);
    for (let p = 0; p < pairs.length; p++) {
      const [i0, j0] = pairs[p];
      const s = (await pending).s.data as Float32Array;
      if (p + 1 < pairs.length) pending = product(pairs[p + 1]);
      const i1 = Math.min(n, i0 + B);
      const j1 = Math.min(n, j0 + B);
      const w = j1 - j0;
      // Upper triangle of blocks only: each pair is scored once and offered to both rows. (Reducing
      // blocks with onnxruntime's TopK instead was measured slower: 3.8 s vs 2.3 s at 20k.)
      for (let i = i0; i < i1; i++) {
        const row = (i - i0) * w;
        const start = j0 === i0 ? i + 1 : j0;
        for (let j = start; j < j1; j++) {
          const v = s[row + (j - j0)];
          // Every bar is at least the threshold, and nearly all pairs fall below it.
          if (v < threshold) continue;
          if (v >= lists.barOf(i) || v >= lists.barOf(j)) {
            lists.offer(i, j, v);
            lists.offer(j, i, v);
          }
        }
      }
      options.onProgress?.(++done, total);
    }
  } finally {
    await session.release();
  }
  return lists.toGraph();
}

