// Local features: keypoints come back in the oriented original's pixels whatever size they were
// computed at, and unusable photos fail with the engine's error codes (or yield no keypoints).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageInputError } from '../../app/engine/imageErrors.js';
import { decodeLocalFeatures, encodeLocalFeatures, extractFeatures, type LocalFeatures } from '../../app/match/localFeatures.js';
import { verifyPair } from '../../app/match/geometricVerification.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const GRAF1 = path.join(DATA, 'scenes/opencv/graf1.png');
// Random bytes under a .jpg name (the near-dup set's deliberately broken file).
const GARBAGE = path.join(DATA, 'near-dup/mixed_images/ukbench09268_corrupt.jpg');
const PARIS_JPEG = path.join(DATA, 'paris6k-mini/images/louvre/paris_louvre_000004.jpg');

let tmp: string;
let graf: LocalFeatures;

function project(h: number[], x: number, y: number): [number, number] {
  const w = h[6] * x + h[7] * y + h[8];
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-features-'));
  graf = await extractFeatures(GRAF1);
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('extractFeatures', () => {
  it('finds up to 2000 AKAZE keypoints, strongest first, inside the image, with a 61-byte descriptor each', () => {
    expect(graf).toMatchObject({ width: 800, height: 640, scale: 1, analysedLongSide: 800, descriptorBytes: 61, count: 2000 });
    expect(graf.descriptors).toHaveLength(2000 * 61);
    for (let i = 0; i < graf.count; i++) {
      expect(graf.points[2 * i]).toBeGreaterThanOrEqual(0);
      expect(graf.points[2 * i]).toBeLessThanOrEqual(799);
      expect(graf.points[2 * i + 1]).toBeGreaterThanOrEqual(0);
      expect(graf.points[2 * i + 1]).toBeLessThanOrEqual(639);
      if (i > 0) expect(graf.responses[i]).toBeLessThanOrEqual(graf.responses[i - 1]);
    }
  });

  it('reports keypoints in original pixels when the photo is analysed smaller (2× copy at long side 1024)', async () => {
    const big = path.join(tmp, 'graf1_2x.png');
    await sharp(GRAF1).resize(1600, 1280, { kernel: 'lanczos3' }).png().toFile(big);
    const features = await extractFeatures(big);
    expect(features).toMatchObject({ width: 1600, height: 1280, analysedLongSide: 1024 });
    // 1280 px shrink to 819 rows, so the vertical ratio is a shade above 1.5625.
    expect(features.scale).toBeCloseTo(1600 / 1024, 3);
    const v = verifyPair(graf, features);
    expect(v.verified, v.reason).toBe(true);
    // Doubling maps pixel centre x to 2x + 0.5. Checked at the image corners, the farthest points.
    for (const [x, y] of [[0, 0], [799, 0], [799, 639], [0, 639]]) {
      const [u, w] = project(v.transform!, x, y);
      expect(Math.hypot(u - (2 * x + 0.5), w - (2 * y + 0.5)), `corner ${x},${y} → ${u.toFixed(1)},${w.toFixed(1)}`).toBeLessThan(3);
    }
  });

  it('follows EXIF orientation: a JPEG stored sideways with orientation 6 is matched as the upright photo, turned', async () => {
    const sideways = path.join(tmp, 'graf1_orientation6.jpg');
    // Orientation 6 tells viewers to turn the stored pixels 90° clockwise.
    await sharp(GRAF1).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(sideways);
    const features = await extractFeatures(sideways);
    expect(features).toMatchObject({ width: 640, height: 800 });
    const v = verifyPair(graf, features);
    expect(v.verified, v.reason).toBe(true);
    // Turning an 800 × 640 image 90° clockwise sends (x, y) to (639 − y, x).
    for (const [x, y] of [[100, 100], [700, 100], [700, 540], [100, 540]]) {
      const [u, w] = project(v.transform!, x, y);
      expect(Math.hypot(u - (639 - y), w - x)).toBeLessThan(3);
    }
  });

  it('round-trips through the on-disk encoding', () => {
    const back = decodeLocalFeatures(encodeLocalFeatures(graf));
    expect(back).toEqual(graf);
    expect(() => decodeLocalFeatures(encodeLocalFeatures(graf).subarray(0, 1000))).toThrow(/expected/);
  });

  it('takes image bytes as well as paths', async () => {
    const fromBytes = await extractFeatures(new Uint8Array(await fs.readFile(GRAF1)));
    expect(fromBytes).toEqual(graf);
  });
});

describe('unusable input', () => {
  it('an image without texture has no keypoints, and verifying it says so instead of failing', async () => {
    const flat = path.join(tmp, 'flat.png');
    await sharp({ create: { width: 640, height: 480, channels: 3, background: '#7f7f7f' } }).png().toFile(flat);
    const features = await extractFeatures(flat);
    expect(features.count).toBe(0);
    const v = verifyPair(graf, features);
    expect(v).toMatchObject({ verified: false, matches: 0, inliers: 0, model: null, transform: null, boxA: null, boxB: null, inlierPairs: [] });
    expect(v.reason).toBe('photo B has no keypoints (no texture to match)');
  });

  it('a tiny image, a truncated JPEG, random bytes, an empty file and a text file fail with the engine\'s error codes', async () => {
    const tiny = path.join(tmp, 'tiny.png');
    await sharp(GRAF1).resize(20, 16).png().toFile(tiny);
    const empty = path.join(tmp, 'empty.jpg');
    await fs.writeFile(empty, '');
    const text = path.join(tmp, 'notes.jpg');
    await fs.writeFile(text, 'not a photo at all\n');
    const truncated = path.join(tmp, 'truncated.jpg');
    const jpeg = await fs.readFile(PARIS_JPEG);
    await fs.writeFile(truncated, jpeg.subarray(0, Math.floor(jpeg.length * 0.4)));
    const cases: Array<[string, string]> = [[tiny, 'too-small'], [truncated, 'corrupt'], [GARBAGE, 'not-an-image'], [empty, 'empty'], [text, 'not-an-image'], [path.join(tmp, 'missing.jpg'), 'unreadable']];
    for (const [file, code] of cases) {
      const err = await extractFeatures(file).then(() => undefined, (e: unknown) => e);
      expect(err, file).toBeInstanceOf(ImageInputError);
      expect((err as ImageInputError).code, file).toBe(code);
    }
  });
});
