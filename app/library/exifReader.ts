// The few EXIF fields the library shows and sorts by. EXIF is written by thousands of firmware
// versions and editors, so every field is checked and dropped when implausible, and a broken
// block yields {} rather than an error: a photo without a date is still a photo.
import exifr from 'exifr';
import sharp from 'sharp';
import { sniffImageType } from './imageSniffer.js';

export interface ExifFields {
  /**
   * When the shutter fired, ISO 8601. EXIF stores camera wall-clock time without a zone; it is
   * returned as such ("2020-01-02T03:04:05") unless the file also records its UTC offset
   * ("2020-01-02T03:04:05+02:00"). Never shifted by this machine's time zone.
   */
  takenAt?: string;
  cameraMake?: string;
  cameraModel?: string;
  /** Decimal degrees, WGS 84. */
  gpsLat?: number;
  gpsLon?: number;
  /** EXIF Orientation 1–8 as stored (the decoder already applies it). */
  orientation?: number;
  /** The pixel size the camera recorded; may differ from the real size after editing. */
  exifWidth?: number;
  exifHeight?: number;
}

const PICK = [
  'Make', 'Model', 'Orientation',
  'DateTimeOriginal', 'CreateDate', 'OffsetTimeOriginal', 'OffsetTimeDigitized', 'SubSecTimeOriginal', 'SubSecTimeDigitized',
  'ExifImageWidth', 'ExifImageHeight',
  'GPSLatitude', 'GPSLatitudeRef', 'GPSLongitude', 'GPSLongitudeRef',
];

// reviveValues off: exifr would turn the zone-less date strings into Date objects in this
// machine's time zone. translateValues off: Orientation stays a number, not "Rotate 90 CW".
// silentErrors (not in exifr's typings) collects damage into `errors` instead of throwing.
const EXIFR_OPTIONS = { pick: PICK, reviveValues: false, translateValues: false, silentErrors: true, mergeOutput: true } as Parameters<typeof exifr.parse>[1];

export async function readExif(data: Buffer): Promise<ExifFields> {
  let tags: Record<string, unknown> | undefined;
  try {
    tags = await parseTags(data);
  } catch {
    return {};
  }
  if (!tags || typeof tags !== 'object') return {};

  const out: ExifFields = {};
  const takenAt = isoDate(tags.DateTimeOriginal, tags.SubSecTimeOriginal, tags.OffsetTimeOriginal)
    ?? isoDate(tags.CreateDate, tags.SubSecTimeDigitized, tags.OffsetTimeDigitized);
  if (takenAt) out.takenAt = takenAt;
  const make = text(tags.Make);
  if (make) out.cameraMake = make;
  const model = text(tags.Model);
  if (model) out.cameraModel = model;
  const lat = tags.latitude;
  const lon = tags.longitude;
  // (0, 0) is what many phones write when they had no fix; nobody photographs that spot of ocean.
  if (isFiniteNumber(lat) && isFiniteNumber(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && !(lat === 0 && lon === 0)) {
    out.gpsLat = lat;
    out.gpsLon = lon;
  }
  const orientation = tags.Orientation;
  if (typeof orientation === 'number' && Number.isInteger(orientation) && orientation >= 1 && orientation <= 8) out.orientation = orientation;
  const w = tags.ExifImageWidth;
  const h = tags.ExifImageHeight;
  if (isPositiveInt(w) && isPositiveInt(h)) {
    out.exifWidth = w;
    out.exifHeight = h;
  }
  return out;
}

async function parseTags(data: Buffer): Promise<Record<string, unknown> | undefined> {
  const kind = sniffImageType(data);
  // exifr does not read WebP; its EXIF chunk holds an ordinary TIFF block that exifr does read.
  const source = kind === 'webp' ? webpExifBlock(data) : data;
  if (!source) return undefined;
  const tags = await exifr.parse(source, EXIFR_OPTIONS).catch(() => undefined) as Record<string, unknown> | undefined;
  if (hasTags(tags) || !(kind === 'avif' || kind === 'heic' || kind === 'heif')) return tags;
  // exifr misreads the Exif item libheif writes (AVIF from sharp, among others); libheif itself
  // finds it, and sharp hands over the TIFF block behind the "Exif\0\0" marker.
  const exif = (await sharp(data).metadata()).exif;
  if (!exif || exif.length < 8) return undefined;
  const tiff = exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? exif.subarray(6) : exif;
  return await exifr.parse(tiff, EXIFR_OPTIONS) as Record<string, unknown> | undefined;
}

function hasTags(tags: Record<string, unknown> | undefined): boolean {
  return !!tags && typeof tags === 'object' && Object.keys(tags).some((k) => k !== 'errors');
}

/** "YYYY:MM:DD HH:MM:SS" (some writers use '-' or 'T') → ISO 8601, or undefined if implausible. */
function isoDate(value: unknown, subSec: unknown, offset: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  // Unset clocks write 0000:00:00; film scans can reasonably be old, the future cannot be.
  if (year < 1800 || year > new Date().getUTCFullYear() + 1) return undefined;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  let iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`;
  const frac = typeof subSec === 'string' || typeof subSec === 'number' ? String(subSec).trim() : '';
  if (/^\d{1,9}$/.test(frac)) iso += `.${frac.padEnd(3, '0').slice(0, 3)}`;
  if (typeof offset === 'string') {
    const o = /^\s*([+-])(\d{2}):(\d{2})\s*$/.exec(offset);
    if (o && Number(o[2]) <= 14 && Number(o[3]) < 60) iso += `${o[1]}${o[2]}:${o[3]}`;
  }
  return iso;
}

function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Fixed-width fields arrive padded with NULs or spaces.
  const t = value.replace(/\u0000+/g, ' ').trim();
  return t.length > 0 && t.length <= 128 ? t : undefined;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 1_000_000;
}

/** The payload of a WebP file's EXIF chunk, as a TIFF block ("Exif\0\0" prefix dropped if present). */
function webpExifBlock(data: Buffer): Buffer | undefined {
  // RIFF header (12 bytes), then chunks: FourCC, little-endian size, payload padded to even length.
  let offset = 12;
  while (offset + 8 <= data.length) {
    const fourcc = data.toString('latin1', offset, offset + 4);
    const size = data.readUInt32LE(offset + 4);
    const start = offset + 8;
    if (start + size > data.length) return undefined;
    if (fourcc === 'EXIF') {
      const payload = data.subarray(start, start + size);
      return payload.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? payload.subarray(6) : payload;
    }
    offset = start + size + (size & 1);
  }
  return undefined;
}
