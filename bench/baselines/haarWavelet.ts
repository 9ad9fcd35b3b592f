// "Fast Multiresolution Image Querying" (Jacobs, Finkelstein & Salesin, SIGGRAPH 1995): the
// wavelet signature behind imgSeek and digiKam's fuzzy/duplicate search, as a peer baseline for
// the benchmark table. Implemented from the paper: 128×128 YIQ, standard 2-D Haar decomposition,
// the m = 40 largest-magnitude coefficients per channel kept as signs only, and the paper's
// "fast" score with its bin weights for scanned (photographic) queries.
import sharp from 'sharp';

export const SIZE = 128;
export const COEFFICIENTS_PER_CHANNEL = 40;

/**
 * Weights per bin (rows) and channel (Y, I, Q) for scanned queries, the table the paper fitted and
 * imgSeek/digiKam ship. Row 0 weighs the DC term (the channel's mean), rows 1–5 a matched
 * coefficient of bin 1–5.
 */
export const WEIGHTS: readonly (readonly [number, number, number])[] = [
  [5.0, 19.21, 34.37],
  [0.83, 1.26, 0.36],
  [1.01, 0.44, 0.45],
  [0.52, 0.53, 0.14],
  [0.47, 0.28, 0.18],
  [0.3, 0.14, 0.27],
];

/** The paper's bin(i, j) = min(max(i, j), 5) of the coefficient at row i, column j. */
export function bin(position: number): number {
  return Math.min(Math.max(Math.floor(position / SIZE), position % SIZE), 5);
}

export interface HaarSignature {
  /** Mean of Y, I, Q (RGB scaled to [0, 1]): the DC coefficient of each channel. */
  avg: Float64Array;
  /**
   * Per channel, the kept coefficients as signed positions (row · 128 + column, +position for a
   * positive coefficient, −position for a negative one), ascending. Position 0 is the DC term,
   * kept apart in `avg`, so the sign is never ambiguous.
   */
  coefs: [Int32Array, Int32Array, Int32Array];
}

/**
 * The paper's DecomposeArray on the `n` values at `a[off + k·stride]`. Its initial division by √n
 * is what makes the final DC coefficient the channel mean (rather than mean·n), the scale the
 * DC weights were fitted for.
 */
function decomposeArray(a: Float64Array, off: number, stride: number, n: number, tmp: Float64Array): void {
  const s = 1 / Math.sqrt(n);
  for (let k = 0; k < n; k++) a[off + k * stride] *= s;
  for (let h = n; h > 1; h >>= 1) {
    const half = h >> 1;
    for (let k = 0; k < half; k++) {
      const x = a[off + 2 * k * stride];
      const y = a[off + (2 * k + 1) * stride];
      tmp[k] = (x + y) * Math.SQRT1_2;
      tmp[half + k] = (x - y) * Math.SQRT1_2;
    }
    for (let k = 0; k < h; k++) a[off + k * stride] = tmp[k];
  }
}

/** The standard decomposition (every row fully, then every column fully), in place, on SIZE × SIZE. */
export function haar2d(a: Float64Array): void {
  if (a.length !== SIZE * SIZE) throw new Error(`haar2d needs ${SIZE}×${SIZE} values, got ${a.length}`);
  const tmp = new Float64Array(SIZE);
  for (let r = 0; r < SIZE; r++) decomposeArray(a, r * SIZE, 1, SIZE, tmp);
  for (let c = 0; c < SIZE; c++) decomposeArray(a, c, SIZE, SIZE, tmp);
}

/**
 * The `m` largest-magnitude non-DC coefficients as signed positions, ascending. Ties go to the
 * lower position so signatures are reproducible. Exact zeros carry no sign and are never kept, so
 * a flat image has no coefficients at all (it still has its means).
 */
export function largestCoefficients(a: Float64Array, m = COEFFICIENTS_PER_CHANNEL): Int32Array {
  const order: number[] = [];
  for (let p = 1; p < a.length; p++) if (a[p] !== 0) order.push(p);
  order.sort((p, q) => Math.abs(a[q]) - Math.abs(a[p]) || p - q);
  return Int32Array.from(order.slice(0, m).map((p) => (a[p] > 0 ? p : -p))).sort();
}

/** Signature of an RGB raster (SIZE × SIZE × 3, values 0–255, row-major). */
export function signatureFromRgb(rgb: ArrayLike<number>): HaarSignature {
  const n = SIZE * SIZE;
  if (rgb.length !== n * 3) throw new Error(`Expected ${SIZE}×${SIZE}×3 RGB values, got ${rgb.length}`);
  const y = new Float64Array(n);
  const i = new Float64Array(n);
  const q = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    const r = rgb[3 * p] / 255;
    const g = rgb[3 * p + 1] / 255;
    const b = rgb[3 * p + 2] / 255;
    y[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    i[p] = 0.596 * r - 0.275 * g - 0.321 * b;
    q[p] = 0.212 * r - 0.523 * g + 0.311 * b;
  }
  const channels = [y, i, q];
  for (const ch of channels) haar2d(ch);
  return {
    avg: Float64Array.from(channels, (ch) => ch[0]),
    coefs: [largestCoefficients(y), largestCoefficients(i), largestCoefficients(q)],
  };
}

/** The image is squashed to 128×128 regardless of aspect ratio, as in the paper. */
export async function describe(file: string): Promise<HaarSignature> {
  const { data, info } = await sharp(file)
    .rotate()
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .resize(SIZE, SIZE, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== SIZE || info.height !== SIZE || info.channels !== 3) {
    throw new Error(`${file}: expected a ${SIZE}×${SIZE} RGB raster, got ${info.width}×${info.height}×${info.channels}`);
  }
  return signatureFromRgb(data);
}

/**
 * The paper's score, Σ_c w[0][c]·|avg_a − avg_b| − Σ_c Σ_{matched signed positions} w[bin][c]
 * (lower = more alike), negated so that higher is more similar like every other similarity in
 * the benchmark. A coefficient matches only with the same position and sign.
 */
export function similarity(a: HaarSignature, b: HaarSignature): number {
  let score = 0;
  for (let c = 0; c < 3; c++) {
    score += WEIGHTS[0][c] * Math.abs(a.avg[c] - b.avg[c]);
    const x = a.coefs[c];
    const y = b.coefs[c];
    for (let i = 0, j = 0; i < x.length && j < y.length; ) {
      if (x[i] < y[j]) i++;
      else if (x[i] > y[j]) j++;
      else {
        score -= WEIGHTS[bin(Math.abs(x[i]))][c];
        i++;
        j++;
      }
    }
  }
  return 0 - score;
}
