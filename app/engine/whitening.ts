// PCA-whitening as a shift + fully-connected layer (DESIGN.md §1.1 step 5): x ← P (x − μ), with
// P's rows the leading eigenvectors of the region vectors' covariance scaled by (λ + ε)^−½.
import fs from 'node:fs/promises';
import path from 'node:path';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../convert/onnxGraphBuilder.js';
import { writeAtomic } from './modelRegistry.js';

export interface Whitening {
  /** Input dimension C. */
  channels: number;
  /** Output dimension D ≤ C. */
  dim: number;
  /** μ, length C. */
  mean: Float32Array;
  /** P, D × C row-major. */
  projection: Float32Array;
  /** λ of the kept components, descending. */
  eigenvalues: Float64Array;
  /** What it was fitted on, for honest reporting. */
  fittedOn: string;
  sampleCount: number;
  epsilon: number;
}

export interface FitWhiteningOptions {
  /** Output dimension (default 512, capped at C and at the sample count). */
  dim?: number;
  /** ε as a fraction of the mean eigenvalue, regularising the smallest components (default 0.1). */
  epsilon?: number;
  fittedOn?: string;
}

/**
 * Fits PCA-whitening from `count` vectors of length `channels` stored row-major.
 * The covariance product runs in onnxruntime (MLAS) because a pure-JS N×C×C product dominates otherwise.
 */
export async function fitWhitening(vectors: Float32Array, count: number, channels: number, options: FitWhiteningOptions = {}): Promise<Whitening> {
  if (count < 2) throw new RangeError(`fitWhitening needs at least 2 vectors, got ${count}`);
  if (vectors.length !== count * channels) throw new RangeError(`fitWhitening: ${vectors.length} values for ${count}×${channels}`);
  const dim = Math.min(options.dim ?? 512, channels, count - 1);
  const mean = new Float64Array(channels);
  for (let i = 0; i < count; i++) for (let c = 0; c < channels; c++) mean[c] += vectors[i * channels + c];
  for (let c = 0; c < channels; c++) mean[c] /= count;
  const centred = new Float32Array(vectors.length);
  for (let i = 0; i < count; i++) for (let c = 0; c < channels; c++) centred[i * channels + c] = vectors[i * channels + c] - mean[c];

  const gram = await transposeProduct(centred, count, channels);
  const cov = new Matrix(channels, channels);
  for (let r = 0; r < channels; r++) {
    for (let c = r; c < channels; c++) {
      // Symmetrise: float32 accumulation leaves the two triangles a few ulps apart.
      const v = (gram[r * channels + c] + gram[c * channels + r]) / (2 * (count - 1));
      cov.set(r, c, v);
      cov.set(c, r, v);
    }
  }
  const evd = new EigenvalueDecomposition(cov, { assumeSymmetric: true });
  const lambdas = evd.realEigenvalues;
  const vectorsMatrix = evd.eigenvectorMatrix;
  const order = lambdas.map((l, i) => [l, i] as const).sort((a, b) => b[0] - a[0]).map(([, i]) => i);
  const meanLambda = lambdas.reduce((a, b) => a + Math.max(b, 0), 0) / channels;
  const epsilon = (options.epsilon ?? 0.1) * meanLambda;
  const projection = new Float32Array(dim * channels);
  const eigenvalues = new Float64Array(dim);
  for (let k = 0; k < dim; k++) {
    const idx = order[k];
    const lambda = Math.max(lambdas[idx], 0);
    eigenvalues[k] = lambda;
    const scale = 1 / Math.sqrt(lambda + epsilon);
    for (let c = 0; c < channels; c++) projection[k * channels + c] = vectorsMatrix.get(c, idx) * scale;
  }
  return {
    channels,
    dim,
    mean: Float32Array.from(mean),
    projection,
    eigenvalues,
    fittedOn: options.fittedOn ?? 'unspecified',
    sampleCount: count,
    epsilon: options.epsilon ?? 0.1,
  };
}

/** fitWhitening over separate vectors of one length (region vectors, say), stacked into one block. */
export async function fitWhiteningOnVectors(vectors: readonly Float32Array[], options: FitWhiteningOptions = {}): Promise<Whitening> {
  if (vectors.length < 2) throw new RangeError(`fitWhitening needs at least 2 vectors, got ${vectors.length}`);
  const channels = vectors[0].length;
  const data = new Float32Array(vectors.length * channels);
  vectors.forEach((v, i) => data.set(v, i * channels));
  return fitWhitening(data, vectors.length, channels, options);
}

/** y = P (x − μ). */
export function applyWhitening(w: Whitening, x: Float32Array): Float32Array {
  if (x.length !== w.channels) throw new RangeError(`whitening expects ${w.channels}-d vectors, got ${x.length}`);
  const centred = new Float32Array(w.channels);
  for (let c = 0; c < w.channels; c++) centred[c] = x[c] - w.mean[c];
  const out = new Float32Array(w.dim);
  for (let k = 0; k < w.dim; k++) {
    let s = 0;
    const row = k * w.channels;
    for (let c = 0; c < w.channels; c++) s += w.projection[row + c] * centred[c];
    out[k] = s;
  }
  return out;
}

const batchSessions = new WeakMap<Whitening, Promise<ort.InferenceSession>>();

/**
 * Whitens `count` row vectors at once: P (x − μ) for each row, as one onnxruntime MatMul.
 * Evaluation and re-indexing whiten hundreds of thousands of regions, which a JS loop makes
 * the slowest step of the whole pipeline.
 */
export async function applyWhiteningBatch(w: Whitening, rows: Float32Array, count: number): Promise<Float32Array> {
  if (rows.length !== count * w.channels) throw new RangeError(`applyWhiteningBatch: ${rows.length} values for ${count}×${w.channels}`);
  if (count === 0) return new Float32Array(0);
  let session = batchSessions.get(w);
  if (!session) {
    const b = new OnnxGraphBuilder();
    const x = b.reserve('x');
    const transposed = new Float32Array(w.channels * w.dim);
    for (let k = 0; k < w.dim; k++) for (let c = 0; c < w.channels; c++) transposed[c * w.dim + k] = w.projection[k * w.channels + c];
    const centred = b.op('Sub', [x, b.floatTensor('mean', [w.channels], w.mean)], 'centred');
    b.expose(b.op('MatMul', [centred, b.floatTensor('projection_t', [w.channels, w.dim], transposed)], 'whitened'), 'y');
    const bytes = b.encode({ graphName: 'whitening', inputs: [{ name: 'x', shape: ['n', w.channels] }], outputs: [{ name: 'y', shape: ['n', w.dim] }] });
    session = ort.InferenceSession.create(bytes, { intraOpNumThreads: 0 });
    batchSessions.set(w, session);
  }
  const out = await (await session).run({ x: new ort.Tensor('float32', rows, [count, w.channels]) });
  return out.y.data as Float32Array;
}

async function transposeProduct(x: Float32Array, rows: number, cols: number): Promise<Float32Array> {
  const b = new OnnxGraphBuilder();
  const input = b.reserve('x');
  const xt = b.op('Transpose', [input], 'xt');
  b.expose(b.op('MatMul', [xt, input], 'product'), 'gram');
  const bytes = b.encode({ graphName: 'gram', inputs: [{ name: 'x', shape: ['n', 'c'] }], outputs: [{ name: 'gram', shape: ['c', 'c'] }] });
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [rows, cols]) });
    return out.gram.data as Float32Array;
  } finally {
    await session.release();
  }
}

interface WhiteningHeader {
  format: 'sightline-whitening-1';
  channels: number;
  dim: number;
  fittedOn: string;
  sampleCount: number;
  epsilon: number;
  eigenvalues: number[];
}

export async function saveWhitening(w: Whitening, file: string): Promise<void> {
  const header: WhiteningHeader = {
    format: 'sightline-whitening-1',
    channels: w.channels,
    dim: w.dim,
    fittedOn: w.fittedOn,
    sampleCount: w.sampleCount,
    epsilon: w.epsilon,
    eigenvalues: Array.from(w.eigenvalues),
  };
  await fs.mkdir(path.dirname(file), { recursive: true });
  const body = new Float32Array(w.channels + w.dim * w.channels);
  body.set(w.mean, 0);
  body.set(w.projection, w.channels);
  await writeAtomic(`${file}.bin`, new Uint8Array(body.buffer));
  await writeAtomic(`${file}.json`, JSON.stringify(header, null, 2) + '\n');
}

export async function loadWhitening(file: string): Promise<Whitening> {
  const header = JSON.parse(await fs.readFile(`${file}.json`, 'utf8')) as WhiteningHeader;
  if (header.format !== 'sightline-whitening-1') throw new Error(`${file}.json is not a Sightline whitening file`);
  const raw = await fs.readFile(`${file}.bin`);
  const body = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  if (body.length !== header.channels + header.dim * header.channels) throw new Error(`${file}.bin has ${body.length} values, expected ${header.channels + header.dim * header.channels}`);
  return {
    channels: header.channels,
    dim: header.dim,
    mean: body.slice(0, header.channels),
    projection: body.slice(header.channels),
    eigenvalues: Float64Array.from(header.eigenvalues),
    fittedOn: header.fittedOn,
    sampleCount: header.sampleCount,
    epsilon: header.epsilon,
  };
}
