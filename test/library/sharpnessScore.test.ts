// sharpnessOf: decodePhoto's sharpness recipe (libvips greyscale in linear light, Lanczos 3 to
// 384 px, variance of the Laplacian) in plain JS. Scores are stored for a library's lifetime and
// compared across photos, so it must agree with the libvips pipeline, which each test here runs
// itself through sharp. Real photos are read in place.
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodePhoto } from '../../app/library/photoDecoder.js';
import { laplacianVarianceOf, sharpnessGrey, sharpnessOf } from '../../app/library/sharpnessScore.js';
import { PARIS } from '../support/sightlineCli.js';

// On Linux x64 the grey bytes and scores are libvips' exactly (272 photos). The margins are for
// libvips builds elsewhere, whose float roundings (FMA, libm) may put rare pixels on the other
// side of a .5 grey level: even rounding every such tie differently moves grey pixels by up to 2
// levels after the resize, but scores by only 0.002 %, while getting any step of the resize wrong
// (kernel phases, weight rounding, operation order) moves scores by 0.03 % to several %.
const SCORE_TOLERANCE = 1e-4;
const GREY_LEVELS_OFF = 2;
const GREY_PIXELS_OFF = 1e-3;

/** decodePhoto's libvips recipe for the sharpness copy. */
async function libvipsGrey(rgb: Uint8Array, width: number, height: number, longSide = 384): Promise<{ data: Uint8Array; width: number; height: number }> {
  const greyLong = Math.min(longSide, Math.max(width, height));
  const greyScale = Math.max(width, height) / greyLong;
  const { data, info } = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
    .resize(Math.max(1, Math.round(width / greyScale)), Math.max(1, Math.round(height / greyScale)), { fit: 'fill' })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(1);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

async function expectLikeLibvips(rgb: Uint8Array, width: number, height: number, longSide = 384): Promise<void> {
  const theirs = await libvipsGrey(rgb, width, height, longSide);
  const ours = sharpnessGrey(rgb, width, height, longSide);
  expect({ width: ours.width, height: ours.height }).toEqual({ width: theirs.width, height: theirs.height });
  let off = 0;
  let worst = 0;
  for (let i = 0; i < ours.data.length; i++) {
    const d = Math.abs(ours.data[i] - theirs.data[i]);
    if (d > 0) off++;
    worst = Math.max(worst, d);
  }
  expect(worst, `${width}×${height}`).toBeLessThanOrEqual(GREY_LEVELS_OFF);
  expect(off / ours.data.length, `${width}×${height}`).toBeLessThanOrEqual(GREY_PIXELS_OFF);
  const expected = storedScoreFormula(theirs.data, theirs.width, theirs.height);
  const score = sharpnessOf(rgb, width, height, longSide);
  expect(Math.abs(score - expected), `${width}×${height}: ${score} vs ${expected}`).toBeLessThanOrEqual(SCORE_TOLERANCE * expected);
}

/**
 * The formula every stored score was computed with before sharpnessScore.ts (photoDecoder's own,
 * one pass of sums and sums of squares): new scores must equal it to the last bit.
 */
function storedScoreFormula(pixels: Uint8Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const v = pixels[i - 1] + pixels[i + 1] + pixels[i - width] + pixels[i + width] - 4 * pixels[i];
      sum += v;
      sumSq += v * v;
      n++;
    }
  }
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

/** The variance straight from its definition: the mean first, then the mean squared deviation. */
function referenceVariance(grey: Uint8Array, width: number, height: number): number {
  const values: number[] = [];
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const at = (dx: number, dy: number) => grey[(y + dy) * width + x + dx];
      values.push(at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1) - 4 * at(0, 0));
    }
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
}

function toRgb(grey: Uint8Array): Uint8Array {
  const rgb = new Uint8Array(grey.length * 3);
  for (let i = 0; i < grey.length; i++) rgb.fill(grey[i], 3 * i, 3 * i + 3);
  return rgb;
}

/** A smooth colour gradient with a fixed pseudo-random texture: every grey level and many ties. */
function testPattern(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const base = 128 + 100 * Math.sin(x / 9) * Math.cos(y / 13);
      for (let c = 0; c < 3; c++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        rgb[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(base + ((seed >>> 24) - 128) * (c + 1) / 4)));
      }
    }
  }
  return rgb;
}

describe('laplacianVarianceOf', () => {
  it('is the variance of the 4-neighbour Laplacian over interior pixels', () => {
    // Checkerboard: every interior Laplacian is ±4·255, half of each.
    const checker = new Uint8Array(6 * 5).map((_, i) => ((i % 6) + Math.floor(i / 6)) % 2 * 255);
    expect(laplacianVarianceOf(checker, 6, 5)).toBe(1020 ** 2);
    expect(referenceVariance(checker, 6, 5)).toBe(1020 ** 2);
    // Step edge 0 | 100: interior rows read 0, 100, -100, 0, so the variance is 100² / 2.
    const step = new Uint8Array(6 * 4).map((_, i) => (i % 6 < 3 ? 0 : 100));
    expect(laplacianVarianceOf(step, 6, 4)).toBe(5000);
    expect(referenceVariance(step, 6, 4)).toBe(5000);
    expect(laplacianVarianceOf(new Uint8Array(16).fill(7), 4, 4)).toBe(0);
    expect(laplacianVarianceOf(new Uint8Array(2 * 9), 2, 9)).toBe(0);
  });

  it('equals the formula stored scores were computed with to the last bit, also on the transposed image', () => {
    const [w, h] = [37, 23];
    const grey = sharpnessGrey(testPattern(w, h), w, h).data;
    const transposed = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) transposed[x * h + y] = grey[y * w + x];
    const expected = storedScoreFormula(grey, w, h);
    expect(laplacianVarianceOf(grey, w, h)).toBe(expected);
    expect(laplacianVarianceOf(transposed, h, w)).toBe(expected);
    expect(laplacianVarianceOf(grey, w, h)).toBeCloseTo(referenceVariance(grey, w, h), 6);
  });
});

describe('sharpnessOf', () => {
  it('measures a photo no longer than longSide as it is, grey levels unchanged', async () => {
    const checker = new Uint8Array(6 * 5).map((_, i) => ((i % 6) + Math.floor(i / 6)) % 2 * 255);
    expect(sharpnessOf(toRgb(checker), 6, 5)).toBe(1020 ** 2);
    const step = new Uint8Array(6 * 4).map((_, i) => (i % 6 < 3 ? 0 : 100));
    expect(sharpnessOf(toRgb(step), 6, 4)).toBe(5000);
    // Grey pixels keep their level through linear light and back.
    const ramp = new Uint8Array(256).map((_, i) => i);
    expect([...sharpnessGrey(toRgb(ramp), 256, 1).data]).toEqual([...ramp]);
    for (const [w, h, longSide] of [[100, 80, 384], [384, 200, 384], [2, 2, 384], [512, 384, 512]]) {
      const grey = sharpnessGrey(testPattern(w, h), w, h, longSide);
      expect({ width: grey.width, height: grey.height }).toEqual({ width: w, height: h });
      await expectLikeLibvips(testPattern(w, h), w, h, longSide);
    }
  });

  it('reduces every shape as libvips does', async () => {
    // Landscape and portrait network inputs, odd sizes, a shrink whose kernel phases fall on exact
    // ties (1150 → 384), box pre-shrinks by 2 and by 3 (≥ 4× reductions), slivers.
    const shapes: [number, number, number?][] = [
      [512, 384], [384, 512], [512, 341], [511, 383], [1150, 700], [1600, 900], [1200, 800, 200], [600, 5], [4, 1150], [512, 1],
    ];
    for (const [w, h, longSide] of shapes) await expectLikeLibvips(testPattern(w, h), w, h, longSide);
  });

  it('gives the scores of the libvips pipeline on real photos', async () => {
    const files: string[] = [];
    for (const landmark of ['defense', 'eiffel_tower', 'invalides', 'louvre', 'moulinrouge']) {
      const dir = path.join(PARIS, landmark);
      files.push(...(await fs.readdir(dir)).filter((f) => f.endsWith('.jpg')).sort().slice(0, 4).map((f) => path.join(dir, f)));
    }
    expect(files.length).toBe(20);
    for (const f of files) {
      const { network } = await decodePhoto(await fs.readFile(f), { networkLongSide: 512 });
      await expectLikeLibvips(network.data, network.width, network.height);
    }
  });

  it('rejects a size that does not match the pixels with a RangeError', () => {
    const rgb = new Uint8Array(4 * 3 * 3);
    expect(() => sharpnessOf(rgb, 0, 3)).toThrow(RangeError);
    expect(() => sharpnessOf(rgb, 4, 0)).toThrow(RangeError);
    expect(() => sharpnessOf(rgb, -4, -3)).toThrow(RangeError);
    expect(() => sharpnessOf(rgb, 4.5, 3)).toThrow(RangeError);
    expect(() => sharpnessOf(rgb, 4, 4)).toThrow(RangeError);
    expect(() => sharpnessOf(rgb, 3, 3)).toThrow(RangeError);
    expect(() => sharpnessOf(rgb.subarray(1), 4, 3)).toThrow(RangeError);
    expect(() => sharpnessOf(new Uint8Array(0), 0, 0)).toThrow(RangeError);
    expect(() => sharpnessOf(rgb, 4, 3, 0)).toThrow(RangeError);
    expect(sharpnessOf(rgb, 4, 3)).toBe(0);
  });
});
