// Nearest-neighbour matching of binary descriptors with Lowe's first-to-second-neighbour ratio
// test. Two exact brute-force searches give the same neighbours: OpenCV's BFMatcher (synchronous,
// for verifyPair in any thread) and a Hamming distance computed as an int8 matrix product in
// onnxruntime (what the MatchPool workers use: ~10× faster on 2000 × 2000 keypoints).
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../convert/onnxGraphBuilder.js';
import type { LocalFeatures } from './localFeatures.js';
import type { OpenCv } from './openCvRuntime.js';

/** For each keypoint of A: its nearest and second-nearest keypoints of B, by Hamming distance. */
export interface NearestTwo {
  count: number;
  first: Int32Array;
  firstDistance: Int32Array;
  secondDistance: Int32Array;
}

/** Putative correspondences: keypoint `a[i]` of A with keypoint `b[i]` of B. */
export interface DescriptorMatches {
  count: number;
  a: Int32Array;
  b: Int32Array;
  distance: Int32Array;
}

/**
 * 0.85 rather than the usual 0.8: on Paris6k-mini it verifies a quarter more same-landmark pairs
 * (the Eiffel tower's largest verified group doubles), while no pair of different landmarks gets
 * more inliers (at most 6–7 either way, against 15 needed). 0.9 lets in so much noise that fewer
 * pairs verify.
 */
export const DEFAULT_RATIO = 0.85;

/**
 * Keeps a match when its distance is below `ratio` times the second neighbour's (Lowe), then
 * keeps one match per keypoint of B, the closest: AKAZE fires several times on one blob, and
 * duplicate correspondences would be counted as independent inliers.
 */
export function ratioTestMatches(nn: NearestTwo, ratio = DEFAULT_RATIO): DescriptorMatches {
  const bestForB = new Map<number, number>();
  for (let i = 0; i < nn.count; i++) {
    const j = nn.first[i];
    if (j < 0 || !(nn.firstDistance[i] < ratio * nn.secondDistance[i])) continue;
    const held = bestForB.get(j);
    if (held === undefined || nn.firstDistance[i] < nn.firstDistance[held]) bestForB.set(j, i);
  }
  const rows = [...bestForB.values()].sort((p, q) => p - q);
  const out: DescriptorMatches = { count: rows.length, a: new Int32Array(rows.length), b: new Int32Array(rows.length), distance: new Int32Array(rows.length) };
  rows.forEach((i, r) => {
    out.a[r] = i;
    out.b[r] = nn.first[i];
    out.distance[r] = nn.firstDistance[i];
  });
  return out;
}

function noNeighbours(count: number): NearestTwo {
  return { count, first: new Int32Array(count).fill(-1), firstDistance: new Int32Array(count), secondDistance: new Int32Array(count) };
}

/** Exact two nearest neighbours with OpenCV's brute-force matcher (NORM_HAMMING). */
export function nearestTwoOpenCv(cv: OpenCv, a: LocalFeatures, b: LocalFeatures): NearestTwo {
  if (a.count === 0 || b.count < 2) return noNeighbours(a.count);
  if (a.descriptorBytes !== b.descriptorBytes) throw new Error(`descriptor sizes differ (${a.descriptorBytes} vs ${b.descriptorBytes} bytes)`);
  const query = cv.matFromArray(a.count, a.descriptorBytes, cv.CV_8UC1, a.descriptors);
  const train = cv.matFromArray(b.count, b.descriptorBytes, cv.CV_8UC1, b.descriptors);
  const matcher = new cv.BFMatcher(cv.NORM_HAMMING, false);
  const knn = new cv.DMatchVectorVector();
  try {
    matcher.knnMatch(query, train, knn, 2);
    const out = noNeighbours(a.count);
    for (let r = 0; r < knn.size(); r++) {
      const pair = knn.get(r);
      if (pair.size() === 2) {
        const m0 = pair.get(0);
        const m1 = pair.get(1);
        out.first[m0.queryIdx] = m0.trainIdx;
        out.firstDistance[m0.queryIdx] = m0.distance;
        out.secondDistance[m0.queryIdx] = m1.distance;
      }
      pair.delete();
    }
    return out;
  } finally {
    knn.delete();
    matcher.delete();
    train.delete();
    query.delete();
  }
}

/**
 * Hamming distances as one integer matrix product: with every bit mapped to ±1, the dot product
 * of two descriptors is (bits − 2·Hamming). MatMulInteger takes A as uint8 {0, 2} with zero
 * point 1 (so A − 1 is ±1) and B as int8 ±1; TopK then picks the two largest products per row.
 * Integer arithmetic all the way, so the distances are exact, like BFMatcher's.
 */
export class HammingMatcher {
  private constructor(private readonly session: ort.InferenceSession, private readonly bits: number) {}

  static async create(descriptorBytes = 61, threads = 1): Promise<HammingMatcher> {
    const bits = descriptorBytes * 8;
    const b = new OnnxGraphBuilder();
    const q = b.reserve('q');
    const r = b.reserve('r');
    const zero = b.reserve('q_zero');
    const rT = b.op('Transpose', [r], 'r_t', { perm: { kind: 'ints', value: [1, 0] } });
    const products = b.op('MatMulInteger', [q, rT, zero], 'products');
    const [values, indices] = b.node('TopK', [products, b.int64Tensor('k', [2])], 'top', {
      axis: { kind: 'int', value: 1 },
      largest: { kind: 'int', value: 1 },
      sorted: { kind: 'int', value: 1 },
    }, 2);
    b.expose(values, 'products_top');
    b.expose(indices, 'indices_top');
    const bytes = b.encode({
      graphName: 'hamming_nearest_two',
      inputs: [
        { name: 'q', shape: ['n', bits], elemType: 'uint8' },
        { name: 'r', shape: ['m', bits], elemType: 'int8' },
        { name: 'q_zero', shape: [], elemType: 'uint8' },
      ],
      outputs: [
        { name: 'products_top', shape: ['n', 2], elemType: 'int32' },
        { name: 'indices_top', shape: ['n', 2], elemType: 'int64' },
      ],
    });
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    return new HammingMatcher(session, bits);
  }

  async nearestTwo(a: LocalFeatures, b: LocalFeatures): Promise<NearestTwo> {
    if (a.count === 0 || b.count < 2) return noNeighbours(a.count);
    if (a.descriptorBytes * 8 !== this.bits || b.descriptorBytes * 8 !== this.bits) {
      throw new Error(`descriptors of ${a.descriptorBytes} / ${b.descriptorBytes} bytes, matcher built for ${this.bits / 8}`);
    }
    const out = await this.session.run({
      q: new ort.Tensor('uint8', unpackBits(a, 2, 0, Uint8Array), [a.count, this.bits]),
      r: new ort.Tensor('int8', unpackBits(b, 1, -1, Int8Array), [b.count, this.bits]),
      q_zero: new ort.Tensor('uint8', new Uint8Array([1]), []),
    });
    const products = out.products_top.data as Int32Array;
    const indices = out.indices_top.data as BigInt64Array;
    const nn = noNeighbours(a.count);
    for (let i = 0; i < a.count; i++) {
      nn.first[i] = Number(indices[2 * i]);
      nn.firstDistance[i] = (this.bits - products[2 * i]) / 2;
      nn.secondDistance[i] = (this.bits - products[2 * i + 1]) / 2;
    }
    return nn;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * One value per descriptor bit, most significant bit of each byte first: `one` for 1, `zero` for
 * 0. Each byte's 8 values come from a table as two 32-bit words (a quarter of the stores of a
 * bit loop; this runs for both photos of every pair).
 */
function unpackBits<T extends Uint8Array | Int8Array>(f: LocalFeatures, one: number, zero: number, Kind: new (n: number) => T): T {
  const table = bitTable(one, zero);
  const bytes = f.descriptors;
  const out = new Kind(bytes.length * 8);
  const words = new Uint32Array(out.buffer, out.byteOffset, bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    const v = bytes[i] * 2;
    words[2 * i] = table[v];
    words[2 * i + 1] = table[v + 1];
  }
  return out;
}

const bitTables = new Map<string, Uint32Array>();

function bitTable(one: number, zero: number): Uint32Array {
  const key = `${one},${zero}`;
  let table = bitTables.get(key);
  if (!table) {
    table = new Uint32Array(512);
    const bytes = new Uint8Array(table.buffer);
    for (let v = 0; v < 256; v++) for (let bit = 0; bit < 8; bit++) bytes[v * 8 + bit] = ((v >> (7 - bit)) & 1 ? one : zero) & 0xff;
    bitTables.set(key, table);
  }
  return table;
}
