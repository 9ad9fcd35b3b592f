// A query by region matches with the keypoints inside its box only: the rest of the photo is not
// what the user asked about, and would let a shared background verify a pair.
import type { PixelBox } from '../engine/imageInput.js';
import type { LocalFeatures } from './localFeatures.js';

export function featuresInBox(f: LocalFeatures, box: PixelBox): LocalFeatures {
  const keep: number[] = [];
  for (let i = 0; i < f.count; i++) {
    const x = f.points[2 * i];
    const y = f.points[2 * i + 1];
    if (x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height) keep.push(i);
  }
  const n = keep.length;
  const b = f.descriptorBytes;
  const out: LocalFeatures = {
    ...f,
    count: n,
    points: new Float32Array(2 * n),
    sizes: new Float32Array(n),
    angles: new Float32Array(n),
    responses: new Float32Array(n),
    descriptors: new Uint8Array(n * b),
  };
  keep.forEach((src, dst) => {
    out.points[2 * dst] = f.points[2 * src];
    out.points[2 * dst + 1] = f.points[2 * src + 1];
    out.sizes[dst] = f.sizes[src];
    out.angles[dst] = f.angles[src];
    out.responses[dst] = f.responses[src];
    out.descriptors.set(f.descriptors.subarray(src * b, (src + 1) * b), dst * b);
  });
  return out;
}
