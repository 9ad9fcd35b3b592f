// ROI max-pooling over a feature map: each region becomes one C-vector (DESIGN.md §1.1 step 4).
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

// Four bytes' maxima at once, in one 32-bit word: in two 16-bit lanes per half, 256 + a − b has
// bit 8 set exactly where a ≥ b, and never borrows from the next lane. Three times as fast as a
// comparison per byte, whose branch the data makes unpredictable.
function byteMax4(a: number, b: number): number {
  const ae = a & 0x00ff00ff;
  const be = b & 0x00ff00ff;
  const ao = (a >>> 8) & 0x00ff00ff;
  const bo = (b >>> 8) & 0x00ff00ff;
  const me = ((((ae | 0x01000100) - be) >>> 8) & 0x00010001) * 0xff;
  const mo = ((((ao | 0x01000100) - bo) >>> 8) & 0x00010001) * 0xff;
  return (ae & me) | (be & ~me) | (((ao & mo) | (bo & ~mo)) << 8);
}

/**
 * maxPoolRegions over a byte map: the maxima are taken over the bytes and only they are
 * dequantised, with onnxruntime's DequantizeLinear arithmetic (float32 (byte − zeroPoint) × scale),
 * so each region gets the floats that pooling the dequantised map would give.
 */
function maxPoolQuantisedRegions(map: QuantisedFeatureMap, regions: CellRegion[]): Float32Array[] {
  const { channels, width } = map;
  if (map.data.length !== channels * width * map.height) throw new RangeError(`${map.data.length} bytes for a ${width}×${map.height}×${channels} map`);
  const { spans, xs, ys } = blocksOf(map, regions);
  if (spans.length === 0) return [];
  // Whole words per cell: channels padded to a multiple of 4 (a copy only where they are not, or
  // where the bytes do not start on a word).
  const words = (channels + 3) >> 2;
  let data: Uint32Array;
  if (channels % 4 === 0 && map.data.byteOffset % 4 === 0) {
    data = new Uint32Array(map.data.buffer, map.data.byteOffset, map.data.length / 4);
  } else {
    const padded = new Uint8Array(4 * words * width * map.height);
    for (let cell = 0; cell < width * map.height; cell++) padded.set(map.data.subarray(cell * channels, (cell + 1) * channels), 4 * words * cell);
    data = new Uint32Array(padded.buffer);
  }
  const nx = xs.cuts.length - 1;
  const ny = ys.cuts.length - 1;
  // Block maxima cell-shaped, as the map itself is: every loop runs along whole cells.
  const blocks = new Uint32Array(nx * ny * words);
  for (let by = 0; by < ny; by++) {
    for (let y = ys.cuts[by]; y < ys.cuts[by + 1]; y++) {
      for (let bx = 0; bx < nx; bx++) {
        const block = (by * nx + bx) * words;
        for (let x = xs.cuts[bx]; x < xs.cuts[bx + 1]; x++) {
          const cell = (y * width + x) * words;
          for (let w = 0; w < words; w++) blocks[block + w] = byteMax4(blocks[block + w], data[cell + w]);
        }
      }
    }
  }
  const scale = Math.fround(map.scale);
  return spans.map((span) => {
    const acc = new Uint32Array(words);
    for (let by = ys.indexOf[span.y0]; by < ys.indexOf[span.y1]; by++) {
      for (let bx = xs.indexOf[span.x0]; bx < xs.indexOf[span.x1]; bx++) {
        const block = (by * nx + bx) * words;
        for (let w = 0; w < words; w++) acc[w] = byteMax4(acc[w], blocks[block + w]);
      }
    }
    const bytes = new Uint8Array(acc.buffer);
    const out = new Float32Array(channels);
    // A float32 product of two float32s, as the double product (exact) rounded once.
    for (let c = 0; c < channels; c++) out[c] = (bytes[c] - map.zeroPoint) * scale;
    return out;
  });
}

/** MAC: max over the whole map. */
export function globalMaxPool(map: FeatureMap): Float32Array {
  return maxPoolRegion(map, { x: 0, y: 0, width: map.width, height: map.height });
}
