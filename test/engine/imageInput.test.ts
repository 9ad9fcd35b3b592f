// loadNetworkInput against hostile files (each must fail with its own typed code, before any
// large decode) and against well-formed ones (sizes, normalisation, EXIF orientation, query boxes).
// Hostile files are generated into a temp folder; the real photos are only read.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NORMALISATIONS, type InputNormalisation } from '../../app/convert/convertedModel.js';
import { ImageInputError, type ImageErrorCode } from '../../app/engine/imageErrors.js';
import { classifySharpError, loadNetworkInput, loadNetworkPixels, toNormalisedNCHW, type ImageInputOptions, type NetworkInput } from '../../app/engine/imageInput.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const PHOTO = path.join(DATA, 'paris6k-mini/images/eiffel_tower/paris_eiffel_000000.jpg');
const MINUS_ONE_TO_ONE = NORMALISATIONS.minusOneToOne;

let tmp: string;
const file = (name: string) => path.join(tmp, name);

// --- a minimal PNG writer, so the files' headers say exactly what a test needs -----------------
// (zlib.crc32 only arrived in Node 22.)
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  typed.copy(out, 4);
  out.writeUInt32BE(crc32(typed), 8 + data.length);
  return out;
}

/** colourType 0 = grey, 2 = RGB; `idat` is the zlib stream as stored. */
function makePng(width: number, height: number, bitDepth: number, colourType: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  // compression, filter and interlace methods: all 0 (the only defined ones / none).
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A complete, valid 1-bit greyscale PNG of one colour: 400 MP decode to 1.2 GB but store in a few KB. */
function oneBitPng(width: number, height: number, white: boolean): Buffer {
  const stride = 1 + Math.ceil(width / 8);
  const rows = Buffer.alloc(stride * height, white ? 0xff : 0);
  // Filter type 0 (None) starts every row.
  for (let y = 0; y < height; y++) rows[y * stride] = 0;
  return makePng(width, height, 1, 0, zlib.deflateSync(rows, { level: 9 }));
}

function rgbImage(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Sharp {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(pixel(x, y), (y * width + x) * 3);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

async function expectImageError(promise: Promise<unknown>, code: ImageErrorCode, message: RegExp): Promise<ImageInputError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, `expected ImageInputError(${code})`).toBeInstanceOf(ImageInputError);
  const e = err as ImageInputError;
  expect({ code: e.code, message: e.message }).toEqual({ code, message: expect.stringMatching(message) });
  return e;
}

const load = (source: string | Buffer, options: Partial<ImageInputOptions> = {}) => loadNetworkInput(source, { longSide: 256, normalisation: MINUS_ONE_TO_ONE, ...options });

/** Value of channel c at network pixel (x, y) in the NCHW tensor. */
const at = (input: NetworkInput, c: number, x: number, y: number) => input.data[c * input.width * input.height + y * input.width + x];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-imageinput-'));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('loadNetworkInput: bad input gets a typed error', () => {
  it('a text file named .jpg is not-an-image', async () => {
    await fs.writeFile(file('notes.jpg'), 'Shopping list: bread, milk, film for the camera.\n');
    const e = await expectImageError(load(file('notes.jpg')), 'not-an-image', /not an image/);
    // The message names the file, so a per-file error list is readable on its own.
    expect(e.message).toContain('notes.jpg');
    expect(e.source).toBe(file('notes.jpg'));
  });

  it('a JPEG cut at 40 % of its bytes is corrupt', async () => {
    const bytes = await fs.readFile(PHOTO);
    await fs.writeFile(file('truncated.jpg'), bytes.subarray(0, Math.floor(bytes.length * 0.4)));
    await expectImageError(load(file('truncated.jpg')), 'corrupt', /damaged or truncated/);
  });

  it('a zero-byte file (or empty buffer) is empty', async () => {
    await fs.writeFile(file('zero.jpg'), '');
    await expectImageError(load(file('zero.jpg')), 'empty', /empty \(0 bytes\)/);
    await expectImageError(load(Buffer.alloc(0)), 'empty', /empty \(0 bytes\)/);
  });

  it('a missing file and a folder are unreadable', async () => {
    await expectImageError(load(file('no-such-photo.jpg')), 'unreadable', /cannot read file \(ENOENT\)/);
    await fs.mkdir(file('album.jpg'));
    await expectImageError(load(file('album.jpg')), 'unreadable', /is a folder/);
  });

  it('a 1×1 and a 20×400 PNG are too-small', async () => {
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toFile(file('dot.png'));
    await sharp({ create: { width: 20, height: 400, channels: 3, background: '#808080' } }).png().toFile(file('sliver.png'));
    await expectImageError(load(file('dot.png')), 'too-small', /1×1 is smaller than one feature cell \(32 px\)/);
    await expectImageError(load(file('sliver.png')), 'too-small', /20×400 is smaller/);
  });

  it('the PNG writer used below makes files sharp decodes (so the header tests test the header)', async () => {
    const input = await load(oneBitPng(64, 40, true), { longSide: 64 });
    expect([input.width, input.height]).toEqual([64, 40]);
    expect(input.data.every((v) => v === 1)).toBe(true);
  });

  it('a PNG whose header claims 30000×30000 is too-large at once, without decoding', async () => {
    // A tiny IDAT (one row's worth) behind a valid IHDR: only the header can be trusted, and it must be enough.
    await fs.writeFile(file('huge-header.png'), makePng(30000, 30000, 8, 2, zlib.deflateSync(Buffer.alloc(1 + 30000 * 3))));
    expect((await fs.stat(file('huge-header.png'))).size).toBeLessThan(2000);
    const rssBefore = process.memoryUsage().rss;
    const t = performance.now();
    await expectImageError(load(file('huge-header.png')), 'too-large', /30000×30000 is 900 MP, above the 100 MP limit/);
    expect(performance.now() - t).toBeLessThan(500);
    // 900 MP of RGB would be 2.7 GB; anything near that means pixels were decoded.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100e6);
  });

  it('a decompression bomb (a valid 20000×20000 one-colour PNG of a few KB) is too-large', async () => {
    const bomb = oneBitPng(20000, 20000, false);
    expect(bomb.length).toBeLessThan(200_000);
    await fs.writeFile(file('bomb.png'), bomb);
    const rssBefore = process.memoryUsage().rss;
    const t = performance.now();
    await expectImageError(load(file('bomb.png')), 'too-large', /20000×20000 is 400 MP/);
    await expectImageError(load(bomb), 'too-large', /400 MP/);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100e6);
  });

  it('maxPixels lowers the limit', async () => {
    const png = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#fff' } }).png().toBuffer();
    await expectImageError(load(png, { maxPixels: 10_000 }), 'too-large', /200×200 is 0\.04 MP, above the 0\.01 MP limit/);
    await expect(load(png, { maxPixels: 40_000 })).resolves.toMatchObject({ width: 256, height: 256 });
  });

  it('a box outside the image, or too small to describe, is bad-region', async () => {
    const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#fff' } }).png().toBuffer();
    await expectImageError(load(png, { box: { x: 500, y: 10, width: 100, height: 100 } }), 'bad-region', /lies outside the 400×300 image/);
    await expectImageError(load(png, { box: { x: -200, y: -200, width: 150, height: 150 } }), 'bad-region', /lies outside/);
    await expectImageError(load(png, { box: { x: 10, y: 10, width: 10, height: 10 } }), 'bad-region', /10×10 px is too small/);
    // Clipped to the image, what is left is too thin to describe.
    await expectImageError(load(png, { box: { x: 390, y: 0, width: 100, height: 300 } }), 'bad-region', /too small/);
  });
});

describe('loadNetworkInput: good input', () => {
  it('scales the long side to S and keeps the aspect ratio', async () => {
    const landscape = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#123456' } }).png().toBuffer();
    expect(await load(landscape, { longSide: 150 })).toMatchObject({ width: 150, height: 100, originalWidth: 300, originalHeight: 200, scale: 2, offsetX: 0, offsetY: 0 });
    const portrait = await sharp({ create: { width: 200, height: 300, channels: 3, background: '#123456' } }).png().toBuffer();
    expect(await load(portrait, { longSide: 450 })).toMatchObject({ width: 300, height: 450, scale: 2 / 3 });

    const meta = await sharp(PHOTO).metadata();
    const real = await load(PHOTO, { longSide: 320 });
    const scale = Math.max(meta.width, meta.height) / 320;
    expect(real).toMatchObject({ originalWidth: meta.width, originalHeight: meta.height, scale });
    expect(Math.max(real.width, real.height)).toBe(320);
    expect([real.width, real.height]).toEqual([Math.round(meta.width / scale), Math.round(meta.height / scale)]);
    expect(real.data.length).toBe(3 * real.width * real.height);
  });

  it('normalises a solid colour exactly, channel by channel, in NCHW order', async () => {
    const rgb = [10, 128, 250];
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
    const n = NORMALISATIONS.imagenet;
    const input = await load(png, { longSide: 32, normalisation: n });
    expect([input.width, input.height]).toEqual([32, 24]);
    const plane = 32 * 24;
    for (let c = 0; c < 3; c++) {
      const expected = Math.fround((rgb[c] - n.mean[c]) / n.std[c]);
      const channel = input.data.subarray(c * plane, (c + 1) * plane);
      expect(new Set(channel)).toEqual(new Set([expected]));
    }
  });

  it('toNormalisedNCHW gives, bit for bit, (pixel − mean) / std for every byte value, channel count and normalisation', () => {
    const width = 37;
    const height = 11;
    const unusual: InputNormalisation = { mean: [1.5, 200, 33.3], std: [0.7, 9, 300] };
    for (const n of [...Object.values(NORMALISATIONS), unusual]) {
      for (const channels of [1, 2, 3, 4]) {
        // Every byte value appears in every channel.
        const pixels = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 7 + (i % channels) * 85) % 256);
        const out = toNormalisedNCHW(pixels, width, height, channels, n);
        const plane = width * height;
        for (let i = 0; i < plane; i++) {
          for (let c = 0; c < 3; c++) {
            const byte = pixels[i * channels + (channels < 3 ? 0 : c)];
            if (out[c * plane + i] !== Math.fround((byte - n.mean[c]) / n.std[c])) {
              throw new Error(`pixel ${i} channel ${c} of a ${channels}-channel image: ${out[c * plane + i]}`);
            }
          }
        }
      }
    }
  });

  it('writes into a buffer the caller hands it, which must be exactly the size of the tensor', async () => {
    const pixels = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256);
    const n = NORMALISATIONS.imagenet;
    const into = new Float32Array(3 * 5 * 4).fill(123);
    expect(toNormalisedNCHW(pixels, 5, 4, 3, n, into)).toBe(into);
    expect([...into]).toEqual([...toNormalisedNCHW(pixels, 5, 4, 3, n)]);
    expect(() => toNormalisedNCHW(pixels, 5, 4, 3, n, new Float32Array(59))).toThrow(RangeError);
    // describeRaw's path: the pixels loadNetworkPixels decodes, normalised into its reused buffer.
    const png = await sharp(Buffer.from(pixels), { raw: { width: 5, height: 4, channels: 3 } }).png().toBuffer();
    const decoded = await loadNetworkPixels(png, { longSide: 5, minSide: 1 });
    const reused = new Float32Array(1000);
    const data = toNormalisedNCHW(decoded.pixels, decoded.width, decoded.height, decoded.channels, n, reused.subarray(0, 3 * decoded.width * decoded.height));
    expect(data.length).toBe(60);
    expect(data.buffer).toBe(reused.buffer);
    expect([...data]).toEqual([...toNormalisedNCHW(pixels, 5, 4, 3, n)]);
    expect([...data]).toEqual([...(await loadNetworkInput(png, { longSide: 5, normalisation: n, minSide: 1 })).data]);
  });

  it('drops the alpha channel and expands greyscale to three equal channels', async () => {
    const rgba = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    const a = await load(rgba, { longSide: 40, normalisation: NORMALISATIONS.zeroToOne });
    expect([at(a, 0, 5, 5), at(a, 1, 5, 5), at(a, 2, 5, 5)]).toEqual([1, 0, 0]);
    const rows = Buffer.alloc(41 * 40, 0x33);
    for (let y = 0; y < 40; y++) rows[y * 41] = 0;
    const grey = makePng(40, 40, 8, 0, zlib.deflateSync(rows));
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const g = await load(grey, { longSide: 40, normalisation: NORMALISATIONS.zeroToOne });
    expect([at(g, 0, 5, 5), at(g, 1, 5, 5), at(g, 2, 5, 5)]).toEqual([0x33 / 255, 0x33 / 255, 0x33 / 255].map(Math.fround));
  });

  it('applies EXIF orientation: a 120×80 JPEG tagged orientation 6 is a 80×120 photo', async () => {
    // Left half red, right half blue; orientation 6 means "rotate 90° clockwise to display",
    // which puts the left half on top.
    const img = rgbImage(120, 80, (x) => (x < 60 ? [255, 0, 0] : [0, 0, 255]));
    await img.jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(file('rotated.jpg'));
    const meta = await sharp(file('rotated.jpg')).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([120, 80, 6]);

    const input = await load(file('rotated.jpg'), { longSide: 60 });
    expect(input).toMatchObject({ originalWidth: 80, originalHeight: 120, width: 40, height: 60, scale: 2 });
    const red = at(input, 0, 20, 10) - at(input, 2, 20, 10);
    const blue = at(input, 2, 20, 50) - at(input, 0, 20, 50);
    expect(red).toBeGreaterThan(1.5);
    expect(blue).toBeGreaterThan(1.5);
  });

  describe('query boxes', () => {
    // A ramp image: red encodes x, green encodes y, so every network pixel says where in the
    // original it came from, and the reported scale/offset can be checked against it.
    const W = 400;
    const H = 300;
    let ramp: Buffer;
    const box = { x: 101, y: 53, width: 198, height: 103 };

    beforeAll(async () => {
      ramp = await rgbImage(W, H, (x, y) => [Math.round((x * 255) / (W - 1)), Math.round((y * 255) / (H - 1)), 0]).png().toBuffer();
    });

    /** Max |ramp value at mapped original position − network value| over interior pixels, in 0–255 levels. */
    function mappingError(input: NetworkInput): number {
      let worst = 0;
      for (let y = 2; y < input.height - 2; y++) {
        for (let x = 2; x < input.width - 2; x++) {
          const ox = input.offsetX + (x + 0.5) * input.scale - 0.5;
          const oy = input.offsetY + (y + 0.5) * input.scale - 0.5;
          worst = Math.max(worst, Math.abs(at(input, 0, x, y) * 255 - (ox * 255) / (W - 1)), Math.abs(at(input, 1, x, y) * 255 - (oy * 255) / (H - 1)));
        }
      }
      return worst;
    }

    it("'crop' scales the box itself to S and maps back to the box", async () => {
      const input = await load(ramp, { longSide: 100, box, boxMode: 'crop', normalisation: NORMALISATIONS.zeroToOne });
      expect(input).toMatchObject({ width: 100, height: Math.round(103 / 1.98), originalWidth: W, originalHeight: H, offsetX: 101, offsetY: 53 });
      expect(input.scale).toBeCloseTo(1.98, 12);
      expect(mappingError(input)).toBeLessThan(2);
    });

    it("'context' scales the photo to S and cuts the box from it, keeping the photo's scale", async () => {
      const input = await load(ramp, { longSide: 100, box, boxMode: 'context', normalisation: NORMALISATIONS.zeroToOne });
      // scale 4: the box starts at cell floor(101/4) = 25, floor(53/4) = 13 and spans round(198/4) × round(103/4).
      expect(input).toMatchObject({ scale: 4, offsetX: 100, offsetY: 52, width: 50, height: 26, originalWidth: W, originalHeight: H });
      expect(mappingError(input)).toBeLessThan(2);
      // The same photo without a box, at the same S, holds the same pixels at the same place.
      const whole = await load(ramp, { longSide: 100, normalisation: NORMALISATIONS.zeroToOne });
      expect(at(input, 0, 10, 10)).toBe(at(whole, 0, 35, 23));
      expect(at(input, 1, 10, 10)).toBe(at(whole, 1, 35, 23));
    });

    it("'crop' is the default, and a box equal to the image is the whole image", async () => {
      const boxed = await load(ramp, { longSide: 100, box: { x: 0, y: 0, width: W, height: H } });
      const whole = await load(ramp, { longSide: 100 });
      expect(boxed).toMatchObject({ width: whole.width, height: whole.height, scale: whole.scale, offsetX: 0, offsetY: 0 });
      expect(boxed.data).toEqual(whole.data);
    });
  });
});

describe('already decoded pixels (the library decodes each photo once)', () => {
  it('give exactly the tensor of the file they were decoded from', async () => {
    const { data, info } = await sharp(PHOTO, { autoOrient: true }).resize(512, 512, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const fromRaw = await loadNetworkInput({ raw: data, width: info.width, height: info.height, channels: 3 }, { longSide: 512, normalisation: MINUS_ONE_TO_ONE });
    const fromFile = await loadNetworkInput(PHOTO, { longSide: 512, normalisation: MINUS_ONE_TO_ONE });
    expect([fromRaw.width, fromRaw.height]).toEqual([fromFile.width, fromFile.height]);
    // Same decoder and resize either way; only the order of shrink-on-load steps may differ by a grey level.
    let worst = 0;
    for (let i = 0; i < fromRaw.data.length; i++) worst = Math.max(worst, Math.abs(fromRaw.data[i] - fromFile.data[i]));
    expect(worst).toBeLessThanOrEqual(2 / 127.5 + 1e-6);
    expect(fromRaw.scale).toBe(1);
  });

  it('at the network size already, give exactly what decoding them through sharp again gives', async () => {
    const { data, info } = await sharp(PHOTO, { autoOrient: true }).resize(512, 512, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const direct = await loadNetworkInput({ raw: data, width: info.width, height: info.height, channels: 3 }, { longSide: Math.max(info.width, info.height), normalisation: MINUS_ONE_TO_ONE });
    const again = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).resize(info.width, info.height, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    expect([again.info.width, again.info.height, again.info.channels]).toEqual([info.width, info.height, 3]);
    expect(direct.data).toEqual(toNormalisedNCHW(again.data, info.width, info.height, 3, MINUS_ONE_TO_ONE));
    expect(direct).toMatchObject({ width: info.width, height: info.height, scale: 1, offsetX: 0, offsetY: 0 });
  });

  it('refuse a buffer whose size does not match its dimensions', async () => {
    await expect(loadNetworkInput({ raw: new Uint8Array(10), width: 4, height: 4, channels: 3 }, { longSide: 64, normalisation: MINUS_ONE_TO_ONE })).rejects.toThrow(/10 bytes for 4×4×3/);
  });
});

describe('classifySharpError', () => {
  it('names every decoder failure, including one whose message libvips lost', () => {
    const c = (message: string) => classifySharpError(new Error(message), 'x.jpg');
    expect(c('VipsJpeg: Premature end of JPEG file')).toMatchObject({ code: 'corrupt', message: expect.stringMatching(/damaged or truncated/) });
    // Another pipeline can empty libvips' shared error buffer first (seen with concurrent decodes).
    for (const lost of ['Unknown error', '', '  ']) expect(c(lost)).toMatchObject({ code: 'corrupt', message: expect.stringMatching(/damaged or truncated \(the decoder gave no details\)/) });
    expect(c('Input buffer contains unsupported image format')).toMatchObject({ code: 'not-an-image' });
    expect(c('ENOENT: no such file')).toMatchObject({ code: 'unreadable' });
    expect(c('Input image exceeds pixel limit')).toMatchObject({ code: 'too-large' });
  });
});
