// Decodes a photo into the network's input tensor: EXIF orientation, optional crop to a query
// box, long side S (sharp's shrink-on-load does the heavy lifting for big JPEGs), per-channel
// normalisation, NCHW float32.
import fs from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import type { InputNormalisation } from '../convert/convertedModel.js';
import { ImageInputError } from './imageErrors.js';

export interface PixelBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ImageInputOptions {
  /** Long side of the network input in pixels. */
  longSide: number;
  normalisation: InputNormalisation;
  /** Query box in the oriented original image's pixels. */
  box?: PixelBox;
  /**
   * `crop`: crop to the box, then scale the crop's long side to S (the Oxford/Paris protocol as
   * cirtorch runs it). `context`: scale the whole photo to S and cut the box out of that, so the
   * object keeps the scale it has in database photos.
   */
  boxMode?: 'crop' | 'context';
  /** Refuse images with more pixels than this before decoding anything (default 100 MP). */
  maxPixels?: number;
  /** Refuse images (or boxes) whose short side is below this many pixels (default 32: one feature cell). */
  minSide?: number;
}

/** Where the network's input pixels sit in the photo, and their size. */
export interface NetworkGeometry {
  width: number;
  height: number;
  /** The oriented original's size. */
  originalWidth: number;
  originalHeight: number;
  /** Maps network pixels back to original pixels: original = offset + network · scale. */
  scale: number;
  offsetX: number;
  offsetY: number;
}

export interface NetworkInput extends NetworkGeometry {
  /** [1, 3, height, width], normalised. */
  data: Float32Array;
}

/** The network input before normalisation: oriented, cropped, resized 8-bit pixels. */
export interface NetworkPixels extends NetworkGeometry {
  /** Packed, `channels` bytes per pixel (3, or 1 for a grey image). */
  pixels: Uint8Array;
  channels: number;
}

export const DEFAULT_MAX_PIXELS = 100_000_000;

/**
 * Pixels the caller already decoded (and oriented): the library decodes each photo once for
 * its thumbnail and its descriptor, and hands the engine these instead of the file.
 */
export interface RawPixels {
  raw: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

export type ImageSource = string | Uint8Array | RawPixels;

export function isRawPixels(source: ImageSource): source is RawPixels {
  return typeof source === 'object' && !(source instanceof Uint8Array) && 'raw' in source;
}

export async function loadNetworkInput(source: ImageSource, options: ImageInputOptions): Promise<NetworkInput> {
  const { pixels, channels, ...geometry } = await loadNetworkPixels(source, options);
  return {
    data: toNormalisedNCHW(pixels, geometry.width, geometry.height, channels, options.normalisation),
    ...geometry,
  };
}

/** loadNetworkInput's pixels, before they are normalised into floats. */
export async function loadNetworkPixels(source: ImageSource, options: Omit<ImageInputOptions, 'normalisation'>): Promise<NetworkPixels> {
  const label = typeof source === 'string' ? source : undefined;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const minSide = options.minSide ?? 32;
  if (typeof source === 'string') {
    let stat: Awaited<ReturnType<typeof fs.stat>>;
    try {
      stat = await fs.stat(source);
    } catch (e) {
      throw new ImageInputError('unreadable', `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, label);
    }
    if (stat.isDirectory()) throw new ImageInputError('unreadable', 'is a folder, not an image file', label);
    const size = stat.size;
    if (size === 0) throw new ImageInputError('empty', 'file is empty (0 bytes)', label);
  } else if (isRawPixels(source)) {
    if (source.raw.length !== source.width * source.height * source.channels) {
      throw new RangeError(`raw pixels: ${source.raw.length} bytes for ${source.width}×${source.height}×${source.channels}`);
    }
  } else if (source.length === 0) {
    throw new ImageInputError('empty', 'image data is empty (0 bytes)');
  }

  const open = () => (isRawPixels(source)
    ? sharp(source.raw, { raw: { width: source.width, height: source.height, channels: source.channels } })
    : sharp(source, { autoOrient: true, failOn: 'error', limitInputPixels: maxPixels, sequentialRead: true }));
  let rawW: number | undefined;
  let rawH: number | undefined;
  if (isRawPixels(source)) {
    rawW = source.width;
    rawH = source.height;
  } else {
    let meta: Metadata;
    try {
      // Only the header is read here: dimensions are checked before any pixel is decoded.
      meta = await sharp(source, { limitInputPixels: false }).metadata();
    } catch (e) {
      throw classifySharpError(e, label);
    }
    rawW = meta.autoOrient?.width ?? meta.width;
    rawH = meta.autoOrient?.height ?? meta.height;
  }
  if (!rawW || !rawH) throw new ImageInputError('not-an-image', 'no image dimensions in the file header', label);
  if (rawW * rawH > maxPixels) {
    throw new ImageInputError('too-large', `${rawW}×${rawH} is ${megapixels(rawW * rawH)} MP, above the ${megapixels(maxPixels)} MP limit`, label);
  }
  if (Math.min(rawW, rawH) < minSide) {
    throw new ImageInputError('too-small', `${rawW}×${rawH} is smaller than one feature cell (${minSide} px)`, label);
  }

  let box = options.box;
  if (box) {
    box = clipBox(box, rawW, rawH);
    if (!box) throw new ImageInputError('bad-region', `region ${JSON.stringify(options.box)} lies outside the ${rawW}×${rawH} image`, label);
    if (Math.min(box.width, box.height) < minSide) {
      throw new ImageInputError('bad-region', `region ${box.width}×${box.height} px is too small to describe (short side under ${minSide} px)`, label);
    }
  }

  const S = options.longSide;
  // What the pipeline does, built only if there is decoding to do: the library's pixels usually
  // arrive at the network's size, and making a sharp pipeline costs ~0.1 ms for nothing.
  const steps: Array<(p: Sharp) => Sharp> = [];
  let scale: number;
  let offsetX = 0;
  let offsetY = 0;
  let outW: number;
  let outH: number;
  if (box && (options.boxMode ?? 'crop') === 'crop') {
    scale = Math.max(box.width, box.height) / S;
    outW = Math.max(1, Math.round(box.width / scale));
    outH = Math.max(1, Math.round(box.height / scale));
    offsetX = box.x;
    offsetY = box.y;
    const crop = { left: box.x, top: box.y, width: box.width, height: box.height };
    const [w, h] = [outW, outH];
    steps.push((p) => p.extract(crop).resize(w, h, { fit: 'fill' }));
  } else {
    scale = Math.max(rawW, rawH) / S;
    const fullW = Math.max(1, Math.round(rawW / scale));
    const fullH = Math.max(1, Math.round(rawH / scale));
    steps.push((p) => p.resize(fullW, fullH, { fit: 'fill' }));
    outW = fullW;
    outH = fullH;
    if (box) {
      const left = Math.min(fullW - 1, Math.floor(box.x / scale));
      const top = Math.min(fullH - 1, Math.floor(box.y / scale));
      const w = Math.max(1, Math.min(fullW - left, Math.round(box.width / scale)));
      const h = Math.max(1, Math.min(fullH - top, Math.round(box.height / scale)));
      steps.push((p) => p.extract({ left, top, width: w, height: h }));
      offsetX = left * scale;
      offsetY = top * scale;
      outW = w;
      outH = h;
    }
  }

  let pixels: Uint8Array;
  let info: Pick<OutputInfo, 'width' | 'height' | 'channels'>;
  if (isRawPixels(source) && source.channels === 3 && !box && outW === rawW && outH === rawH) {
    // The library hands over RGB already decoded at the network's size: sharp would only copy
    // the same bytes through a pipeline (resize to the same size and sRGB to sRGB are no-ops).
    pixels = source.raw;
    info = { width: rawW, height: rawH, channels: 3 };
  } else {
    try {
      const pipeline = steps.reduce((p, step) => step(p), open());
      ({ data: pixels, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true }));
    } catch (e) {
      throw classifySharpError(e, label);
    }
  }
  if (info.width !== outW || info.height !== outH) {
    throw new Error(`decoder returned ${info.width}×${info.height}, expected ${outW}×${outH}`);
  }
  return {
    pixels,
    channels: info.channels,
    width: info.width,
    height: info.height,
    originalWidth: rawW,
    originalHeight: rawH,
    scale,
    offsetX,
    offsetY,
  };
}

export function toNormalisedNCHW(pixels: Uint8Array, width: number, height: number, channels: number, n: InputNormalisation, into?: Float32Array): Float32Array {
  const plane = width * height;
  if (into && into.length !== 3 * plane) throw new RangeError(`output holds ${into.length} values, not 3 × ${width} × ${height}`);
  const out = into ?? new Float32Array(3 * plane);
  // A byte has only 256 values: a table per channel of (v − mean) / std turns the per-pixel
  // subtract and divide into a lookup, with bit-identical results.
  const tables = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => (v - n.mean[c]) / n.std[c]));
  const [t0, t1, t2] = tables;
  const g = plane;
  const b = 2 * plane;
  if (channels >= 3) {
    for (let i = 0, p = 0; i < plane; i++, p += channels) {
      out[i] = t0[pixels[p]];
      out[g + i] = t1[pixels[p + 1]];
      out[b + i] = t2[pixels[p + 2]];
    }
  } else {
    for (let i = 0, p = 0; i < plane; i++, p += channels) {
      const v = pixels[p];
      out[i] = t0[v];
      out[g + i] = t1[v];
      out[b + i] = t2[v];
    }
  }
  return out;
}

/** Whole megapixels where that is precise enough; small limits would otherwise print as "0 MP". */
function megapixels(pixels: number): string {
  return pixels >= 10e6 ? (pixels / 1e6).toFixed(0) : String(Number((pixels / 1e6).toPrecision(2)));
}

function clipBox(box: PixelBox, w: number, h: number): PixelBox | undefined {
  const x0 = Math.max(0, Math.floor(box.x));
  const y0 = Math.max(0, Math.floor(box.y));
  const x1 = Math.min(w, Math.ceil(box.x + box.width));
  const y1 = Math.min(h, Math.ceil(box.y + box.height));
  if (!(x1 > x0 && y1 > y0)) return undefined;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

export function classifySharpError(e: unknown, label: string | undefined): ImageInputError {
  const msg = (e as Error)?.message ?? String(e);
  if (/pixel limit/i.test(msg)) return new ImageInputError('too-large', msg, label);
  if (/unsupported image format|bad seek|Input buffer contains unsupported|not a known file format/i.test(msg)) {
    return new ImageInputError('not-an-image', 'not an image in a format Sightline can read', label);
  }
  if (/premature end|truncated|corrupt|invalid|bad huffman|read error|VipsJpeg|pngload|out of order|unexpected end/i.test(msg)) {
    return new ImageInputError('corrupt', `image data is damaged or truncated (${msg.split('\n')[0]})`, label);
  }
  if (/ENOENT|EACCES|EISDIR|EPERM/.test(msg)) return new ImageInputError('unreadable', msg, label);
  // libvips keeps one error buffer for every thread, and another pipeline finishing can empty it
  // before sharp reads it: a truncated JPEG decoded next to others then fails with no words at all.
  if (/^\s*(unknown error)?\s*$/i.test(msg)) return new ImageInputError('corrupt', 'image data is damaged or truncated (the decoder gave no details)', label);
  return new ImageInputError('corrupt', msg.split('\n')[0], label);
}
