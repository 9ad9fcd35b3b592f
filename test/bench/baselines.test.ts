import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as haar from '../../bench/baselines/haarWavelet.js';
import * as phash from '../../bench/baselines/perceptualHash.js';

const nearDup = (rel: string) => fileURLToPath(new URL(`../../../shared/data/near-dup/${rel}`, import.meta.url));
const original = nearDup('mixed_images/ukbench00120.jpg');
const resized = nearDup('mixed_images/ukbench00120_resize.jpg');
const flipped = nearDup('mixed_images/ukbench00120_hflip.jpg');
const other = nearDup('base_images/ukbench09380.jpg');

const hash = (lo: number, hi: number): phash.ImageHash => ({ kind: 'phash', bits: Uint32Array.from([lo, hi]) });

describe('perceptual hashes', () => {
  it('counts differing bits across both words, sign bit included', () => {
    expect(phash.hammingDistance(hash(0, 0), hash(0, 0))).toBe(0);
    expect(phash.hammingDistance(hash(0xffffffff, 0), hash(0, 0))).toBe(32);
    expect(phash.hammingDistance(hash(0xffffffff, 0xffffffff), hash(0, 0))).toBe(64);
    expect(phash.hammingDistance(hash(0b1011, 0x80000000), hash(0b0001, 0))).toBe(3);
    expect(phash.similarity(hash(0b1011, 0x80000000), hash(0b0001, 0))).toBe(-3);
    expect(phash.hashToHex(hash(0x1, 0x80000000))).toBe('8000000000000001');
    expect(() => phash.hammingDistance(hash(0, 0), { kind: 'dhash', bits: new Uint32Array(2) })).toThrow(/phash with a dhash/);
  });

  it('builds aHash and dHash bits from known rasters', () => {
    // Left half dark, right half bright: aHash sets columns 4–7 of every row.
    const halves = Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 10 : 200));
    expect(phash.hashToHex(phash.ahashFromGrey(halves))).toBe('f0f0f0f0f0f0f0f0');
    // Brightness rising left to right on every row: every dHash bit is set.
    const ramp = Array.from({ length: 72 }, (_, i) => i % 9);
    expect(phash.hashToHex(phash.dhashFromGrey(ramp))).toBe('ffffffffffffffff');
  });

  it('pHash of a raster ignores brightness and contrast changes', () => {
    const img = Array.from({ length: 1024 }, (_, i) => 128 + 60 * Math.sin(i / 7) * Math.cos(i / 90));
    const brighter = img.map((v) => 0.8 * v + 40);
    expect(phash.hammingDistance(phash.phashFromGrey(img), phash.phashFromGrey(brighter))).toBe(0);
  });

  for (const kind of ['phash', 'dhash', 'ahash'] as const) {
    it(`${kind}: the same photo matches exactly, a resized copy nearly, a mirrored one and another photo much less`, async () => {
      const [a, a2, r, f, o] = await Promise.all([original, original, resized, flipped, other].map((p) => phash.describe(p, kind)));
      expect(phash.similarity(a, a2)).toBe(0);
      expect(phash.hammingDistance(a, r)).toBeLessThanOrEqual(8);
      expect(phash.hammingDistance(a, f)).toBeGreaterThan(phash.hammingDistance(a, r) + 5);
      expect(phash.hammingDistance(a, o)).toBeGreaterThan(phash.hammingDistance(a, r) + 5);
    });
  }
});

describe('Haar wavelet signature (Jacobs et al. 1995)', () => {
  it('decomposes so that the DC term is the mean and energy scales by 1/128²', () => {
    let seed = 3;
    const a = Float64Array.from({ length: 128 * 128 }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const energy = a.reduce((s, v) => s + v * v, 0);
    haar.haar2d(a);
    expect(a[0]).toBeCloseTo(mean, 10);
    expect(a.reduce((s, v) => s + v * v, 0)).toBeCloseTo(energy / 128 ** 2, 8);
  });

  it('puts a left/right step into the single coefficient at row 0, column 1', () => {
    const a = Float64Array.from({ length: 128 * 128 }, (_, p) => (p % 128 < 64 ? 1 : 0));
    haar.haar2d(a);
    expect(a[0]).toBeCloseTo(0.5, 12);
    expect(a[1]).toBeCloseTo(0.5, 12);
    expect(Array.from(haar.largestCoefficients(a.map((v) => (Math.abs(v) < 1e-12 ? 0 : v))))).toEqual([1]);
    expect(haar.bin(1)).toBe(1);
    expect(haar.bin(3 * 128 + 2)).toBe(3);
    expect(haar.bin(127 * 128 + 127)).toBe(5);
  });

  it('scores the same photo highest, with every coefficient matched, and a mirrored one clearly lower', async () => {
    const [a, a2, r, f, o] = await Promise.all([original, original, resized, flipped, other].map((p) => haar.describe(p)));
    expect(a2).toEqual(a);
    expect(a.coefs.map((c) => c.length)).toEqual([40, 40, 40]);
    const allMatched = a.coefs.reduce((s, cs, c) => s + cs.reduce((t, pos) => t + haar.WEIGHTS[haar.bin(Math.abs(pos))][c], 0), 0);
    expect(haar.similarity(a, a)).toBeCloseTo(allMatched, 10);
    for (const x of [r, f, o]) expect(haar.similarity(a, x)).toBeLessThan(haar.similarity(a, a));
    expect(haar.similarity(a, r)).toBeGreaterThan(haar.similarity(a, f) + 5);
    expect(haar.similarity(a, f)).toBeGreaterThan(haar.similarity(a, o));
    expect(haar.similarity(f, r)).toBeCloseTo(haar.similarity(r, f), 12);
  });
});
