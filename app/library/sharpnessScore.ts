// decodePhoto's sharpness score (variance of the Laplacian of a grey copy at 384 px) computed here,
// instead of a libvips pipeline whose colour conversion and set-up cost ~5 ms of CPU per photo.
// Scores are stored for a library's lifetime and compared across photos to pick which
// near-duplicate to keep, so they must not move: this repeats the arithmetic of the libvips that
// sharp 0.35 ships (8.18: sRGB → B_W colourspace, then vips_resize with Lanczos 3), roundings and
// all, and gives the same grey image byte for byte, hence the same score. Each quirk below was
// found by comparing against sharp; change none of them without comparing again. The loops over
// pixels run in WebAssembly (pixelKernels.c); the plans, tables and rare exact cases stay here.

import { pixelKernels, type PixelKernels } from '../engine/pixelKernels.js';

const f32 = Math.fround;

// libvips' 8-bit sRGB ↔ linear tables (colour.c), built in single precision as libvips builds
// them: linear light per sRGB code; back to sRGB as 8-bit values at 256 linear steps, interpolated
// between, with the last entry repeated for the interpolation's +1. Pixels often land on a .5 grey
// level, so one float rounding more or less than libvips changes pixels.
const TO_SRGB = new Int32Array(257);
const SRGB_STEP = new Int32Array(256);
// Each channel's term of the luminance as the float product libvips forms.
const LUMA_R = new Float32Array(256);
const LUMA_G = new Float32Array(256);
const LUMA_B = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const v = f32(i / 255);
  const linear = v <= 0.04045 ? f32(v / f32(12.92)) : f32(Math.pow(f32(f32(v + f32(0.055)) / f32(1.055)), f32(2.4)));
  LUMA_R[i] = f32(f32(0.2126) * linear);
  LUMA_G[i] = f32(f32(0.7152) * linear);
  LUMA_B[i] = f32(f32(0.0722) * linear);
  TO_SRGB[i] = Math.round(255 * f32(v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055));
}
TO_SRGB[256] = TO_SRGB[255];
for (let i = 0; i < 256; i++) SRGB_STEP[i] = TO_SRGB[i + 1] - TO_SRGB[i];

/** One pixel through libvips' float arithmetic. */
function exactGrey(r: number, g: number, b: number): number {
  return greyOfLevel(f32(f32(f32(LUMA_R[r] + LUMA_G[g]) + LUMA_B[b]) * 255));
}

/** The 8-bit grey of a linear luminance ×255 (as a float), with libvips' rounding. */
function greyOfLevel(y: number): number {
  const yi = y | 0;
  const v = f32(TO_SRGB[yi] + f32(SRGB_STEP[yi] * f32(y - yi)));
  // rint(): ties to even.
  const g = (v + 0.5) | 0;
  return g - v === 0.5 && (g & 1) !== 0 ? g - 1 : g;
}

// The float arithmetic costs ~9 ns a pixel; almost every pixel's grey follows from its luminance
// summed in double, looked up in 1/256-level buckets. A bucket whose grey is not the same across
// it, widened by more than the float roundings can move a luminance, is marked -1 and its pixels
// take the exact path.
const BUCKETS_PER_LEVEL = 256;
const BUCKET_MARGIN = 1e-4;
const BUCKET_R = new Float64Array(256);
const BUCKET_G = new Float64Array(256);
const BUCKET_B = new Float64Array(256);
const BUCKET_GREY = new Int16Array(256 * BUCKETS_PER_LEVEL + 1);
for (let i = 0; i < 256; i++) {
  BUCKET_R[i] = LUMA_R[i] * 255 * BUCKETS_PER_LEVEL;
  BUCKET_G[i] = LUMA_G[i] * 255 * BUCKETS_PER_LEVEL;
  BUCKET_B[i] = LUMA_B[i] * 255 * BUCKETS_PER_LEVEL;
}
for (let j = 0; j < BUCKET_GREY.length; j++) {
  const lo = Math.max(0, j / BUCKETS_PER_LEVEL - BUCKET_MARGIN);
  const hi = Math.min(255, (j + 1) / BUCKETS_PER_LEVEL + BUCKET_MARGIN);
  const g = greyOfLevel(lo);
  BUCKET_GREY[j] = g === greyOfLevel(hi) ? g : -1;
}

// vips_reduceh/v: the kernel is tabulated at 1/64-pixel phases and truncated (not rounded) to
// integer weights in 1/4096.
const PHASES = 64;
const WEIGHT_SHIFT = 12;
const WEIGHT_HALF = 1 << (WEIGHT_SHIFT - 1);
// vips_resize first box-shrinks by the integer part of shrink / gap (default gap 2).
const RESIZE_GAP = 2;
// The reducers step the source position by adding the shrink from the first output pixel of each
// region libvips asks for, and exact-tie phases fall either way depending on that rounding, so the
// regions are repeated: 16-row strips, full rows, or 128-column tiles once a box shrink is in the
// pipeline.
const STRIP_ROWS = 16;
const TILE_COLUMNS = 128;
export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Output size and resize steps of the grey copy, as sharp and vips_resize choose them. */
interface GreyPlan {
  width: number;
  height: number;
  outW: number;
  outH: number;
  hshrink: number;
  vshrink: number;
  /** vips_resize's integer box pre-shrink per axis (1: none). */
  kx: number;
  ky: number;
}

function planGrey(rgb: Uint8Array, width: number, height: number, longSide: number): GreyPlan {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new RangeError(`image size must be positive integers, got ${width}×${height}`);
  if (!(Number.isInteger(longSide) && longSide > 0)) throw new RangeError(`longSide must be a positive integer, got ${longSide}`);
  if (rgb.length !== width * height * 3) throw new RangeError(`expected ${width * height * 3} bytes for ${width}×${height} RGB, got ${rgb.length}`);
  const long = Math.max(width, height);
  const scale = long / Math.min(longSide, long);
  const outW = Math.max(1, Math.round(width / scale));
  const outH = Math.max(1, Math.round(height / scale));
  // sharp asks vips_resize for 1/shrink per axis; vips_resize has each reducer box-shrink its axis
  // by an integer first where the shrink is large, vertical first.
  const hshrink = width / outW;
  const vshrink = height / outH;
  const kx = Math.max(1, Math.floor(hshrink / RESIZE_GAP));
  const ky = Math.max(1, Math.floor(vshrink / RESIZE_GAP));
  return { width, height, outW, outH, hshrink, vshrink, kx, ky };
}

/** The usual case (a 512-px network input to 384): both axes reduced, no box pre-shrink. */
function isUsual(p: GreyPlan): boolean {
  return p.outW !== p.width && p.outH !== p.height && p.kx === 1 && p.ky === 1;
}

/**
 * decodePhoto's sharpness of packed 8-bit sRGB pixels: variance of the 4-neighbour Laplacian of a
 * grey copy reduced (Lanczos 3) to long side `longSide`, or the photo's own if that is smaller.
 */
export function sharpnessOf(rgb: Uint8Array, width: number, height: number, longSide = 384): number {
  const plan = planGrey(rgb, width, height, longSide);
  if (!isUsual(plan)) return laplacianVarianceOf(reducedGreyInJs(rgb, plan), plan.outW, plan.outH);
  const k = pixelKernels();
  const { at, sums } = reducedGreyInKernels(k, rgb, plan);
  if (plan.outW < 3 || plan.outH < 3) return 0;
  // The Laplacian and its sums are the same on the transposed image.
  k.run.laplacian_sums(at, plan.outH, plan.outW, sums);
  const [sum, sumSq] = k.int64s(sums, 2);
  return varianceOf(Number(sum), Number(sumSq), (plan.outW - 2) * (plan.outH - 2));
}

/** The grey copy sharpnessOf measures: byte for byte what sharp's resize + greyscale gives. */
export function sharpnessGrey(rgb: Uint8Array, width: number, height: number, longSide = 384): GreyImage {
  const plan = planGrey(rgb, width, height, longSide);
  const { outW, outH } = plan;
  if (!isUsual(plan)) return { data: reducedGreyInJs(rgb, plan), width: outW, height: outH };
  const k = pixelKernels();
  const transposed = k.bytes(reducedGreyInKernels(k, rgb, plan).at, outW * outH);
  const data = new Uint8Array(outW * outH);
  for (let x = 0; x < outW; x++) for (let y = 0; y < outH; y++) data[y * outW + x] = transposed[x * outH + y];
  return { data, width: outW, height: outH };
}

/**
 * The usual case in WebAssembly: grey, vertical reduce, transpose, and the horizontal reduce as a
 * vertical one over the transposed rows. The result stays in the module's memory at `at`,
 * transposed (outW rows of outH); `sums` is 16 spare bytes for the Laplacian's sums.
 */
function reducedGreyInKernels(k: PixelKernels, rgb: Uint8Array, p: GreyPlan): { at: number; sums: number } {
  const { width, height, outW, outH } = p;
  const vertical = planAxis(height, outH, p.vshrink, STRIP_ROWS);
  const horizontal = planAxis(width, outW, p.hshrink, outW);
  const tables = greyTables(k);
  const [rgbAt, greyAt, pendingAt, midAt, turnedAt, outAt, accAt, vIndex, vWeight, hIndex, hWeight, sums] = k.scratch([
    rgb.length, width * height, 4 * width * height, width * outH, width * outH, outW * outH, 4 * Math.max(width, outH),
    vertical.index.byteLength, vertical.weight.byteLength, horizontal.index.byteLength, horizontal.weight.byteLength, 16,
  ]);
  k.write(rgbAt, rgb);
  greyInKernels(k, rgb, width * height, rgbAt, greyAt, pendingAt, tables);
  k.write(vIndex, vertical.index);
  k.write(vWeight, vertical.weight);
  k.write(hIndex, horizontal.index);
  k.write(hWeight, horizontal.weight);
  k.run.reduce_rows(greyAt, width, outH, vIndex, vWeight, vertical.stride, accAt, midAt);
  k.run.transpose_bytes(midAt, width, outH, turnedAt);
  k.run.reduce_rows(turnedAt, outH, outW, hIndex, hWeight, horizontal.stride, accAt, outAt);
  return { at: outAt, sums };
}

/** The other cases (upscaled or unscaled axes, box pre-shrinks), in JS. */
function reducedGreyInJs(rgb: Uint8Array, p: GreyPlan): Uint8Array {
  const { outW, outH, kx, ky } = p;
  let grey = greyOf(rgb, p.width, p.height);
  let w = p.width;
  let h = p.height;
  if (ky > 1) {
    grey = boxShrinkRows(grey, w, h, ky);
    h = Math.ceil(h / ky);
  }
  if (outH !== h) grey = reduceRows(grey, w, h, outH, p.vshrink / ky);
  if (kx > 1) {
    grey = boxShrinkColumns(grey, w, outH, kx);
    w = Math.ceil(w / kx);
  }
  if (outW !== w) grey = reduceColumns(grey, w, outH, outW, p.hshrink / kx, kx > 1 || ky > 1 ? TILE_COLUMNS : outW);
  return grey;
}

/** The bucket tables in the kernels' memory: luminance terms (3 × 256 doubles), then the bucket greys. */
function greyTables(k: PixelKernels): { luma: number; grey: number } {
  return {
    luma: k.constant('sharpness/luma', () => {
      const t = new Float64Array(768);
      t.set(BUCKET_R, 0);
      t.set(BUCKET_G, 256);
      t.set(BUCKET_B, 512);
      return t;
    }),
    grey: k.constant('sharpness/bucket-grey', () => BUCKET_GREY),
  };
}

/**
 * libvips' sRGB → B_W of `rgb` (already copied to rgbAt) into greyAt: the bucket lookup in the
 * kernels, and the rare pixels in ambiguous buckets (~1 %) through the exact float path here.
 */
function greyInKernels(k: PixelKernels, rgb: Uint8Array, n: number, rgbAt: number, greyAt: number, pendingAt: number, tables: { luma: number; grey: number }): void {
  const pending = k.run.grey_buckets(rgbAt, n, greyAt, pendingAt, tables.luma, tables.luma + 2048, tables.luma + 4096, tables.grey);
  if (pending === 0) return;
  const indices = k.int32s(pendingAt, pending);
  const grey = k.bytes(greyAt, n);
  for (let j = 0; j < pending; j++) {
    const i = indices[j];
    grey[i] = exactGrey(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
  }
}

/** libvips' sRGB → B_W of packed RGB: luminance in linear light, back to 8-bit sRGB. */
function greyOf(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const k = pixelKernels();
  const n = width * height;
  const tables = greyTables(k);
  const [rgbAt, greyAt, pendingAt] = k.scratch([rgb.length, n, 4 * n]);
  k.write(rgbAt, rgb);
  greyInKernels(k, rgb, n, rgbAt, greyAt, pendingAt, tables);
  return k.bytes(greyAt, n).slice();
}

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/**
 * Taps of each output sample along one axis, `stride` per sample: output i sums weight[i·stride + k]
 * × source sample index[i·stride + k]. Zero weights are left out; a sample with fewer taps than the
 * most any has is padded with zero weights. Taps beyond the source repeat the edge sample, as
 * libvips pads.
 */
interface AxisPlan {
  stride: number;
  index: Int32Array;
  weight: Int32Array;
}

function planAxis(length: number, outLength: number, shrinkAsked: number, restartEvery: number): AxisPlan {
  // vips_resize is handed 1/shrink and hands the reducer 1/that.
  const shrink = 1 / (1 / shrinkAsked);
  const taps = 2 * rint(3 * shrink) + 1;
  const half = (taps - 1) / 2;
  const phaseWeights = new Int32Array((PHASES + 1) * taps);
  const phaseDone = new Uint8Array(PHASES + 1);
  const f = new Float64Array(taps);
  const centres = new Int32Array(outLength);
  const phases = new Int32Array(outLength);
  let stride = 1;
  let pos = 0;
  for (let i = 0; i < outLength; i++) {
    pos = i % restartEvery === 0 ? (i + 0.5) * shrink : pos + shrink;
    const phase = ((Math.trunc(pos * 2 * PHASES) & (2 * PHASES - 1)) + 1) >> 1;
    centres[i] = Math.trunc(pos);
    phases[i] = phase;
    if (phaseDone[phase]) continue;
    let sum = 0;
    for (let k = 0; k < taps; k++) sum += f[k] = lanczos3((k - (taps / 2 - 1) - phase / PHASES) / shrink);
    let nonZero = 0;
    for (let k = 0; k < taps; k++) if ((phaseWeights[phase * taps + k] = Math.trunc((f[k] / sum) * (1 << WEIGHT_SHIFT))) !== 0) nonZero++;
    stride = Math.max(stride, nonZero);
    phaseDone[phase] = 1;
  }
  const index = new Int32Array(outLength * stride);
  const weight = new Int32Array(outLength * stride);
  for (let i = 0; i < outLength; i++) {
    let t = i * stride;
    for (let k = 0; k < taps; k++) {
      const w = phaseWeights[phases[i] * taps + k];
      if (w === 0) continue;
      const s = centres[i] + k - half;
      index[t] = s < 0 ? 0 : s >= length ? length - 1 : s;
      weight[t++] = w;
    }
  }
  return { stride, index, weight };
}

function reduceRows(src: Uint8Array, width: number, height: number, outHeight: number, shrink: number): Uint8Array {
  const { stride, index, weight } = planAxis(height, outHeight, shrink, STRIP_ROWS);
  const out = new Uint8Array(width * outHeight);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < width; x++) {
      let acc = WEIGHT_HALF;
      for (let t = y * stride, end = t + stride; t < end; t++) acc += weight[t] * src[index[t] * width + x];
      const v = acc >> WEIGHT_SHIFT;
      out[y * width + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

function reduceColumns(src: Uint8Array, width: number, height: number, outWidth: number, shrink: number, restartEvery: number): Uint8Array {
  const { stride, index, weight } = planAxis(width, outWidth, shrink, restartEvery);
  const out = new Uint8Array(outWidth * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      let acc = WEIGHT_HALF;
      for (let t = x * stride, end = t + stride; t < end; t++) acc += weight[t] * src[y * width + index[t]];
      const v = acc >> WEIGHT_SHIFT;
      out[y * outWidth + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

// vips_shrinkv/h on 8-bit pixels: the mean of k samples, by a 16-bit reciprocal ((sum + k/2) ×
// ⌊65536/k⌋ >> 16), which rounds some means down. The last block repeats the edge sample.
function boxShrinkRows(src: Uint8Array, width: number, height: number, k: number): Uint8Array {
  const outHeight = Math.ceil(height / k);
  const out = new Uint8Array(width * outHeight);
  const acc = new Int32Array(width);
  const multiplier = Math.floor(65536 / k);
  for (let y = 0; y < outHeight; y++) {
    acc.fill(k >> 1);
    for (let j = 0; j < k; j++) {
      const row = Math.min(height - 1, y * k + j) * width;
      for (let x = 0; x < width; x++) acc[x] += src[row + x];
    }
    const o = y * width;
    for (let x = 0; x < width; x++) out[o + x] = (acc[x] * multiplier) >>> 16;
  }
  return out;
}

function boxShrinkColumns(src: Uint8Array, width: number, height: number, k: number): Uint8Array {
  const outWidth = Math.ceil(width / k);
  const out = new Uint8Array(outWidth * height);
  const multiplier = Math.floor(65536 / k);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const o = y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      let acc = k >> 1;
      for (let j = 0; j < k; j++) acc += src[row + Math.min(width - 1, x * k + j)];
      out[o + x] = (acc * multiplier) >>> 16;
    }
  }
  return out;
}

/**
 * Variance of the 4-neighbour Laplacian over the interior of a packed grey image, by the one-pass
 * formula every stored score was computed with. Its sums are of integers and exact in a double, so
 * the result is the same to the last bit in any order, also on the transposed image.
 */
export function laplacianVarianceOf(grey: Uint8Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let i = y * width + 1, end = y * width + width - 1; i < end; i++) {
      const v = grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4 * grey[i];
      sum += v;
      sumSq += v * v;
    }
  }
  return varianceOf(sum, sumSq, (width - 2) * (height - 2));
}

function varianceOf(sum: number, sumSq: number, n: number): number {
  const mean = sum / n;
  return sumSq / n - mean * mean;
}
