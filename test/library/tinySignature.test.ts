// The stored near-duplicate signature: layout, values against a hand-made image, and agreement
// with the libvips-made signatures that libraries indexed before it hold (pixel correlation of
// the same photo must stay far above the near-identical threshold, so old and new rows mix).
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { halvePacked } from '../../app/library/areaResample.js';
import { tinySignature } from '../../app/library/tinySignature.js';
import { bestDihedralCorrelation, nearIdenticalScore, TINY_SIDE, TINY_SIGNATURE_BYTES } from '../../app/search/pixelVerification.js';

const PARIS = path.resolve(__dirname, '../../../shared/data/paris6k-mini/images');

describe('tinySignature', () => {
  it('holds the squashed photo, then its centre square', () => {
    // 128×64 grey: left half 0, right half 200. Squashed: left 16 columns 0, right 16 columns 200.
    // Centre square [32, 96): columns 0–15 are 0, 16–31 are 200.
    const w = 128;
    const h = 64;
    const raw = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = w / 2; x < w; x++) raw.fill(200, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const sig = tinySignature(raw, w, h, 3);
    expect(sig.length).toBe(TINY_SIGNATURE_BYTES);
    const plane = TINY_SIDE * TINY_SIDE;
    for (let y = 0; y < TINY_SIDE; y++) {
      for (let x = 0; x < TINY_SIDE; x++) {
        expect(sig[y * TINY_SIDE + x]).toBe(x < 16 ? 0 : 200);
        expect(sig[plane + y * TINY_SIDE + x]).toBe(x < 16 ? 0 : 200);
      }
    }
  });

  it('agrees with the libvips signature earlier versions stored, on real photos', async () => {
    // Portrait (eiffel_tower) and landscape (defense) photos: the centre square is cut along either axis.
    const files: string[] = [];
    for (const landmark of ['eiffel_tower', 'defense']) {
      const dir = path.join(PARIS, landmark);
      files.push(...(await fs.readdir(dir)).filter((f) => f.endsWith('.jpg')).slice(0, 5).map((f) => path.join(dir, f)));
    }
    expect(files.length).toBe(10);
    for (const f of files) {
      const { data, info } = await sharp(f).resize(512, 512, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const grey = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).greyscale();
      const [squashed, centre] = await Promise.all([
        grey.clone().resize(TINY_SIDE, TINY_SIDE, { fit: 'fill' }).raw().toBuffer(),
        grey.clone().resize(TINY_SIDE, TINY_SIDE, { fit: 'cover' }).raw().toBuffer(),
      ]);
      const old = new Uint8Array(TINY_SIGNATURE_BYTES);
      old.set(squashed.subarray(0, TINY_SIDE * TINY_SIDE), 0);
      old.set(centre.subarray(0, TINY_SIDE * TINY_SIDE), TINY_SIDE * TINY_SIDE);
      const now = tinySignature(data, info.width, info.height, 3);
      // Lanczos vs area averaging and sharp's whole-pixel cover crop: close, not equal; the
      // near-identical threshold is 0.94.
      expect(nearIdenticalScore(now, old)).toBeGreaterThan(0.98);
      expect(bestDihedralCorrelation(now.subarray(TINY_SIDE * TINY_SIDE), old.subarray(TINY_SIDE * TINY_SIDE))).toBeGreaterThan(0.98);
    }
  });

  it('gives the same signature from a half-size copy when told the frame it describes', async () => {
    for (const landmark of ['eiffel_tower', 'defense']) {
      const dir = path.join(PARIS, landmark);
      for (const f of (await fs.readdir(dir)).filter((x) => x.endsWith('.jpg')).slice(0, 4)) {
        // Odd heights too (683 → 342 → 171): the half rounds either way.
        const { data, info } = await sharp(path.join(dir, f)).resize(512, 512, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const hw = Math.round(info.width / 2);
        const hh = Math.round(info.height / 2);
        const full = tinySignature(data, info.width, info.height, 3);
        const fromHalf = tinySignature(halvePacked(data, info.width, info.height, 3, hw, hh), hw, hh, 3, info);
        let diff = 0;
        for (let i = 0; i < full.length; i++) diff += Math.abs(full[i] - fromHalf[i]);
        expect(nearIdenticalScore(fromHalf, full)).toBeGreaterThan(0.999);
        expect(diff / full.length).toBeLessThan(1.5);
      }
    }
  });

  it('is defined for a panorama whose short side is below 32 pixels', () => {
    const sig = tinySignature(new Uint8Array(512 * 12 * 3).fill(90), 512, 12, 3);
    expect([...new Set(sig)]).toEqual([90]);
  });
});
