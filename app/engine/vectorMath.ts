// Small dense-vector kernels shared by pooling, whitening and search.

/** L2-normalises in place; a zero vector stays zero (it then contributes nothing to a sum). */
export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  }
  return v;
}

export function dot(a: Float32Array, b: Float32Array, aOffset = 0, bOffset = 0, length = a.length - aOffset): number {
  let s = 0;
  for (let i = 0; i < length; i++) s += a[aOffset + i] * b[bOffset + i];
  return s;
}

export function addInto(target: Float32Array, v: Float32Array, weight = 1): void {
  for (let i = 0; i < target.length; i++) target[i] += weight * v[i];
}
