// The before/after measure of "Learn from my library": every held-out photo queries the other
// held-out photos, and the photos of its own verified place are the ones it should rank first.
// AP is the Oxford/Paris compute_ap (app/eval), so the figures read like the benchmark's.
import { averagePrecision } from '../eval/averagePrecision.js';
import { applyWhiteningBatch, type Whitening } from '../engine/whitening.js';
import { addInto, l2normalize } from '../engine/vectorMath.js';
import type { ImageRegions } from '../train/regionWhiteningModel.js';

export interface RankingQuality {
  /** Mean AP over the queries, 0–1. */
  mAP: number;
  /** Share of queries whose most similar other photo is of the same place, 0–1. */
  recallAt1: number;
  queries: number;
}

/**
 * Global R-MAC descriptors from raw region vectors, as the engine makes them (DESIGN.md §1.1
 * steps 5–6): each region whitened (none: as pooled) and L2-normalised, summed, L2-normalised.
 * The same regions under several whitenings are then compared on exactly the same pooling.
 */
export async function describeWith(images: readonly ImageRegions[], whitening: Whitening | undefined): Promise<Float32Array[]> {
  if (!whitening) {
    return images.map((img) => {
      const channels = img.rows.length / img.count;
      const sum = new Float32Array(channels);
      for (let r = 0; r < img.count; r++) addInto(sum, img.rows.subarray(r * channels, (r + 1) * channels));
      return l2normalize(sum);
    });
  }
  const total = images.reduce((n, img) => n + img.count, 0);
  const rows = new Float32Array(total * whitening.channels);
  let offset = 0;
  for (const img of images) {
    rows.set(img.rows, offset);
    offset += img.rows.length;
  }
  const whitened = await applyWhiteningBatch(whitening, rows, total);
  const d = whitening.dim;
  let r = 0;
  return images.map((img) => {
    const sum = new Float32Array(d);
    for (let i = 0; i < img.count; i++, r++) addInto(sum, l2normalize(whitened.slice(r * d, (r + 1) * d)));
    return l2normalize(sum);
  });
}

/**
 * mAP and recall@1 of the photos ranking each other. `placeOf[i]` is photo i's place; a photo
 * alone in its place has nothing to find and is no query (its AP would be undefined). Ties in
 * score keep the photos' order, so the figure does not depend on sort stability.
 */
export function rankingQuality(descriptors: readonly Float32Array[], placeOf: readonly number[]): RankingQuality {
  if (descriptors.length !== placeOf.length) throw new RangeError(`${descriptors.length} descriptors for ${placeOf.length} place labels`);
  const n = descriptors.length;
  const ids = Array.from({ length: n }, (_, i) => String(i));
  let apSum = 0;
  let firstHits = 0;
  let queries = 0;
  for (let q = 0; q < n; q++) {
    const positives = new Set<string>();
    for (let j = 0; j < n; j++) if (j !== q && placeOf[j] === placeOf[q]) positives.add(ids[j]);
    if (positives.size === 0) continue;
    const scores = descriptors.map((d) => dotProduct(descriptors[q], d));
    const order = ids.map((_, j) => j).filter((j) => j !== q).sort((a, b) => scores[b] - scores[a] || a - b);
    apSum += averagePrecision(order.map((j) => ids[j]), positives, new Set());
    if (positives.has(ids[order[0]])) firstHits++;
    queries++;
  }
  return { mAP: queries ? apSum / queries : NaN, recallAt1: queries ? firstHits / queries : NaN, queries };
}

function dotProduct(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`descriptors of ${a.length} and ${b.length} dimensions`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
