// Near-identical check on tiny grey signatures. A copy of a shot (re-encoded, resized, grey,
// mirrored, turned by any angle) still matches pixel for pixel at 32×32, while another shot of
// the same landmark does not. Each signature holds two 32×32 views of the photo:
//  - the whole photo squashed to a square: robust to resizing and aspect changes, compared under
//    the 8 quarter-turn/mirror symmetries;
//  - the centre square: compared over the inscribed disc at every 3° (and mirrored), which
//    catches copies turned by an arbitrary angle.

export const TINY_SIDE = 32;
const PLANE = TINY_SIDE * TINY_SIDE;
export const TINY_SIGNATURE_BYTES = 2 * PLANE;

/** Best normalised cross-correlation of two signatures over both views; 1 = identical. */
export function nearIdenticalScore(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== TINY_SIGNATURE_BYTES || b.length !== TINY_SIGNATURE_BYTES) {
    throw new RangeError(`tiny signatures must hold ${TINY_SIGNATURE_BYTES} bytes (got ${a.length} and ${b.length})`);
  }
  const squashed = bestDihedralCorrelation(a.subarray(0, PLANE), b.subarray(0, PLANE));
  if (squashed >= 0.98) return squashed;
  return Math.max(squashed, bestRotationCorrelation(a.subarray(PLANE), b.subarray(PLANE)));
}

/** Normalised cross-correlation at the best of the 8 rotations/mirrors of `b`. */
export function bestDihedralCorrelation(a: Uint8Array, b: Uint8Array, size = TINY_SIDE): number {
  const za = standardise(a);
  const zb = standardise(b);
  let best = -1;
  for (let t = 0; t < 8; t++) {
    let s = 0;
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) s += za[y * size + x] * zb[dihedralIndex(t, x, y, size)];
    if (s > best) best = s;
  }
  return best;
}

/** Correlation over the inscribed disc of `a` with `b` turned by every 3° step, plain and mirrored. */
export function bestRotationCorrelation(a: Uint8Array, b: Uint8Array, size = TINY_SIDE, stepDegrees = 3): number {
  const c = (size - 1) / 2;
  const r2 = (size * 0.45) ** 2;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if ((x - c) ** 2 + (y - c) ** 2 <= r2) { xs.push(x - c); ys.push(y - c); }
  const n = xs.length;
  const va = new Float64Array(n);
  for (let i = 0; i < n; i++) va[i] = a[(ys[i] + c) * size + (xs[i] + c)];
  const vb = new Float64Array(n);
  let best = -1;
  for (const mirror of [1, -1]) {
    for (let deg = 0; deg < 360; deg += stepDegrees) {
      const cos = Math.cos((deg * Math.PI) / 180);
      const sin = Math.sin((deg * Math.PI) / 180);
      for (let i = 0; i < n; i++) {
        const dx = mirror * xs[i];
        vb[i] = bilinear(b, size, c + cos * dx - sin * ys[i], c + sin * dx + cos * ys[i]);
      }
      const s = correlation(va, vb);
      if (s > best) best = s;
    }
  }
  return best;
}

function bilinear(img: Uint8Array, size: number, x: number, y: number): number {
  const x0 = Math.max(0, Math.min(size - 2, Math.floor(x)));
  const y0 = Math.max(0, Math.min(size - 2, Math.floor(y)));
  const fx = Math.max(0, Math.min(1, x - x0));
  const fy = Math.max(0, Math.min(1, y - y0));
  const i = y0 * size + x0;
  return img[i] * (1 - fx) * (1 - fy) + img[i + 1] * fx * (1 - fy) + img[i + size] * (1 - fx) * fy + img[i + size + 1] * fx * fy;
}

function correlation(p: Float64Array, q: Float64Array): number {
  const n = p.length;
  let mp = 0;
  let mq = 0;
  for (let i = 0; i < n; i++) {
    mp += p[i];
    mq += q[i];
  }
  mp /= n;
  mq /= n;
  let spq = 0;
  let spp = 0;
  let sqq = 0;
  for (let i = 0; i < n; i++) {
    const u = p[i] - mp;
    const v = q[i] - mq;
    spq += u * v;
    spp += u * u;
    sqq += v * v;
  }
  return spp > 0 && sqq > 0 ? spq / Math.sqrt(spp * sqq) : 0;
}

/** Zero mean, unit norm; a flat image stays all zeros (it correlates with nothing). */
function standardise(v: Uint8Array): Float64Array {
  const out = new Float64Array(v.length);
  let mean = 0;
  for (let i = 0; i < v.length; i++) mean += v[i];
  mean /= v.length;
  let norm = 0;
  for (let i = 0; i < v.length; i++) {
    out[i] = v[i] - mean;
    norm += out[i] * out[i];
  }
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < v.length; i++) out[i] *= inv;
  }
  return out;
}

/** Index in `b` of pixel (x, y) of `a` under symmetry t (0 identity, 1–3 quarter turns, 4–7 mirrors). */
function dihedralIndex(t: number, x: number, y: number, size: number): number {
  const m = size - 1;
  switch (t) {
    case 0: return y * size + x;
    case 1: return x * size + (m - y);
    case 2: return (m - y) * size + (m - x);
    case 3: return (m - x) * size + y;
    case 4: return y * size + (m - x);
    case 5: return (m - y) * size + x;
    case 6: return x * size + y;
    default: return (m - x) * size + (m - y);
  }
}
