// R-MAC (DESIGN.md §1.1 steps 4–6) written with differentiable TF.js ops, so the triplet loss
// reaches the whitening and the backbone: ROI max-pool → L2 → shift + FC → L2 → sum → L2.
// It computes the same numbers as the engine's rmacDescriptor.ts (test/train checks it).
// Regions are any list of boxes in feature cells: the rigid grid today, RPN proposals later.
import * as tf from '@tensorflow/tfjs';
import type { CellRegion } from '../engine/rmacRegions.js';

/** Avoids 0/0 for an all-zero region (a dead ReLU patch); such a row stays zero, as in the engine. */
const NORM_FLOOR = 1e-24;

/**
 * ROI max-pooling of one NHWC feature map ([H, W, C]) over each region → [R, C]. Regions are
 * clipped to the map like the engine's maxPoolRegion: edges floored, far edges ceiled.
 */
export function poolRegions(map: tf.Tensor3D, regions: readonly CellRegion[]): tf.Tensor2D {
  const [height, width, channels] = map.shape;
  if (regions.length === 0) throw new RangeError('poolRegions needs at least one region');
  return tf.tidy(() => tf.stack(regions.map((r) => {
    const x0 = Math.max(0, Math.floor(r.x));
    const y0 = Math.max(0, Math.floor(r.y));
    const x1 = Math.min(width, Math.ceil(r.x + r.width));
    const y1 = Math.min(height, Math.ceil(r.y + r.height));
    if (x1 <= x0 || y1 <= y0) throw new RangeError(`region ${JSON.stringify(r)} lies outside the ${width}×${height} feature map`);
    return tf.slice(map, [y0, x0, 0], [y1 - y0, x1 - x0, channels]).max([0, 1]);
  })) as tf.Tensor2D);
}

/** Each row divided by its L2 norm (zero rows stay zero). */
export function l2NormalizeRows<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), NORM_FLOOR));
    return tf.div(x, norm) as T;
  });
}

/** Shift + fully connected: P (x − μ) per row; `projection` is D × C like the engine's Whitening. */
export function whitenRows(rows: tf.Tensor2D, mean: tf.Tensor1D, projection: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(tf.sub(rows, mean), projection, false, true));
}

/** A whitening layer as TF.js computes it: rows [N, C] → [N, D]. */
export interface WhiteningParameters {
  whiten(rows: tf.Tensor2D): tf.Tensor2D;
}

/** Fixed shift + FC values as a WhiteningParameters. */
export function fixedWhitening(mean: tf.Tensor1D, projection: tf.Tensor2D): WhiteningParameters {
  return { whiten: (rows) => whitenRows(rows, mean, projection) };
}

/**
 * Global descriptors of several images from their raw pooled regions stacked in one [N, C]
 * block: `imageOfRow[i]` says which of the `images` each row belongs to. Rows are L2-normalised,
 * whitened when a whitening is given, L2-normalised again, summed per image and L2-normalised.
 * The per-image sum is a product with a constant 0/1 assignment matrix, the one segment sum
 * that every backend implements with a gradient.
 */
export function aggregateRegions(rawRows: tf.Tensor2D, imageOfRow: ArrayLike<number>, images: number, whitening?: WhiteningParameters): tf.Tensor2D {
  if (imageOfRow.length !== rawRows.shape[0]) throw new RangeError(`aggregateRegions: ${imageOfRow.length} row owners for ${rawRows.shape[0]} rows`);
  return tf.tidy(() => {
    let rows: tf.Tensor2D = l2NormalizeRows(rawRows);
    if (whitening) rows = l2NormalizeRows(whitening.whiten(rows));
    const assignment = new Float32Array(images * imageOfRow.length);
    for (let r = 0; r < imageOfRow.length; r++) assignment[imageOfRow[r] * imageOfRow.length + r] = 1;
    const summed: tf.Tensor2D = tf.matMul(tf.tensor2d(assignment, [images, imageOfRow.length]), rows);
    return l2NormalizeRows(summed);
  });
}

/** The R-MAC descriptor ([1, D]) of one feature map over the given regions. */
export function rmacOfFeatureMap(map: tf.Tensor3D, regions: readonly CellRegion[], whitening?: WhiteningParameters): tf.Tensor2D {
  return tf.tidy(() => aggregateRegions(poolRegions(map, regions), new Int32Array(regions.length), 1, whitening));
}
