// The worker pool: features computed once per photo (memory, then disk), and bad photos turned
// into "not verified" verdicts with a reason, never into a failed call.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageInputError } from '../../app/engine/imageErrors.js';
import { extractFeatures } from '../../app/match/localFeatures.js';
import { MatchPool } from '../../app/match/matchPool.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const BOX = path.join(DATA, 'scenes/opencv/box.png');
const SCENE = path.join(DATA, 'scenes/opencv/box_in_scene.png');
// Random bytes under a .jpg name (the near-dup set's deliberately broken file).
const GARBAGE = path.join(DATA, 'near-dup/mixed_images/ukbench09268_corrupt.jpg');
const PARIS_JPEG = path.join(DATA, 'paris6k-mini/images/louvre/paris_louvre_000004.jpg');

let tmp: string;
let pool: MatchPool;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-matchpool-'));
  pool = await MatchPool.open({ workers: 2, cacheDir: path.join(tmp, 'features') });
});

afterAll(async () => {
  await pool?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('MatchPool', () => {
  it('computes a photo\'s features once, in a worker, exactly as this thread would', async () => {
    const [first, again] = await Promise.all([pool.features(BOX), pool.features(BOX)]);
    expect(again).toBe(first);
    expect(await pool.features(BOX)).toBe(first);
    expect(pool.extracted).toBe(1);
    expect(first).toEqual(await extractFeatures(BOX));
  });

  it('reads features back from its disk cache in a new pool', async () => {
    const before = await pool.features(SCENE);
    const second = await MatchPool.open({ workers: 1, cacheDir: path.join(tmp, 'features') });
    try {
      expect(await second.features(SCENE)).toEqual(before);
      expect(second.extracted).toBe(0);
      // A changed file is a different entry.
      const copy = path.join(tmp, 'scene.png');
      await fs.copyFile(SCENE, copy);
      await second.features(copy);
      await fs.writeFile(copy, await sharp(SCENE).flop().png().toBuffer());
      const flipped = await MatchPool.open({ workers: 1, cacheDir: path.join(tmp, 'features') });
      try {
        const f = await flipped.features(copy);
        expect(flipped.extracted).toBe(1);
        expect(f.points[0]).not.toBe(before.points[0]);
      } finally {
        await flipped.close();
      }
    } finally {
      await second.close();
    }
  });

  it('verifies a pair by path', async () => {
    const v = await pool.verify(BOX, SCENE);
    expect(v.verified, v.reason).toBe(true);
    expect(v.inlierPairs).toHaveLength(v.inliers);
  });

  it('answers "not verified" with the reason for a truncated, garbage, tiny, textureless or missing photo', async () => {
    const tiny = path.join(tmp, 'tiny.png');
    await sharp(BOX).resize(24, 16).png().toFile(tiny);
    const flat = path.join(tmp, 'flat.png');
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#204060' } }).png().toFile(flat);
    const truncated = path.join(tmp, 'truncated.jpg');
    const jpeg = await fs.readFile(PARIS_JPEG);
    await fs.writeFile(truncated, jpeg.subarray(0, Math.floor(jpeg.length * 0.4)));
    const cases: Array<[string, RegExp]> = [
      [truncated, /^photo B cannot be used: .*damaged or truncated/],
      [GARBAGE, /^photo B cannot be used: .*not an image/],
      [tiny, /^photo B cannot be used: .*too small/],
      [flat, /^photo B has no keypoints/],
      [path.join(tmp, 'missing.png'), /^photo B cannot be used: .*cannot read file \(ENOENT\)/],
    ];
    for (const [file, reason] of cases) {
      const v = await pool.verify(BOX, file);
      expect(v.verified).toBe(false);
      expect(v.reason).toMatch(reason);
      expect(v.inlierPairs).toEqual([]);
    }
    // Asked directly, the photo's problem is the engine's typed error.
    await expect(pool.features(truncated)).rejects.toBeInstanceOf(ImageInputError);
    // The pool is still healthy.
    expect((await pool.verify(BOX, SCENE)).verified).toBe(true);
  });

  it('rejects work once closed', async () => {
    const closing = await MatchPool.open({ workers: 1 });
    await closing.close();
    await expect(closing.features(BOX)).rejects.toThrow(/closed/);
  });
});
