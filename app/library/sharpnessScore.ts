// decodePhoto's sharpness score (variance of the Laplacian of a grey copy at 384 px) in plain JS,
// instead of a libvips pipeline whose colour conversion and set-up cost ~5 ms of CPU per photo.
// Scores are stored for a library's lifetime and compared across photos to pick which
// near-duplicate to keep, so they must not move: this repeats the arithmetic of the libvips that
// sharp 0.35 ships (8.18: sRGB → B_W colourspace, then vips_resize with Lanczos 3), roundings and
// all, and gives the same grey image byte for byte, hence the same score. Each quirk below was
// found by comparing against sharp; change none of them without comparing again.

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
// Filter sums take their taps 8 at a time: one pass over the accumulator per 8 taps rather than per
// tap is ~3× faster in V8.
const TAP_BLOCK = 8;

// Two 8-bit pixels ride in one double, the second scaled by 2^24: every filter sum stays within
// ±2^22 per pixel, so one multiply-add filters both exactly and they separate again afterwards.
const LANE = 2 ** 24;
const LANE_HALF = 2 ** 23;
const LANE_INV = 2 ** -24;
const PAIR_BIAS = WEIGHT_HALF * (1 + LANE);

// Work arrays kept from call to call (sharpnessOf runs synchronously, one call at a time): the
// ~2 MB of fresh arrays a 512-px photo needed kept the collector's helper threads busy for ~1 ms
// of CPU per photo.
type ScratchArray = Uint8Array | Int32Array | Float64Array;
const scratch = new Map<string, ScratchArray>();
function reuse<T extends ScratchArray>(key: string, length: number, make: (n: number) => T): T {
  let a = scratch.get(key) as T | undefined;
  if (!a || a.length < length) scratch.set(key, (a = make(length)));
  return a.subarray(0, length) as T;
}

export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * decodePhoto's sharpness of packed 8-bit sRGB pixels: variance of the 4-neighbour Laplacian of a
 * grey copy reduced (Lanczos 3) to long side `longSide`, or the photo's own if that is smaller.
 */
export function sharpnessOf(rgb: Uint8Array, width: number, height: number, longSide = 384): number {
  // The Laplacian and its sums are the same on the transposed image.
  const grey = reducedGrey(rgb, width, height, longSide);
  return grey.transposed ? laplacianVarianceOf(grey.data, grey.height, grey.width) : laplacianVarianceOf(grey.data, grey.width, grey.height);
}

/** The grey copy sharpnessOf measures: byte for byte what sharp's resize + greyscale gives. */
export function sharpnessGrey(rgb: Uint8Array, width: number, height: number, longSide = 384): GreyImage {
  const grey = reducedGrey(rgb, width, height, longSide);
  // A copy: the reduced grey may be one of the work arrays the next call overwrites.
  if (!grey.transposed) return { data: grey.data.slice(), width: grey.width, height: grey.height };
  const data = new Uint8Array(grey.data.length);
  for (let x = 0; x < grey.width; x++) for (let y = 0; y < grey.height; y++) data[y * grey.width + x] = grey.data[x * grey.height + y];
  return { data, width: grey.width, height: grey.height };
}

/** The reduced grey image, row-major or (transposed) column-major. */
function reducedGrey(rgb: Uint8Array, width: number, height: number, longSide: number): GreyImage & { transposed: boolean } {
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
  let grey = greyOf(rgb, width, height);
  if (outW !== width && outH !== height && kx === 1 && ky === 1) {
    // The usual case (a 512-px network input to 384): two pixels to a double all the way, the
    // vertical pass writing transposed so that the horizontal one also runs along memory.
    const mid = reduceRowsPaired(pairColumns(grey, width, height), width, height, outH, vshrink);
    return { data: reduceColumnsPaired(mid, width, outH, outW, hshrink), width: outW, height: outH, transposed: true };
  }
  let w = width;
  let h = height;
  if (ky > 1) {
    grey = boxShrinkRows(grey, w, h, ky);
    h = Math.ceil(h / ky);
  }
  if (outH !== h) grey = reduceRows(grey, w, h, outH, vshrink / ky);
  if (kx > 1) {
    grey = boxShrinkColumns(grey, w, outH, kx);
    w = Math.ceil(w / kx);
  }
  if (outW !== w) grey = reduceColumns(grey, w, outH, outW, hshrink / kx, kx > 1 || ky > 1 ? TILE_COLUMNS : outW);
  return { data: grey, width: outW, height: outH, transposed: false };
}

/** libvips' sRGB → B_W of packed RGB: luminance in linear light, back to 8-bit sRGB. */
function greyOf(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = reuse('grey', width * height, (n) => new Uint8Array(n));
  // Pixels in ambiguous buckets, for the exact path. Branch-free: a rarely taken branch here has
  // too little type feedback and V8 keeps deoptimising the loop (~2× slower).
  let pending = reuse('pending', 4 * width, (n) => new Int32Array(n));
  let n = 0;
  for (let y = 0, i = 0, p = 0; y < height; y++) {
    if (pending.length - n < width) {
      const grown = reuse('pending', 2 * pending.length, (k) => new Int32Array(k));
      if (grown.buffer !== pending.buffer) grown.set(pending);
      pending = grown;
    }
    for (let end = i + width; i < end; i++, p += 3) {
      const bucket = BUCKET_GREY[(BUCKET_R[rgb[p]] + BUCKET_G[rgb[p + 1]] + BUCKET_B[rgb[p + 2]]) | 0];
      out[i] = bucket;
      pending[n] = i;
      n -= bucket >> 15;
    }
  }
  for (let k = 0; k < n; k++) {
    const i = pending[k];
    out[i] = exactGrey(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
  }
  return out;
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
 * Taps of each output sample along one axis, `stride` (a multiple of TAP_BLOCK) per sample: output
 * i sums weight[i·stride + k] × source sample index[i·stride + k]. Zero weights are left out and
 * the rest padded with zero weights. Taps beyond the source repeat the edge sample, as libvips pads.
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
  let stride = TAP_BLOCK;
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
    stride = Math.max(stride, Math.ceil(nonZero / TAP_BLOCK) * TAP_BLOCK);
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

/** Column x and column x + ⌈width/2⌉ of an 8-bit image in one double each, row by row. */
function pairColumns(grey: Uint8Array, width: number, height: number): Float64Array {
  const half = (width + 1) >> 1;
  const partnered = width - half;
  const out = reuse('pairs', half * height, (n) => new Float64Array(n));
  for (let y = 0; y < height; y++) {
    const row = y * half;
    const src = y * width;
    for (let x = 0; x < partnered; x++) out[row + x] = grey[src + x] + grey[src + half + x] * LANE;
    if (partnered < half) out[row + half - 1] = grey[src + half - 1];
  }
  return out;
}

/**
 * One output line of a paired reduce: acc[k] = PAIR_BIAS + Σ weight[t] · src[index[t] · n + k] over
 * the `stride` taps from `first`, for k < n (src holds lines of n paired samples). Taps come eight
 * at a time (planAxis pads them with zero weights), so the inner loop reads eight lines at once.
 */
function accumulateTaps(acc: Float64Array, src: Float64Array, n: number, index: Int32Array, weight: Int32Array, first: number, stride: number): void {
  for (let t = first, end = first + stride; t < end; t += TAP_BLOCK) {
    const w0 = weight[t], w1 = weight[t + 1], w2 = weight[t + 2], w3 = weight[t + 3];
    const w4 = weight[t + 4], w5 = weight[t + 5], w6 = weight[t + 6], w7 = weight[t + 7];
    const l0 = index[t] * n, l1 = index[t + 1] * n, l2 = index[t + 2] * n, l3 = index[t + 3] * n;
    const l4 = index[t + 4] * n, l5 = index[t + 5] * n, l6 = index[t + 6] * n, l7 = index[t + 7] * n;
    if (t === first) {
      for (let k = 0; k < n; k++) acc[k] = PAIR_BIAS + w0 * src[l0 + k] + w1 * src[l1 + k] + w2 * src[l2 + k] + w3 * src[l3 + k] + w4 * src[l4 + k] + w5 * src[l5 + k] + w6 * src[l6 + k] + w7 * src[l7 + k];
    } else {
      for (let k = 0; k < n; k++) acc[k] += w0 * src[l0 + k] + w1 * src[l1 + k] + w2 * src[l2 + k] + w3 * src[l3 + k] + w4 * src[l4 + k] + w5 * src[l5 + k] + w6 * src[l6 + k] + w7 * src[l7 + k];
    }
  }
}

/**
 * Vertical reduce of column pairs (from pairColumns), written transposed and paired by rows:
 * output rows y and y + ⌈outHeight/2⌉ of column x share out[x·⌈outHeight/2⌉ + y].
 */
function reduceRowsPaired(src: Float64Array, width: number, height: number, outHeight: number, shrink: number): Float64Array {
  const { stride, index, weight } = planAxis(height, outHeight, shrink, STRIP_ROWS);
  const half = (width + 1) >> 1;
  const partnered = width - half;
  const outHalf = (outHeight + 1) >> 1;
  const out = reuse('rows', width * outHalf, (n) => new Float64Array(n)).fill(0);
  const acc = reuse('acc', half, (n) => new Float64Array(n));
  for (let y = 0; y < outHeight; y++) {
    accumulateTaps(acc, src, half, index, weight, y * stride, stride);
    const lane = y < outHalf ? 1 : LANE;
    const o = y < outHalf ? y : y - outHalf;
    for (let x = 0; x < half; x++) {
      const total = acc[x];
      const high = Math.floor((total + LANE_HALF) * LANE_INV);
      const a = (total - high * LANE) >> WEIGHT_SHIFT;
      out[x * outHalf + o] += (a < 0 ? 0 : a > 255 ? 255 : a) * lane;
      if (x < partnered) {
        const b = high >> WEIGHT_SHIFT;
        out[(x + half) * outHalf + o] += (b < 0 ? 0 : b > 255 ? 255 : b) * lane;
      }
    }
  }
  return out;
}

/** Horizontal reduce of reduceRowsPaired's output, to an 8-bit image stored transposed. */
function reduceColumnsPaired(src: Float64Array, width: number, outHeight: number, outWidth: number, shrink: number): Uint8Array {
  const { stride, index, weight } = planAxis(width, outWidth, shrink, outWidth);
  const half = (outHeight + 1) >> 1;
  const partnered = outHeight - half;
  const out = reuse('reduced', outWidth * outHeight, (n) => new Uint8Array(n));
  const acc = reuse('acc', half, (n) => new Float64Array(n));
  for (let x = 0; x < outWidth; x++) {
    accumulateTaps(acc, src, half, index, weight, x * stride, stride);
    const o = x * outHeight;
    for (let y = 0; y < half; y++) {
      const total = acc[y];
      const high = Math.floor((total + LANE_HALF) * LANE_INV);
      const a = (total - high * LANE) >> WEIGHT_SHIFT;
      out[o + y] = a < 0 ? 0 : a > 255 ? 255 : a;
      if (y < partnered) {
        const b = high >> WEIGHT_SHIFT;
        out[o + y + half] = b < 0 ? 0 : b > 255 ? 255 : b;
      }
    }
  }
  return out;
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
  const n = (width - 2) * (height - 2);
  const mean = sum / n;
  return sumSq / n - mean * mean;
}
