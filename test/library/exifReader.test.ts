// readExif on JPEG/WebP/AVIF files that sharp writes with known EXIF, on real photos without it,
// and on damaged input (which must give {} and never throw).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp, { type Exif } from 'sharp';
import { describe, expect, it } from 'vitest';
import { readExif } from '../../app/library/exifReader.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

const EXIF: Exif = {
  IFD0: { Make: 'Canon', Model: 'X', DateTime: '2021:03:04 05:06:07' },
  IFD2: { DateTimeOriginal: '2020:01:02 03:04:05', OffsetTimeOriginal: '+02:00', SubSecTimeOriginal: '25', PixelXDimension: '64', PixelYDimension: '48' },
  IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2964/100', GPSLongitudeRef: 'W', GPSLongitude: '2/1 17/1 4020/100' },
};

const image = () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#357' } });

describe('readExif', () => {
  it('reads camera, date with offset, GPS, orientation and EXIF size from a JPEG', async () => {
    const jpg = await image().jpeg().withExif(EXIF).withMetadata({ orientation: 6 }).toBuffer();
    expect(await readExif(jpg)).toEqual({
      takenAt: '2020-01-02T03:04:05.250+02:00',
      cameraMake: 'Canon',
      cameraModel: 'X',
      gpsLat: expect.closeTo(48.858233, 5),
      gpsLon: expect.closeTo(-2.2945, 5),
      orientation: 6,
      exifWidth: 64,
      exifHeight: 48,
    });
  });

  it('keeps camera wall-clock time as is when no offset is recorded, whatever the machine time zone', async () => {
    const jpg = await image().jpeg().withExif({ IFD0: { Make: 'Nikon' }, IFD2: { DateTimeOriginal: '2019:07:14 23:30:00' } }).toBuffer();
    const exif = await readExif(jpg);
    expect(exif.takenAt).toBe('2019-07-14T23:30:00');
    expect(exif.gpsLat).toBeUndefined();
  });

  it('falls back to the digitized date, and drops impossible dates and null-island GPS', async () => {
    const digitized = await image().jpeg().withExif({ IFD2: { DateTimeDigitized: '2018:05:06 07:08:09' } }).toBuffer();
    expect((await readExif(digitized)).takenAt).toBe('2018-05-06T07:08:09');
    const bogus = await image().jpeg().withExif({
      IFD2: { DateTimeOriginal: '0000:00:00 00:00:00' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '0/1 0/1 0/1', GPSLongitudeRef: 'E', GPSLongitude: '0/1 0/1 0/1' },
    }).toBuffer();
    const exif = await readExif(bogus);
    expect(exif.takenAt).toBeUndefined();
    expect(exif.gpsLat).toBeUndefined();
    expect(exif.gpsLon).toBeUndefined();
  });

  it('reads EXIF from WebP (which exifr itself does not parse) and AVIF', async () => {
    for (const encoded of [await image().webp().withExif(EXIF).toBuffer(), await image().avif().withExif(EXIF).toBuffer()]) {
      expect(await readExif(encoded)).toMatchObject({ cameraMake: 'Canon', cameraModel: 'X', takenAt: '2020-01-02T03:04:05.250+02:00', gpsLat: expect.closeTo(48.858233, 5) });
    }
  });

  it('returns {} for photos without EXIF', async () => {
    expect(await readExif(await image().jpeg().toBuffer())).toEqual({});
    expect(await readExif(await image().png().toBuffer())).toEqual({});
    expect(await readExif(fs.readFileSync(`${DATA}near-dup/ukbench00120_gray.jpg`))).toEqual({});
    expect(await readExif(fs.readFileSync(`${DATA}near-dup/formats_images/giphy.gif`))).toEqual({});
  });

  it('never throws on damaged or foreign input', async () => {
    const jpg = await image().jpeg().withExif(EXIF).toBuffer();
    const damaged = Buffer.from(jpg);
    // Scribble over the TIFF header and IFD offsets inside APP1.
    damaged.fill(0xee, 12, 40);
    const inputs = [
      Buffer.alloc(0),
      Buffer.from('not an image at all'),
      jpg.subarray(0, 30),
      damaged,
      fs.readFileSync(`${DATA}near-dup/mixed_images/ukbench09268_corrupt.jpg`),
      Buffer.concat([Buffer.from('RIFF\x00\x00\x00\x00WEBPEXIF\xff\xff\xff\x7f', 'latin1'), Buffer.alloc(20)]),
    ];
    for (const input of inputs) {
      const exif = await readExif(input);
      expect(typeof exif).toBe('object');
      expect(exif.takenAt).toBeUndefined();
    }
  });

  it('reads real camera photos, including one whose clock was never set', async () => {
    const base = `${DATA}near-dup/base_images/`;
    expect(await readExif(fs.readFileSync(`${base}ukbench09268.jpg`))).toEqual({
      takenAt: '2006-01-31T16:22:50',
      cameraMake: 'Canon',
      cameraModel: 'Canon PowerShot S80',
      orientation: 6,
      exifWidth: 640,
      exifHeight: 480,
    });
    // Its DateTimeOriginal is "0000:00:00 00:00:00" (exifr's own revival makes that 1899-11-30).
    expect(await readExif(fs.readFileSync(`${base}ukbench08976.jpg`))).toEqual({ cameraMake: 'NIKON', cameraModel: 'E5700', orientation: 1, exifWidth: 2560, exifHeight: 1920 });
  });
});
