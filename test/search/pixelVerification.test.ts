import { describe, expect, it } from 'vitest';
import { bestDihedralCorrelation, bestRotationCorrelation, nearIdenticalScore, TINY_SIDE, TINY_SIGNATURE_BYTES } from '../../app/search/pixelVerification.js';

const N = TINY_SIDE;
function pattern(seed: number): Uint8Array {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  // Smooth blobs, like a downscaled photo, rather than white noise.
  const blobs = Array.from({ length: 6 }, () => [rnd() * N, rnd() * N, 3 + rnd() * 6, rnd() * 200]);
  return Uint8Array.from({ length: N * N }, (_, i) => {
    const x = i % N;
    const y = Math.floor(i / N);
    return Math.min(255, 20 + blobs.reduce((v, [bx, by, r, a]) => v + a * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * r * r)), 0));
  });
}
const turn = (a: Uint8Array) => Uint8Array.from({ length: N * N }, (_, i) => a[(N - 1 - (i % N)) * N + Math.floor(i / N)]);
const mirror = (a: Uint8Array) => Uint8Array.from({ length: N * N }, (_, i) => a[Math.floor(i / N) * N + (N - 1 - (i % N))]);
const both = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(TINY_SIGNATURE_BYTES);
  out.set(a, 0);
  out.set(b, N * N);
  return out;
};

describe('pixel verification of near-identical photos', () => {
  const a = pattern(1);
  const b = pattern(2);

  it('scores a copy 1 under every quarter turn and mirror', () => {
    expect(bestDihedralCorrelation(a, a)).toBeCloseTo(1, 10);
    expect(bestDihedralCorrelation(a, turn(a))).toBeCloseTo(1, 10);
    expect(bestDihedralCorrelation(a, turn(turn(mirror(a))))).toBeCloseTo(1, 10);
    expect(bestRotationCorrelation(a, turn(a))).toBeGreaterThan(0.999);
    expect(bestRotationCorrelation(a, mirror(a))).toBeGreaterThan(0.999);
  });

  it('scores a different picture clearly lower', () => {
    expect(bestDihedralCorrelation(a, b)).toBeLessThan(0.9);
    expect(nearIdenticalScore(both(a, a), both(b, b))).toBeLessThan(0.94);
    expect(nearIdenticalScore(both(a, a), both(turn(a), turn(a)))).toBeGreaterThan(0.999);
  });

  it('treats a flat image as matching nothing, and refuses wrong sizes', () => {
    expect(bestDihedralCorrelation(new Uint8Array(N * N).fill(7), a)).toBe(0);
    expect(() => nearIdenticalScore(new Uint8Array(10), both(a, a))).toThrow(/2048 bytes/);
  });
});
