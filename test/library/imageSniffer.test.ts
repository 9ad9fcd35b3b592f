// Magic-byte recognition: real encodings from sharp, the near-dup data set's deliberately
// misnamed files, and the ISO-BMFF brand cases where AVIF and HEIC share a container.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sniffImageType, SNIFF_BYTES, type ImageKind } from '../../app/library/imageSniffer.js';

const FORMATS = fileURLToPath(new URL('../../../shared/data/near-dup/formats_images/', import.meta.url));

async function head(file: string): Promise<Uint8Array> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** An ISO-BMFF `ftyp` box with the given major and compatible brands. */
function ftyp(major: string, ...compatible: string[]): Uint8Array {
  const size = 16 + 4 * compatible.length;
  const b = Buffer.alloc(size + 8);
  b.writeUInt32BE(size, 0);
  b.write('ftyp', 4, 'latin1');
  b.write(major, 8, 'latin1');
  compatible.forEach((c, i) => b.write(c, 16 + 4 * i, 'latin1'));
  b.write('meta', size + 4, 'latin1');
  return b;
}

describe('sniffImageType', () => {
  const img = () => sharp({ create: { width: 8, height: 8, channels: 3, background: '#abc' } });

  it.each<[ImageKind, () => Promise<Buffer>]>([
    ['jpeg', () => img().jpeg().toBuffer()],
    ['png', () => img().png().toBuffer()],
    ['webp', () => img().webp().toBuffer()],
    ['gif', () => img().gif().toBuffer()],
    ['tiff', () => img().tiff().toBuffer()],
    ['tiff', () => img().tiff({ bigtiff: true }).toBuffer()],
    ['avif', () => img().avif().toBuffer()],
  ])('recognises %s as sharp encodes it', async (kind, make) => {
    const bytes = await make();
    expect(sniffImageType(bytes.subarray(0, SNIFF_BYTES))).toBe(kind);
  });

  it('recognises both TIFF byte orders, BMP and JPEG XL from their headers', () => {
    expect(sniffImageType(Buffer.from('4d4d002a00000008', 'hex'))).toBe('tiff');
    expect(sniffImageType(Buffer.from('49492a0008000000', 'hex'))).toBe('tiff');
    const bmp = Buffer.alloc(54);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(54, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    expect(sniffImageType(bmp)).toBe('bmp');
    expect(sniffImageType(Buffer.from('ff0a', 'hex'))).toBe('jxl');
    expect(sniffImageType(Buffer.from('0000000c4a584c200d0a870a', 'hex'))).toBe('jxl');
  });

  it('does not take text that starts with "BM" for a bitmap', () => {
    expect(sniffImageType(Buffer.from('BMW service history, 2019 to 2024, all invoices enclosed'))).toBeUndefined();
  });

  it('tells AVIF from HEIC by ftyp brands, also when the major brand is the generic mif1', () => {
    expect(sniffImageType(ftyp('avif', 'mif1', 'miaf'))).toBe('avif');
    expect(sniffImageType(ftyp('avis', 'msf1', 'avif'))).toBe('avif');
    expect(sniffImageType(ftyp('heic', 'mif1', 'heic'))).toBe('heic');
    expect(sniffImageType(ftyp('heix', 'mif1'))).toBe('heic');
    expect(sniffImageType(ftyp('hevc', 'msf1'))).toBe('heic');
    // Samsung and some converters put mif1 first; the codec is only in the compatible list.
    expect(sniffImageType(ftyp('mif1', 'mif1', 'heic'))).toBe('heic');
    expect(sniffImageType(ftyp('mif1', 'mif1', 'miaf', 'avif'))).toBe('avif');
    expect(sniffImageType(ftyp('msf1', 'msf1', 'hevc'))).toBe('heic');
    // HEIF with no codec brand we know (JPEG or uncompressed items): still an image container.
    expect(sniffImageType(ftyp('mif1', 'mif1'))).toBe('heif');
  });

  it('rejects videos and other ISO-BMFF files', () => {
    expect(sniffImageType(ftyp('isom', 'isom', 'iso2', 'avc1', 'mp41'))).toBeUndefined();
    expect(sniffImageType(ftyp('qt  ', 'qt  '))).toBeUndefined();
    expect(sniffImageType(ftyp('crx ', 'crx ', 'isom'))).toBeUndefined();
  });

  it('rejects SVG, PNM, text, empty and truncated heads', () => {
    expect(sniffImageType(Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
    expect(sniffImageType(Buffer.from('<svg width="10" height="10"></svg>'))).toBeUndefined();
    expect(sniffImageType(Buffer.from('P6\n640 480\n255\n'))).toBeUndefined();
    expect(sniffImageType(Buffer.from('this is not a photo'))).toBeUndefined();
    expect(sniffImageType(new Uint8Array(0))).toBeUndefined();
    expect(sniffImageType(Buffer.from([0xff, 0xd8]))).toBeUndefined();
    expect(sniffImageType(Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt ', 'latin1'))).toBeUndefined();
  });

  it('goes by content, not by name, on the near-dup formats set', async () => {
    const expected: Record<string, ImageKind | undefined> = {
      'Iggy.1024.ppm': undefined,
      'baboon.pgm': undefined,
      'marbles.pbm': undefined,
      'copyleft.tiff': 'tiff',
      'giphy.gif': 'gif',
      'ukbench09380.webp': 'webp',
      'ukbench09380.jpeg': 'jpeg',
      // These three are the same JPEG under other extensions.
      'ukbench09380.bmp': 'jpeg',
      'ukbench09380.png': 'jpeg',
      'ukbench09380.svg': 'jpeg',
    };
    const names = (await fs.readdir(FORMATS)).sort();
    expect(names).toEqual(Object.keys(expected).sort());
    for (const name of names) expect([name, sniffImageType(await head(path.join(FORMATS, name)))]).toEqual([name, expected[name]]);
  });

  it('accepts a head that is a view into a larger buffer', () => {
    const big = Buffer.alloc(100);
    Buffer.from('89504e470d0a1a0a', 'hex').copy(big, 30);
    expect(sniffImageType(big.subarray(30, 30 + SNIFF_BYTES))).toBe('png');
    const bmp = Buffer.alloc(100);
    bmp.write('BM', 7, 'latin1');
    bmp.writeUInt32LE(124, 21);
    expect(sniffImageType(new Uint8Array(bmp.buffer, bmp.byteOffset + 7, 60))).toBe('bmp');
  });
});
