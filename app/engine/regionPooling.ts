// ROI max-pooling over a feature map: each region becomes one C-vector (DESIGN.md §1.1 step 4).
import type { CellRegion } from './rmacRegions.js';

/** A single image's feature map, channel-major (NCHW with N = 1). */
export interface FeatureMap {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Max over the region's cells, per channel. Regions are clipped to the map. */
export function maxPoolRegion(map: FeatureMap, region: CellRegion): Float32Array {
  const { data, channels, height, width } = map;
  const x0 = Math.max(0, Math.floor(region.x));
  const y0 = Math.max(0, Math.floor(region.y));
  const x1 = Math.min(width, Math.ceil(region.x + region.width));
  const y1 = Math.min(height, Math.ceil(region.y + region.height));
  if (x1 <= x0 || y1 <= y0) throw new RangeError(`region ${JSON.stringify(region)} lies outside the ${width}×${height} feature map`);
  const out = new Float32Array(channels);
  const plane = width * height;
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    let m = -Infinity;
    for (let y = y0; y < y1; y++) {
      const row = base + y * width;
      for (let x = x0; x < x1; x++) {
        const v = data[row + x];
        if (v > m) m = v;
      }
    }
    out[c] = m;
  }
  return out;
}

/** MAC: max over the whole map. */
export function globalMaxPool(map: FeatureMap): Float32Array {
  return maxPoolRegion(map, { x: 0, y: 0, width: map.width, height: map.height });
}
