// Downscaling by area averaging, for the small grey images the indexer derives from
// the network input it already decoded (the tiny near-duplicate signature, the sharpness copy).
// Each of those was a separate libvips pipeline costing 3–5 ms of CPU per photo, mostly the
// sRGB → grey colour conversion and pipeline set-up, against well under a millisecond here.
// Area averaging is the exact integral of the source over each output pixel's footprint: no
// ringing, and every source pixel counts, which is what a signature of the whole photo needs.
import { pixelKernels } from '../engine/pixelKernels.js';

/** Rec. 601 luma of packed RGB (or grey, or RGBA) pixels, on the stored (gamma-encoded) values. */
export function lumaOf(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Float32Array {
  const n = width * height;
  if (pixels.length < n * channels) throw new RangeError(`expected ${n * channels} bytes for ${width}×${height}×${channels}, got ${pixels.length}`);
  const out = new Float32Array(n);
  if (channels === 1) {
    for (let i = 0; i < n; i++) out[i] = pixels[i];
    return out;
  }
  for (let i = 0, p = 0; i < n; i++, p += channels) out[i] = 0.299 * pixels[p] + 0.587 * pixels[p + 1] + 0.114 * pixels[p + 2];
  return out;
}

export interface Crop {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Weights of the source pixels each output pixel covers along one axis: output pixel i spans
 * [start + i·scale, start + (i+1)·scale) in source pixels, each source pixel weighted by the
 * length it overlaps, normalised to sum 1.
 */
function axisWeights(start: number, length: number, outLength: number): { first: Int32Array; count: Int32Array; weights: Float32Array; stride: number } {
  const scale = length / outLength;
  // Rounding can put the last footprint's end a hair past the source: never read beyond it.
  const end = start + length - 1e-9;
  const stride = Math.ceil(scale) + 1;
  const first = new Int32Array(outLength);
  const count = new Int32Array(outLength);
  const weights = new Float32Array(outLength * stride);
  for (let i = 0; i < outLength; i++) {
    const a = start + i * scale;
    const b = Math.min(a + scale, start + length);
    const lo = Math.floor(a);
    let k = 0;
    let total = 0;
    for (let s = lo; s < Math.min(b, end) && k < stride; s++, k++) total += weights[i * stride + k] = Math.min(b, s + 1) - Math.max(a, s);
    for (let j = 0; j < k; j++) weights[i * stride + j] /= total;
    first[i] = lo;
    count[i] = k;
  }
  return { first, count, weights, stride };
}

/**
 * Area-averaged downscale of one plane (row-major, `width` × `height`), optionally of a crop of
 * it, to `outWidth` × `outHeight`. Along an axis that grows (a panorama's short side) each output
 * pixel covers part of one or two source pixels: a box upscale, crude but defined.
 */
export function areaResample(plane: Float32Array, width: number, height: number, outWidth: number, outHeight: number, crop: Crop = { x: 0, y: 0, width, height }): Float32Array {
  if (plane.length < width * height) throw new RangeError(`plane holds ${plane.length} values, not ${width}×${height}`);
  if (!(outWidth >= 1 && outHeight >= 1 && Number.isInteger(outWidth) && Number.isInteger(outHeight))) throw new RangeError(`output size ${outWidth}×${outHeight} is not a positive integer size`);
  if (crop.x < 0 || crop.y < 0 || crop.x + crop.width > width + 1e-9 || crop.y + crop.height > height + 1e-9 || crop.width <= 0 || crop.height <= 0) {
    throw new RangeError(`crop ${JSON.stringify(crop)} is not inside ${width}×${height}`);
  }
  const h = axisWeights(crop.x, crop.width, outWidth);
  const v = axisWeights(crop.y, crop.height, outHeight);
  const rowFirst = v.first[0];
  const rowLast = v.first[outHeight - 1] + v.count[outHeight - 1];
  // Horizontal pass over the rows the vertical pass needs, then the vertical pass.
  const rows = new Float32Array((rowLast - rowFirst) * outWidth);
  for (let y = rowFirst; y < rowLast; y++) {
    const src = y * width;
    const dst = (y - rowFirst) * outWidth;
    for (let i = 0; i < outWidth; i++) {
      let s = 0;
      const f = h.first[i];
      const base = i * h.stride;
      for (let k = 0; k < h.count[i]; k++) s += plane[src + f + k] * h.weights[base + k];
      rows[dst + i] = s;
    }
  }
  const out = new Float32Array(outWidth * outHeight);
  for (let j = 0; j < outHeight; j++) {
    const f = v.first[j] - rowFirst;
    const base = j * v.stride;
    for (let k = 0; k < v.count[j]; k++) {
      const w = v.weights[base + k];
      const src = (f + k) * outWidth;
      const dst = j * outWidth;
      for (let i = 0; i < outWidth; i++) out[dst + i] += rows[src + i] * w;
    }
  }
  return out;
}

/**
 * Packed 8-bit pixels (`channels` interleaved) halved in both directions by averaging 2×2
 * blocks, rounding halves up: the area average for half the size, which is how the 256-px
 * thumbnail relates to the 512-px network input. An odd side halves to either neighbour of its
 * half: rounding down drops the last row or column, rounding up averages it with itself. A
 * libvips resize pipeline costs ~2 ms of CPU for this.
 */
export function halvePacked(pixels: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number): Uint8Array {
  if (!(Number.isInteger(channels) && channels >= 1)) throw new RangeError(`channels must be a positive integer, got ${channels}`);
  if (pixels.length < width * height * channels) throw new RangeError(`expected ${width * height * channels} bytes for ${width}×${height}×${channels}, got ${pixels.length}`);
  if (!isHalf(width, outWidth) || !isHalf(height, outHeight)) throw new RangeError(`${outWidth}×${outHeight} is not half of ${width}×${height}`);
  // In WebAssembly (pixelKernels.c): ~0.7 ms of CPU per 512-px photo in JS.
  const k = pixelKernels();
  const length = outWidth * outHeight * channels;
  const [pixelsAt, outAt] = k.scratch([width * height * channels, length]);
  k.write(pixelsAt, pixels.subarray(0, width * height * channels));
  k.run.halve_packed(pixelsAt, width, height, channels, outWidth, outHeight, outAt);
  return k.bytes(outAt, length).slice();
}

/** Whether `half` is `full` halved, rounded either way (and at least 1). */
export function isHalf(full: number, half: number): boolean {
  return Number.isInteger(full) && Number.isInteger(half) && half >= 1 && (half === Math.floor(full / 2) || half === Math.ceil(full / 2));
}

/** Rounds to bytes, clamped to 0–255. */
export function toBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] <= 0 ? 0 : values[i] >= 255 ? 255 : Math.round(values[i]);
  return out;
}
