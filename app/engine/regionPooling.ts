// ROI max-pooling over a feature map: each region becomes one C-vector (DESIGN.md §1.1 step 4).
import { pixelKernels } from './pixelKernels.js';
import type { CellRegion } from './rmacRegions.js';

/** A single image's feature map, channel-major (NCHW with N = 1). */
export interface FeatureMap {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/**
 * A feature map as a model rewritten to give bytes returns it (quantisedIoGraph.ts): channels
 * last (NHWC with N = 1), value = (byte − zeroPoint) × scale.
 */
export interface QuantisedFeatureMap {
  data: Uint8Array;
  channels: number;
  height: number;
  width: number;
  scale: number;
  zeroPoint: number;
}

export function isQuantisedFeatureMap(map: FeatureMap | QuantisedFeatureMap): map is QuantisedFeatureMap {
  return map.data instanceof Uint8Array;
}

/** A region clipped to whole cells of the map: [x0, x1) × [y0, y1). */
interface CellSpan {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

function clipToMap(map: Pick<FeatureMap, 'width' | 'height'>, region: CellRegion): CellSpan {
  const x0 = Math.max(0, Math.floor(region.x));
  const y0 = Math.max(0, Math.floor(region.y));
  const x1 = Math.min(map.width, Math.ceil(region.x + region.width));
  const y1 = Math.min(map.height, Math.ceil(region.y + region.height));
  if (x1 <= x0 || y1 <= y0) throw new RangeError(`region ${JSON.stringify(region)} lies outside the ${map.width}×${map.height} feature map`);
  return { x0, x1, y0, y1 };
}

/** Max over the region's cells, per channel. Regions are clipped to the map. */
export function maxPoolRegion(map: FeatureMap, region: CellRegion): Float32Array {
  const { data, channels, height, width } = map;
  const { x0, x1, y0, y1 } = clipToMap(map, region);
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

/** Sorted distinct edges, and for each edge value its index among them. */
function cutsOf(edges: number[], extent: number): { cuts: Int32Array; indexOf: Int32Array } {
  const cuts = Int32Array.from(new Set(edges)).sort();
  const indexOf = new Int32Array(extent + 1).fill(-1);
  cuts.forEach((v, i) => (indexOf[v] = i));
  return { cuts, indexOf };
}

// A float32's bits, as an int32, with the magnitude bits flipped when the sign bit is set: integer
// order is then float order (−0 just below +0), so a maximum can be taken with integer operations
// that never branch. Comparing two floats branches, and the maxima of neighbouring blocks are as
// good as random to a branch predictor. The mapping is its own inverse.
function orderedKey(bits: number): number {
  return bits ^ ((bits >> 31) & 0x7fffffff);
}

/**
 * maxPoolRegion for many regions of one map at once, with the same results (the sign of a zero
 * maximum aside: +0 wins over −0 here, the first one met there). R-MAC's regions overlap heavily
 * and share a handful of edges, so the map is cut along every region edge into blocks; each block's
 * maximum is taken once per channel, and each region is the maximum of the blocks it covers. Every
 * cell is read once instead of once per region that contains it.
 */
export function maxPoolRegions(map: FeatureMap | QuantisedFeatureMap, regions: CellRegion[]): Float32Array[] {
  if (isQuantisedFeatureMap(map)) return maxPoolQuantisedRegions(map, regions);
  const { channels, height, width } = map;
  const { spans, xs, ys } = blocksOf(map, regions);
  if (spans.length === 0) return [];
  const bits = new Int32Array(map.data.buffer, map.data.byteOffset, map.data.length);
  const xCuts = xs.cuts;
  const yCuts = ys.cuts;
  const nx = xCuts.length - 1;
  const ny = yCuts.length - 1;
  const xFirst = xCuts[0];
  const xLast = xCuts[nx];
  const plane = width * height;
  // Block maxima channel-innermost ([block][channel]), so that combining blocks into regions runs
  // along whole channel vectors.
  const blocks = new Int32Array(nx * ny * channels);
  const columnMax = new Int32Array(width);
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let by = 0; by < ny; by++) {
      // Maximum over the band's rows for every column, then over each block of columns: the
      // inner loops run along whole rows.
      const yEnd = yCuts[by + 1];
      let row = base + yCuts[by] * width;
      for (let x = xFirst; x < xLast; x++) columnMax[x] = orderedKey(bits[row + x]);
      for (let y = yCuts[by] + 1; y < yEnd; y++) {
        row += width;
        for (let x = xFirst; x < xLast; x++) {
          const k = orderedKey(bits[row + x]);
          const m = columnMax[x];
          columnMax[x] = m ^ ((m ^ k) & -(m < k));
        }
      }
      for (let bx = 0; bx < nx; bx++) {
        const xEnd = xCuts[bx + 1];
        let m = columnMax[xCuts[bx]];
        for (let x = xCuts[bx] + 1; x < xEnd; x++) {
          const k = columnMax[x];
          m = m ^ ((m ^ k) & -(m < k));
        }
        blocks[(by * nx + bx) * channels + c] = m;
      }
    }
  }
  const out: Float32Array[] = [];
  for (let r = 0; r < spans.length; r++) {
    const bx0 = xs.indexOf[spans[r].x0];
    const bx1 = xs.indexOf[spans[r].x1];
    const by0 = ys.indexOf[spans[r].y0];
    const by1 = ys.indexOf[spans[r].y1];
    const first = (by0 * nx + bx0) * channels;
    const acc = blocks.slice(first, first + channels);
    for (let by = by0; by < by1; by++) {
      for (let bx = by === by0 ? bx0 + 1 : bx0; bx < bx1; bx++) {
        const b = (by * nx + bx) * channels;
        for (let c = 0; c < channels; c++) {
          const k = blocks[b + c];
          const m = acc[c];
          acc[c] = m ^ ((m ^ k) & -(m < k));
        }
      }
    }
    for (let c = 0; c < channels; c++) acc[c] = orderedKey(acc[c]);
    const pooled = new Float32Array(acc.buffer);
    // A NaN has the largest key of all, where maxPoolRegion skips NaNs: such a region is
    // recomputed the slow way, so the two agree on every input.
    out.push(pooled.some(Number.isNaN) ? maxPoolRegion(map, regions[r]) : pooled);
  }
  return out;
}

/** The regions clipped to the map, and the cuts along every region edge that split it into blocks. */
function blocksOf(map: Pick<FeatureMap, 'width' | 'height'>, regions: CellRegion[]) {
  const spans = regions.map((r) => clipToMap(map, r));
  return {
    spans,
    xs: cutsOf(spans.flatMap((s) => [s.x0, s.x1]), map.width),
    ys: cutsOf(spans.flatMap((s) => [s.y0, s.y1]), map.height),
  };
}

/**
 * maxPoolRegions over a byte map: the maxima are taken over the bytes (in WebAssembly, 16 at a
 * time) and only they are dequantised, with onnxruntime's DequantizeLinear arithmetic (float32
 * (byte − zeroPoint) × scale), so each region gets the floats that pooling the dequantised map
 * would give.
 */
function maxPoolQuantisedRegions(map: QuantisedFeatureMap, regions: CellRegion[]): Float32Array[] {
  const { channels, width } = map;
  if (map.data.length !== channels * width * map.height) throw new RangeError(`${map.data.length} bytes for a ${width}×${map.height}×${channels} map`);
  const { spans, xs, ys } = blocksOf(map, regions);
  if (spans.length === 0) return [];
  const nx = xs.cuts.length - 1;
  const ny = ys.cuts.length - 1;
  const k = pixelKernels();
  const [mapAt, xCutsAt, yCutsAt, blocksAt, accAt] = k.scratch([map.data.length, xs.cuts.byteLength, ys.cuts.byteLength, nx * ny * channels, channels]);
  k.write(mapAt, map.data);
  k.write(xCutsAt, xs.cuts);
  k.write(yCutsAt, ys.cuts);
  k.run.block_maxima(mapAt, width, channels, xCutsAt, nx, yCutsAt, ny, blocksAt);
  const scale = Math.fround(map.scale);
  return spans.map((span) => {
    k.bytes(accAt, channels).fill(0);
    for (let by = ys.indexOf[span.y0]; by < ys.indexOf[span.y1]; by++) {
      for (let bx = xs.indexOf[span.x0]; bx < xs.indexOf[span.x1]; bx++) k.run.max_into(accAt, blocksAt + (by * nx + bx) * channels, channels);
    }
    const maxima = k.bytes(accAt, channels);
    const out = new Float32Array(channels);
    // A float32 product of two float32s, as the double product (exact) rounded once.
    for (let c = 0; c < channels; c++) out[c] = (maxima[c] - map.zeroPoint) * scale;
    return out;
  });
}

/** MAC: max over the whole map. */
export function globalMaxPool(map: FeatureMap): Float32Array {
  return maxPoolRegion(map, { x: 0, y: 0, width: map.width, height: map.height });
}
