// The learned whitening on frozen backbone features: each image is its raw pooled region vectors,
// computed once by the engine (onnxruntime, the product's own pipeline), and only the shift + FC
// layer learns. This is cheap enough to train on a CPU in seconds, and it is the part the paper's
// ranking loss most directly improves over PCA.
import * as tf from '@tensorflow/tfjs';
import { aggregateRegions } from './differentiableRmac.js';
import type { LearnableWhitening } from './learnableWhitening.js';
import type { TripletModel } from './tripletTrainer.js';

/** One image's raw (not whitened) region vectors, row-major count × channels, over every scale used. */
export interface ImageRegions {
  rows: Float32Array;
  count: number;
}

const DESCRIBE_CHUNK = 64;

export class RegionWhiteningModel implements TripletModel {
  readonly channels: number;

  constructor(private readonly images: readonly ImageRegions[], readonly whitening: LearnableWhitening) {
    this.channels = whitening.channels;
    images.forEach((img, i) => {
      if (img.rows.length !== img.count * this.channels || img.count === 0) throw new RangeError(`image ${i}: ${img.rows.length} values for ${img.count} regions of ${this.channels} channels`);
    });
  }

  get variables(): tf.Variable[] {
    return this.whitening.variables;
  }

  get dim(): number {
    return this.whitening.dim;
  }

  get size(): number {
    return this.images.length;
  }

  descriptors(indices: readonly number[]): tf.Tensor2D {
    const total = indices.reduce((s, i) => s + this.images[i].count, 0);
    const rows = new Float32Array(total * this.channels);
    const owners = new Int32Array(total);
    let r = 0;
    indices.forEach((img, k) => {
      const { rows: block, count } = this.images[img];
      rows.set(block, r * this.channels);
      owners.fill(k, r, r + count);
      r += count;
    });
    return tf.tidy(() => aggregateRegions(tf.tensor2d(rows, [total, this.channels]), owners, indices.length, this.whitening));
  }

  async describeAll(): Promise<Float32Array> {
    const out = new Float32Array(this.size * this.dim);
    for (let start = 0; start < this.size; start += DESCRIBE_CHUNK) {
      const indices = Array.from({ length: Math.min(DESCRIBE_CHUNK, this.size - start) }, (_, k) => start + k);
      const d = this.descriptors(indices);
      out.set(await d.data(), start * this.dim);
      d.dispose();
    }
    return out;
  }
}
