// The whole network of DESIGN.md §1.1 as one TripletModel: backbone (its trained part), ROI
// max-pooling over the rigid grid, the learnable whitening, L2, sum, L2. The frozen front of the
// backbone runs once per photo when the model is built; its outputs are kept in JS memory (not
// on the backend, whose wasm heap is limited to 4 GB) and fed to the trained part at each step.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { createSession } from '../engine/featureExtractor.js';
import { loadNetworkInput } from '../engine/imageInput.js';
import { rmacRegions, type RmacGridOptions } from '../engine/rmacRegions.js';
import { aggregateRegions, l2NormalizeRows, poolRegions } from './differentiableRmac.js';
import type { LearnableWhitening } from './learnableWhitening.js';
import type { BackboneSplit, TrainableBackbone } from './trainableBackbone.js';
import type { TripletModel } from './tripletTrainer.js';

interface StoredTensor {
  data: Float32Array;
  shape: number[];
}

/** One photo, as the tensors the trained part of the backbone starts from. */
export interface CachedPhoto {
  frontier: StoredTensor[];
}

/** The photo as the engine feeds it (same decode, resize and normalisation), NHWC for TF.js. */
export async function photoTensor(file: string, longSide: number, backbone: Pick<TrainableBackbone, 'normalisation'>): Promise<tf.Tensor4D> {
  const input = await loadNetworkInput(file, { longSide, normalisation: backbone.normalisation });
  return tf.tidy(() => tf.tensor4d(input.data, [1, 3, input.height, input.width]).transpose([0, 2, 3, 1]) as tf.Tensor4D);
}

export interface CacheOptions {
  longSide: number;
  /**
   * Which runtime computes the frozen part. `onnxruntime` (the default) converts it to ONNX, as
   * the engine would, and runs it 20–60× faster than TF.js on wasm; `tfjs` runs it in TF.js.
   */
  runtime?: 'onnxruntime' | 'tfjs';
  onProgress?: (done: number, total: number) => void;
}

/** Runs the frozen part of the backbone on every photo once. */
export async function cachePhotos(split: BackboneSplit, backbone: TrainableBackbone, files: readonly string[], options: CacheOptions): Promise<CachedPhoto[]> {
  const out: CachedPhoto[] = [];
  if ((options.runtime ?? 'onnxruntime') === 'tfjs') {
    for (const file of files) {
      const image = await photoTensor(file, options.longSide, backbone);
      const tensors = split.frozen(image);
      out.push({ frontier: await Promise.all(tensors.map(async (t) => ({ data: Float32Array.from(await t.data()), shape: t.shape }))) });
      tf.dispose([image, ...tensors]);
      options.onProgress?.(out.length, files.length);
    }
    return out;
  }
  const sessions = await Promise.all(split.frontierLayers.map(async (layer) => {
    if (layer === null) return null;
    const converted = backbone.exportOnnxAt(layer);
    return { session: await createSession(converted.onnx, Math.max(1, os.availableParallelism?.() ?? 1)), converted };
  }));
  try {
    for (const file of files) {
      const input = await loadNetworkInput(file, { longSide: options.longSide, normalisation: backbone.normalisation });
      const frontier: StoredTensor[] = [];
      for (const s of sessions) {
        if (!s) {
          frontier.push({ data: nchwToNhwc(input.data, 3, input.height, input.width), shape: [1, input.height, input.width, 3] });
          continue;
        }
        const result = await s.session.run({ [s.converted.inputName]: new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]) });
        const t = result[s.converted.outputName];
        const [, c, h, w] = t.dims as number[];
        frontier.push({ data: nchwToNhwc(t.data as Float32Array, c, h, w), shape: [1, h, w, c] });
      }
      out.push({ frontier });
      options.onProgress?.(out.length, files.length);
    }
  } finally {
    await Promise.all(sessions.map((s) => s?.session.release()));
  }
  return out;
}

function nchwToNhwc(data: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(data.length);
  const plane = h * w;
  for (let k = 0; k < c; k++) for (let i = 0; i < plane; i++) out[i * c + k] = data[k * plane + i];
  return out;
}

/** Raw pooled regions [R, C] of one cached photo under the split's current weights. */
function pooledRegions(photo: CachedPhoto, split: BackboneSplit, grid?: RmacGridOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const frontier = photo.frontier.map((t) => tf.tensor(t.data, t.shape));
    const map = split.trainable(frontier).squeeze([0]) as tf.Tensor3D;
    const [height, width] = map.shape;
    return poolRegions(map, rmacRegions(width, height, grid));
  });
}

/** Every photo's L2-normalised raw region vectors under the split's current weights (to fit PCA on). */
export async function regionVectorsOf(photos: readonly CachedPhoto[], split: BackboneSplit, grid?: RmacGridOptions): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const photo of photos) {
    const rows = tf.tidy(() => l2NormalizeRows(pooledRegions(photo, split, grid)));
    const data = await rows.data();
    const c = rows.shape[1];
    for (let r = 0; r < rows.shape[0]; r++) out.push(Float32Array.from(data.subarray(r * c, (r + 1) * c)));
    rows.dispose();
  }
  return out;
}

export class BackboneTripletModel implements TripletModel {
  constructor(
    private readonly photos: readonly CachedPhoto[],
    private readonly split: BackboneSplit,
    readonly whitening: LearnableWhitening,
    private readonly options: { trainWhitening: boolean; grid?: RmacGridOptions } = { trainWhitening: true },
  ) {}

  get variables(): tf.Variable[] {
    return [...this.split.variables, ...(this.options.trainWhitening ? this.whitening.variables : [])];
  }

  get dim(): number {
    return this.whitening.dim;
  }

  get size(): number {
    return this.photos.length;
  }

  descriptors(indices: readonly number[]): tf.Tensor2D {
    return tf.tidy(() => {
      const blocks = indices.map((i) => pooledRegions(this.photos[i], this.split, this.options.grid));
      const owners = blocks.flatMap((b, k) => Array<number>(b.shape[0]).fill(k));
      return aggregateRegions(tf.concat(blocks, 0), owners, indices.length, this.whitening);
    });
  }

  async describeAll(): Promise<Float32Array> {
    const out = new Float32Array(this.size * this.dim);
    for (let i = 0; i < this.size; i++) {
      const d = this.descriptors([i]);
      out.set(await d.data(), i * this.dim);
      d.dispose();
    }
    return out;
  }
}
