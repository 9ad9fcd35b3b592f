// The all-pairs neighbour graph that duplicate tiers and place clusters start from, computed as
// blocked int8 matrix products in onnxruntime (MLAS, every core) instead of a JS loop: the O(n²·d)
// work at 100k photos is ~5 TOP, which only an optimised kernel gets through in under a minute.
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { attr, OnnxGraphBuilder } from '../convert/onnxGraphBuilder.js';
import { dotAt, type DescriptorMatrix, type NeighbourGraph } from './descriptorMatrix.js';

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
  /** Rows per block product (default 1024: 4 MB of int32 scores per block, 60 MB less peak memory at 100k photos than 2048, same speed). */
  block?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * How far below the threshold an int8 score may fall and the pair still be rescored exactly. The
 * quantisation error of a dot product of unit vectors is a sum of d independent rounding terms
 * whose squared ranges add up to at most maxAbs²·2·(1/63² + 1/127²); by Hoeffding's inequality it
 * exceeds this margin with probability below 1e-12 per pair, whatever the data.
 */
export function quantisationMargin(maxAbs: number): number {
  const rangeSquares = maxAbs * maxAbs * 2 * (1 / 63 ** 2 + 1 / 127 ** 2);
  return Math.sqrt((Math.log(2e12) * rangeSquares) / 2);
}

// The left operand holds 7-bit values (|q| ≤ 63, stored +64 as uint8) so that no CPU's u8·s8 kernel
// can saturate its 16-bit pair sums (2·127·127 < 32767); the right operand uses the full int8 range.
const LEFT_LEVELS = 63;
const LEFT_OFFSET = 64;
const RIGHT_LEVELS = 127;

/**
 * Each photo's best k neighbours at or above `threshold`, over all pairs. The O(n²·d) products run
 * as int8 matrix products in onnxruntime (MatMulInteger: measured 4.8× faster than the float32 GEMM
 * on this machine's AVX-512 VNNI), which only shortlist: every pair whose int8 score comes within
 * quantisationMargin of the bar is rescored in float32, so the lists hold exact scores and match an
 * exact all-pairs scan.
 */
export async function neighbourGraphAbove(matrix: DescriptorMatrix, threshold: number, k: number, options: NeighbourGraphOptions = {}): Promise<NeighbourGraph> {
  const n = matrix.size;
  const d = matrix.dim;
  const data = matrix.rows();
  const ids = matrix.ids();
  const lists = new NeighbourLists(n, k, threshold, ids);
  if (n < 2 || k === 0) return lists.toGraph();

  let maxAbs = 0;
  for (let i = 0; i < n * d; i++) maxAbs = Math.max(maxAbs, Math.abs(data[i]));
  if (maxAbs === 0) maxAbs = 1;
  const leftScale = LEFT_LEVELS / maxAbs;
  const rightScale = RIGHT_LEVELS / maxAbs;
  const unit = leftScale * rightScale;
  const margin = quantisationMargin(maxAbs);
  // A pair is worth rescoring when its integer score reaches (bar − margin) in integer units.
  const floor = Math.floor((threshold - margin) * unit);

  const session = await ort.InferenceSession.create(shortlistGraph(d), { intraOpNumThreads: 0, graphOptimizationLevel: 'all' });
  const B = options.block ?? 1024;
  const blocks = Math.ceil(n / B);
  const total = (blocks * (blocks + 1)) / 2;
  let done = 0;
  const floorTensor = new ort.Tensor('int32', Int32Array.of(floor), [1]);

  // Block pairs in order; the next product runs in onnxruntime's threads while this thread offers
  // the previous block's shortlist.
  const pairs: Array<[number, number]> = [];
  for (let i0 = 0; i0 < n; i0 += B) for (let j0 = i0; j0 < n; j0 += B) pairs.push([i0, j0]);
  // Both operands are quantised inside the graph, one block at a time: an int8 copy of the whole
  // matrix held in JS (51 MB at 100k photos) lived on until the collector got round to it, and
  // whether it had decided the process's memory peak.
  const quantisation = {
    left_scale: new ort.Tensor('float32', Float32Array.of(1 / leftScale), []),
    right_scale: new ort.Tensor('float32', Float32Array.of(1 / rightScale), []),
  };
  const product = ([i0, j0]: [number, number]) => {
    const i1 = Math.min(n, i0 + B);
    const j1 = Math.min(n, j0 + B);
    return session.run({
      q: new ort.Tensor('float32', data.subarray(i0 * d, i1 * d), [i1 - i0, d]),
      r: new ort.Tensor('float32', data.subarray(j0 * d, j1 * d), [j1 - j0, d]),
      ...quantisation,
      floor: floorTensor,
    });
  };
  try {
    let pending = product(pairs[0]);
    for (let p = 0; p < pairs.length; p++) {
      const [i0, j0] = pairs[p];
      const result = await pending;
      if (p + 1 < pairs.length) pending = product(pairs[p + 1]);
      offerShortlist(result.pairs.data as Int32Array, result.values.data as Int32Array, i0, j0, lists, data, d, threshold, margin * unit, unit);
      options.onProgress?.(++done, total);
    }
  } finally {
    await session.release();
  }
  return lists.toGraph();
}

/**
 * One block of the all-pairs product as an ONNX graph: int8 scores of every pair, then only the
 * pairs at or above `floor` (row and column within the block, and their integer scores). At
 * 100k photos the graph scores 5·10⁹ pairs, nearly all far below the bar; scanning every score
 * in JS took as long as the products themselves, while NonZero in onnxruntime hands over a few
 * thousand pairs per block.
 */
function shortlistGraph(d: number): Uint8Array {
  const b = new OnnxGraphBuilder();
  const qFloat = b.reserve('q');
  const rFloat = b.reserve('r');
  const leftScale = b.reserve('left_scale');
  const rightScale = b.reserve('right_scale');
  const floor = b.reserve('floor');
  const q = b.op('QuantizeLinear', [qFloat, leftScale, b.tensor('left_zero', [], 'uint8', Uint8Array.of(LEFT_OFFSET))], 'q_u8');
  const r = b.op('QuantizeLinear', [rFloat, rightScale, b.tensor('right_zero', [], 'int8', Int8Array.of(0))], 'r_i8');
  const rT = b.op('Transpose', [r], 'r_t', { perm: attr.ints([1, 0]) });
  // Σ_k (qa_k + 64)·qb_k = Σ qa·qb + 64·Σ qb: each column carries a constant, taken off here.
  const columnSums = b.op('ReduceSum', [b.op('Cast', [r], 'r_i32', { to: attr.int(onnxProto.onnx.TensorProto.DataType.INT32) }), b.int64Tensor('axes', [1])], 'column_sums', { keepdims: attr.int(0) });
  const offsets = b.op('Mul', [columnSums, b.tensor('left_offset', [], 'int32', Int32Array.of(LEFT_OFFSET))], 'offsets');
  const scores = b.op('Sub', [b.op('MatMulInteger', [q, rT], 'products'), offsets], 'scores');
  const where = b.op('NonZero', [b.op('GreaterOrEqual', [scores, floor], 'above')], 'where');
  b.expose(b.op('Cast', [where], 'where_i32', { to: attr.int(onnxProto.onnx.TensorProto.DataType.INT32) }), 'pairs');
  b.expose(b.op('GatherND', [scores, b.op('Transpose', [where], 'where_t', { perm: attr.ints([1, 0]) })], 'gathered'), 'values');
  return b.encode({
    graphName: 'block_shortlist_int8',
    inputs: [
      { name: 'q', shape: ['bq', d], elemType: 'float32' },
      { name: 'r', shape: ['br', d], elemType: 'float32' },
      { name: 'left_scale', shape: [], elemType: 'float32' },
      { name: 'right_scale', shape: [], elemType: 'float32' },
      { name: 'floor', shape: [1], elemType: 'int32' },
    ],
    outputs: [
      { name: 'pairs', shape: [2, 'nnz'], elemType: 'int32' },
      { name: 'values', shape: ['nnz'], elemType: 'int32' },
    ],
  });
}

/**
 * Offers the shortlisted pairs of one block (`pairs`: block rows, then block columns, row-major
 * order) whose integer score reaches a row's bar (less the margin) to both rows, rescored in
 * float32 exactly as DescriptorMatrix.score computes it. Kept out of the async loop so V8
 * optimises it as a plain hot function.
 */
function offerShortlist(pairs: Int32Array, values: Int32Array, i0: number, j0: number, lists: NeighbourLists, data: Float32Array, d: number, threshold: number, marginUnits: number, unit: number): void {
  const nnz = values.length;
  for (let p = 0; p < nnz; p++) {
    const i = i0 + pairs[p];
    const j = j0 + pairs[nnz + p];
    // Upper triangle only (the diagonal block lists each pair twice and every row with itself):
    // each pair is scored once and offered to both rows.
    if (j <= i) continue;
    const v = values[p];
    if (v >= lists.barOf(i) * unit - marginUnits || v >= lists.barOf(j) * unit - marginUnits) {
      const e = dotAt(data, i * d, data, j * d, d);
      if (e < threshold) continue;
      lists.offer(i, j, e);
      lists.offer(j, i, e);
    }
  }
}
