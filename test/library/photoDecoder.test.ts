// decodePhoto: one decode gives the network input (identical to what the engine's own file path
// produces), an oriented thumbnail and a sharpness score; bad input gets the engine's typed errors
// before any large decode. Real photos are read in place; generated files live in a temp dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NORMALISATIONS } from '../../app/convert/convertedModel.js';
import { ImageInputError, type ImageErrorCode } from '../../app/engine/imageErrors.js';
import { loadNetworkInput, toNormalisedNCHW } from '../../app/engine/imageInput.js';
import { sniffImageType } from '../../app/library/imageSniffer.js';
import { halvePacked } from '../../app/library/areaResample.js';
import { decodePhoto } from '../../app/library/photoDecoder.js';
import { tinySignature } from '../../app/library/tinySignature.js';
import { nearIdenticalScore } from '../../app/search/pixelVerification.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const PHOTO = path.join(DATA, 'paris6k-mini/images/eiffel_tower/paris_eiffel_000000.jpg');
const NEAR_DUP = path.join(DATA, 'near-dup');

let tmp: string;
let photo: Buffer;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-decode-'));
  photo = fs.readFileSync(PHOTO);
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function expectImageError(promise: Promise<unknown>, code: ImageErrorCode, message: RegExp = /./): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, `expected ImageInputError(${code})`).toBeInstanceOf(ImageInputError);
  expect({ code: (err as ImageInputError).code, message: (err as ImageInputError).message }).toEqual({ code, message: expect.stringMatching(message) });
}

/** A PNG whose header claims the given size; the pixel data is a token few bytes. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    data.copy(out, 8);
    // CRCs are not checked before the size limit applies; zero is fine for this purpose.
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]);
}

/** Exact equality without vitest's element-by-element diffing, which takes seconds on 600k floats. */
function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Left half red, right half blue: enough to see which way a photo was turned. */
function halves(width: number, height: number) {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(x < width / 2 ? [255, 0, 0] : [0, 0, 255], (y * width + x) * 3);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

describe('decodePhoto on a real photo', () => {
  it('returns the oriented size, network pixels, a JPEG thumbnail and a sharpness score', async () => {
    const d = await decodePhoto(photo, { networkLongSide: 512 });
    expect({ width: d.width, height: d.height, format: d.format }).toEqual({ width: 768, height: 1024, format: 'jpeg' });
    expect({ w: d.network.width, h: d.network.height, bytes: d.network.data.length }).toEqual({ w: 384, h: 512, bytes: 384 * 512 * 3 });
    expect(sniffImageType(d.thumbnail)).toBe('jpeg');
    const thumb = await sharp(d.thumbnail).metadata();
    expect({ w: thumb.width, h: thumb.height }).toEqual({ w: 192, h: 256 });
    expect(d.sharpness).toBeGreaterThan(10);
  });

  it('gives the engine byte-identical input to decoding the file itself', async () => {
    const S = 512;
    const n = NORMALISATIONS.imagenet;
    const d = await decodePhoto(photo, { networkLongSide: S });
    const fromFile = await loadNetworkInput(PHOTO, { longSide: S, normalisation: n });
    expect([fromFile.width, fromFile.height]).toEqual([d.network.width, d.network.height]);
    expect(sameBytes(toNormalisedNCHW(d.network.data, d.network.width, d.network.height, 3, n), fromFile.data)).toBe(true);
    // …and so does handing the engine these pixels, which is what the indexer does.
    const fromRaw = await loadNetworkInput({ raw: d.network.data, width: d.network.width, height: d.network.height, channels: 3 }, { longSide: S, normalisation: n });
    expect(sameBytes(fromRaw.data, fromFile.data)).toBe(true);
  });

  it('upscales the network input but never the thumbnail', async () => {
    const small = await sharp(photo).resize(96, 128).jpeg().toBuffer();
    const d = await decodePhoto(small, { networkLongSide: 512 });
    expect([d.width, d.height, d.network.width, d.network.height]).toEqual([96, 128, 384, 512]);
    const thumb = await sharp(d.thumbnail).metadata();
    expect([thumb.width, thumb.height]).toEqual([96, 128]);
  });

  it('derives the network input from the thumbnail-size decode when the network is the smaller', async () => {
    const d = await decodePhoto(photo, { networkLongSide: 128, thumbnailLongSide: 300 });
    expect([d.network.width, d.network.height, d.network.data.length]).toEqual([96, 128, 96 * 128 * 3]);
    const thumb = await sharp(d.thumbnail).metadata();
    expect([thumb.width, thumb.height]).toEqual([225, 300]);
  });

  it('halves the network input into the thumbnail where the sizes allow, and resizes it otherwise', async () => {
    // 768×1024 → network 384×512 → thumbnail 192×256: exactly half, so each thumbnail pixel is
    // the 2×2 mean of network pixels (within JPEG's loss), not a different resampling.
    const d = await decodePhoto(photo, { networkLongSide: 512 });
    const thumb = await sharp(d.thumbnail).raw().toBuffer();
    const expected = halvePacked(d.network.data, d.network.width, d.network.height, 3, 192, 256);
    let diff = 0;
    for (let i = 0; i < thumb.length; i++) diff += Math.abs(thumb[i] - expected[i]);
    expect(diff / thumb.length).toBeLessThan(4);
    // The signature comes from those half-size pixels and matches one of the network input.
    expect(nearIdenticalScore(d.tiny, tinySignature(d.network.data, d.network.width, d.network.height, 3))).toBeGreaterThan(0.999);
    // Network 384×512, thumbnail 100: not a half, so libvips resizes; the size must still be right.
    const other = await decodePhoto(photo, { networkLongSide: 512, thumbnailLongSide: 100 });
    const meta = await sharp(other.thumbnail).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([75, 100, 'jpeg']);
  });

  it('scores a blurred copy as less sharp', async () => {
    const blurred = await sharp(photo).blur(3).jpeg({ quality: 95 }).toBuffer();
    const [a, b] = await Promise.all([decodePhoto(photo, { networkLongSide: 512 }), decodePhoto(blurred, { networkLongSide: 512 })]);
    expect(b.sharpness).toBeLessThan(a.sharpness / 3);
  });

  it('decodes a 12 MP JPEG via shrink-on-load', async () => {
    const big = await sharp(photo).resize(3000, 4000).jpeg({ quality: 90 }).toBuffer();
    fs.writeFileSync(path.join(tmp, 'big.jpg'), big);
    const d = await decodePhoto(big, { networkLongSide: 1024 });
    expect([d.width, d.height, d.network.width, d.network.height]).toEqual([3000, 4000, 768, 1024]);
  });
});

describe('decodePhoto orientation and pixel formats', () => {
  it('applies EXIF orientation to the size, the network input and the thumbnail', async () => {
    // Stored 80×60, left half red; orientation 6 means "turn 90° clockwise to display", which
    // brings the stored left edge to the top.
    const jpg = await halves(80, 60).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const d = await decodePhoto(jpg, { networkLongSide: 64 });
    expect([d.width, d.height, d.network.width, d.network.height]).toEqual([60, 80, 48, 64]);
    const px = (x: number, y: number) => Array.from(d.network.data.subarray((y * d.network.width + x) * 3, (y * d.network.width + x) * 3 + 3));
    expect(px(24, 5)[0]).toBeGreaterThan(200);
    expect(px(24, 5)[2]).toBeLessThan(60);
    expect(px(24, 58)[2]).toBeGreaterThan(200);
    const thumb = await sharp(d.thumbnail).metadata();
    expect(thumb.height!).toBeGreaterThan(thumb.width!);
  });

  it.each([
    ['alpha_channel_image.png', 'png'],
    ['ukbench00120_gray.jpg', 'jpeg'],
    ['formats_images/giphy.gif', 'gif'],
    ['formats_images/copyleft.tiff', 'tiff'],
    ['formats_images/ukbench09380.webp', 'webp'],
    ['formats_images/ukbench09380.svg', 'jpeg'],
  ])('gives 3-channel 8-bit network pixels for %s', async (name, format) => {
    const d = await decodePhoto(fs.readFileSync(path.join(NEAR_DUP, name)), { networkLongSide: 256 });
    expect(d.format).toBe(format);
    expect(d.network.data.length).toBe(d.network.width * d.network.height * 3);
    expect(Math.max(d.network.width, d.network.height)).toBe(256);
  });

  it('gives 8-bit pixels for a 16-bit PNG and decodes AVIF', async () => {
    const png16 = await halves(64, 48).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const d = await decodePhoto(png16, { networkLongSide: 64 });
    expect(d.network.data.length).toBe(64 * 48 * 3);
    expect(d.network.data[0]).toBeGreaterThan(200);
    const avif = await decodePhoto(await halves(64, 48).avif().toBuffer(), { networkLongSide: 64 });
    expect(avif.format).toBe('avif');
  });
});

describe('decodePhoto refuses bad input with typed errors', () => {
  it('empty, text, random bytes and PNM are not photos', async () => {
    await expectImageError(decodePhoto(Buffer.alloc(0), { networkLongSide: 256 }), 'empty');
    await expectImageError(decodePhoto(Buffer.from('Shopping list: bread, milk.\n'), { networkLongSide: 256 }), 'not-an-image');
    await expectImageError(decodePhoto(fs.readFileSync(path.join(NEAR_DUP, 'mixed_images/ukbench09268_corrupt.jpg')), { networkLongSide: 256 }), 'not-an-image');
    await expectImageError(decodePhoto(fs.readFileSync(path.join(NEAR_DUP, 'formats_images/baboon.pgm')), { networkLongSide: 256 }), 'not-an-image');
  });

  it('a truncated JPEG is corrupt', async () => {
    const cut = photo.subarray(0, Math.floor(photo.length * 0.4));
    await expectImageError(decodePhoto(cut, { networkLongSide: 256 }), 'corrupt', /damaged or truncated/);
  });

  it('a header claiming 30000×30000 is refused before decoding', async () => {
    const started = performance.now();
    await expectImageError(decodePhoto(pngClaiming(30000, 30000), { networkLongSide: 512 }), 'too-large', /900 MP.*100 MP/);
    expect(performance.now() - started).toBeLessThan(1000);
    await expectImageError(decodePhoto(photo, { networkLongSide: 512, maxPixels: 500_000 }), 'too-large', /768×1024 is 0\.79 MP, above the 0\.5 MP limit/);
  });

  it('a photo smaller than one feature cell is too small', async () => {
    await expectImageError(decodePhoto(await halves(20, 16).png().toBuffer(), { networkLongSide: 256 }), 'too-small', /20×16/);
  });

  it('formats the scanner accepts but this build cannot decode say so', async () => {
    // A complete 2×2 24-bit BMP.
    const bmp = Buffer.alloc(54 + 16);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(bmp.length, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(2, 18);
    bmp.writeInt32LE(2, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    bmp.writeUInt32LE(16, 34);
    await expectImageError(decodePhoto(bmp, { networkLongSide: 256 }), 'not-an-image', /BMP/);
    const heic = Buffer.concat([Buffer.from('0000001866747970686569630000000068656963', 'hex'), Buffer.from('6d696631', 'hex'), Buffer.alloc(64)]);
    expect(sniffImageType(heic)).toBe('heic');
    await expectImageError(decodePhoto(heic, { networkLongSide: 256 }), 'not-an-image', /HEIC/);
  });
});
