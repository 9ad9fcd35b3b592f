// Perceptual hashes: the near-duplicate finders most photo tools ship (pHash, dHash, aHash), as a
// peer baseline for the benchmark table. They should do well on resized/re-encoded copies and
// poorly on other views of a landmark — the gap R-MAC is meant to close.
import sharp from 'sharp';

export type HashKind = 'phash' | 'dhash' | 'ahash';

export interface ImageHash {
  kind: HashKind;
  /** 64 bits as two unsigned 32-bit words, bit b of the hash in word b >>> 5 at position b & 31. */
  bits: Uint32Array;
}

/**
 * Decodes to a small grey raster. EXIF orientation is applied and transparency flattened onto
 * white so the hash sees the photo as the app (and a person) does. Aspect ratio is not kept:
 * all three hashes are defined on a fixed square-ish grid.
 */
async function greyRaster(file: string, width: number, height: number): Promise<Float64Array> {
  const { data, info } = await sharp(file)
    .rotate()
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .greyscale()
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 1) {
    throw new Error(`${file}: expected a ${width}×${height} grey raster, got ${info.width}×${info.height}×${info.channels}`);
  }
  return Float64Array.from(data);
}

function setBit(bits: Uint32Array, b: number): void {
  bits[b >>> 5] |= 1 << (b & 31);
}

/** Unnormalised DCT-II basis cos(π(2x+1)u / 2N): every coefficient kept shares one scale, which a median threshold ignores. */
function dctBasis(n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let u = 0; u < n; u++) for (let x = 0; x < n; x++) c[u * n + x] = Math.cos((Math.PI * (2 * x + 1) * u) / (2 * n));
  return c;
}

const DCT32 = dctBasis(32);

/**
 * pHash from a 32×32 grey raster (row-major): 2-D DCT, then the 8×8 lowest frequencies just past
 * the DC row and column (u, v = 1..8, as pHash.org does — the DC row and column carry overall
 * brightness and its gradients, which say little about content), one bit per coefficient above
 * their median.
 */
export function phashFromGrey(pixels: ArrayLike<number>): ImageHash {
  if (pixels.length !== 32 * 32) throw new Error(`phash needs 32×32 pixels, got ${pixels.length}`);
  const N = 32;
  // Rows then columns, but only the 9 lowest frequencies of each are ever needed.
  const K = 9;
  const rows = new Float64Array(N * K); // rows[y][v]
  for (let y = 0; y < N; y++) {
    for (let v = 0; v < K; v++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += DCT32[v * N + x] * pixels[y * N + x];
      rows[y * K + v] = s;
    }
  }
  const coeffs: number[] = [];
  for (let u = 1; u < K; u++) {
    for (let v = 1; v < K; v++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += DCT32[u * N + y] * rows[y * K + v];
      coeffs.push(s);
    }
  }
  return { kind: 'phash', bits: thresholdBits(coeffs, median(coeffs)) };
}

/** dHash from a 9 wide × 8 high grey raster: a bit per horizontally adjacent pair, set where brightness rises to the right. */
export function dhashFromGrey(pixels: ArrayLike<number>): ImageHash {
  if (pixels.length !== 9 * 8) throw new Error(`dhash needs 9×8 pixels, got ${pixels.length}`);
  const bits = new Uint32Array(2);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) if (pixels[y * 9 + x + 1] > pixels[y * 9 + x]) setBit(bits, y * 8 + x);
  return { kind: 'dhash', bits };
}

/** aHash from an 8×8 grey raster: a bit per pixel brighter than the mean. */
export function ahashFromGrey(pixels: ArrayLike<number>): ImageHash {
  if (pixels.length !== 64) throw new Error(`ahash needs 8×8 pixels, got ${pixels.length}`);
  let mean = 0;
  for (let i = 0; i < 64; i++) mean += pixels[i];
  mean /= 64;
  return { kind: 'ahash', bits: thresholdBits(Array.from({ length: 64 }, (_, i) => pixels[i]), mean) };
}

function thresholdBits(values: readonly number[], threshold: number): Uint32Array {
  const bits = new Uint32Array(2);
  values.forEach((v, b) => {
    if (v > threshold) setBit(bits, b);
  });
  return bits;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function describe(file: string, kind: HashKind = 'phash'): Promise<ImageHash> {
  switch (kind) {
    case 'phash':
      return phashFromGrey(await greyRaster(file, 32, 32));
    case 'dhash':
      return dhashFromGrey(await greyRaster(file, 9, 8));
    case 'ahash':
      return ahashFromGrey(await greyRaster(file, 8, 8));
    default:
      throw new Error(`Unknown hash kind ${String(kind)}`);
  }
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

export function hammingDistance(a: ImageHash, b: ImageHash): number {
  if (a.kind !== b.kind) throw new Error(`Cannot compare a ${a.kind} with a ${b.kind}`);
  return popcount32(a.bits[0] ^ b.bits[0]) + popcount32(a.bits[1] ^ b.bits[1]);
}

/** Higher is more similar: 0 for identical hashes, −64 for complementary ones. */
export function similarity(a: ImageHash, b: ImageHash): number {
  // Not `-distance`: that gives −0 for identical hashes, which prints as "-0" and fails Object.is checks.
  return 0 - hammingDistance(a, b);
}

/** 16 hex digits, high word first, for logs and result tables. */
export function hashToHex(h: ImageHash): string {
  return h.bits[1].toString(16).padStart(8, '0') + h.bits[0].toString(16).padStart(8, '0');
}
