// R-MAC aggregation (DESIGN.md §1.1 steps 4–6): region max-pool → L2 → whiten → L2 → sum → L2.
// Raw (pre-whitening) region vectors are what the workers return, so one forward pass serves
// every variant (MAC, R-MAC, whitened, multi-resolution) and whitening can be refitted later.
import { maxPoolRegions, type FeatureMap, type QuantisedFeatureMap } from './regionPooling.js';
import { rmacRegions, type CellRegion, type RmacGridOptions } from './rmacRegions.js';
import { l2normalize, addInto } from './vectorMath.js';
import { applyWhitening, applyWhiteningBatch, type Whitening } from './whitening.js';
import type { PixelBox } from './imageInput.js';

export interface PooledRegion {
  /** The region in feature cells of its scale. */
  cell: CellRegion;
  /** The region in the original image's pixels (for heatmaps). */
  box: PixelBox;
  /** Max-pooled, L2-normalised, not whitened. */
  vector: Float32Array;
  /** A pooled RPN proposal's σ(objectness logit); absent for grid regions. */
  objectness?: number;
}

/**
 * Which regions a scale pooled: the rigid grid, the RPN's proposals, or the grid because an RPN
 * model's head proposed nothing usable on this map.
 */
export type RegionSource = 'grid' | 'rpn' | 'grid-fallback';

export interface ScaleDescription {
  longSide: number;
  featureWidth: number;
  featureHeight: number;
  /** MAC: max over the whole map, L2-normalised. */
  mac: Float32Array;
  regions: PooledRegion[];
  /** Absent: the grid (descriptions made before RPN models existed have none). */
  regionSource?: RegionSource;
}

export interface ImageGeometry {
  /** original = offset + network · scale, per axis. */
  scale: number;
  offsetX: number;
  offsetY: number;
  /** Network pixels per feature cell. */
  stride: number;
}

export function poolScale(map: FeatureMap | QuantisedFeatureMap, geometry: ImageGeometry, longSide: number, regions: CellRegion[] | RmacGridOptions = {}): ScaleDescription {
  const cells = Array.isArray(regions) ? regions : rmacRegions(map.width, map.height, regions);
  const px = geometry.stride * geometry.scale;
  // MAC rides along as one more region: pooling all regions in one pass reads the map once.
  const pooled = maxPoolRegions(map, [...cells, { x: 0, y: 0, width: map.width, height: map.height }]);
  return {
    longSide,
    featureWidth: map.width,
    featureHeight: map.height,
    mac: l2normalize(pooled[cells.length]),
    regions: cells.map((cell, i) => ({
      cell,
      box: { x: geometry.offsetX + cell.x * px, y: geometry.offsetY + cell.y * px, width: cell.width * px, height: cell.height * px },
      vector: l2normalize(pooled[i]),
    })),
  };
}

/** The final R-MAC vector of one or several scales: whitened regions summed, L2-normalised. */
export function aggregateRmac(scales: ScaleDescription[], whitening?: Whitening): Float32Array {
  const dim = whitening ? whitening.dim : scales[0].regions[0].vector.length;
  const sum = new Float32Array(dim);
  for (const s of scales) for (const r of s.regions) addInto(sum, regionEmbedding(r.vector, whitening));
  return l2normalize(sum);
}

/** One region's contribution to the global vector: whitened and L2-normalised. */
export function regionEmbedding(raw: Float32Array, whitening?: Whitening): Float32Array {
  return whitening ? l2normalize(applyWhitening(whitening, raw)) : raw;
}

/** MAC over several scales: summed then L2-normalised. */
export function aggregateMac(scales: ScaleDescription[]): Float32Array {
  const sum = new Float32Array(scales[0].mac.length);
  for (const s of scales) addInto(sum, s.mac);
  return l2normalize(sum);
}

/**
 * aggregateRmac for many photos at once: every region of every photo is whitened in one batch.
 * Gives the same vectors as calling aggregateRmac per photo (up to float rounding).
 */
export async function aggregateRmacMany(photos: ScaleDescription[][], whitening?: Whitening): Promise<Float32Array[]> {
  if (!whitening) return photos.map((scales) => aggregateRmac(scales));
  const counts = photos.map((scales) => scales.reduce((n, s) => n + s.regions.length, 0));
  const total = counts.reduce((a, b) => a + b, 0);
  const rows = new Float32Array(total * whitening.channels);
  let r = 0;
  for (const scales of photos) for (const s of scales) for (const region of s.regions) rows.set(region.vector, (r++) * whitening.channels);
  const whitened = await applyWhiteningBatch(whitening, rows, total);
  const d = whitening.dim;
  let offset = 0;
  return counts.map((count) => {
    const sum = new Float32Array(d);
    for (let i = 0; i < count; i++, offset++) addInto(sum, l2normalize(whitened.subarray(offset * d, (offset + 1) * d)));
    return l2normalize(sum);
  });
}
