// Local features of one photo: AKAZE keypoints with their binary (MLDB) descriptors, computed by
// OpenCV on a grey copy whose long side is at most S, and reported in the oriented original's
// pixels so that boxes and match lines land on the photo the user sees.
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { ImageInputError } from '../engine/imageErrors.js';
import { classifySharpError, DEFAULT_MAX_PIXELS } from '../engine/imageInput.js';
import { loadOpenCv, type OpenCv } from './openCvRuntime.js';

export interface LocalFeatureOptions {
  /** Long side of the analysed copy in pixels (default 1024). Smaller photos are never upscaled. */
  longSide?: number;
  /** Keep at most this many keypoints, the strongest by detector response (default 2000). */
  maxKeypoints?: number;
}

export const DEFAULT_FEATURE_LONG_SIDE = 1024;
export const DEFAULT_MAX_KEYPOINTS = 2000;
/** Photos whose short side is below this have too little detail to match. */
export const MIN_FEATURE_SIDE = 32;
/**
 * OpenCV's default detector response threshold. Lower ones add weak keypoints that the
 * strongest-2000 cap drops again on ~1024 px photos; they only help on small photos, where the
 * homography was already within a pixel or two of hand-picked points (box.png: 383 keypoints).
 */
const AKAZE_THRESHOLD = 0.001;
/** Bumped whenever the detector, its settings or the layout change: cached features go stale. */
export const FEATURE_FORMAT = 'akaze-mldb-1';

export interface LocalFeatures {
  format: typeof FEATURE_FORMAT;
  /** The oriented original's size. */
  width: number;
  height: number;
  /** Original pixels per analysed pixel (1 when the photo was analysed at full size). */
  scale: number;
  /** Long side of the analysed copy. */
  analysedLongSide: number;
  count: number;
  /** x, y of each keypoint in original pixels, pixel centres at integer coordinates. */
  points: Float32Array;
  /** Diameter of each keypoint's neighbourhood in original pixels. */
  sizes: Float32Array;
  /** Orientation in degrees. */
  angles: Float32Array;
  responses: Float32Array;
  /** `descriptorBytes` bytes per keypoint: 486-bit MLDB strings, padded to whole bytes. */
  descriptors: Uint8Array;
  descriptorBytes: number;
}

export interface GreyImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
}

/**
 * Decodes (EXIF-oriented) and shrinks a photo to grey pixels. Unusable input throws an
 * `ImageInputError` with the same codes the descriptor engine uses.
 */
export async function loadGreyImage(source: string | Uint8Array, longSide: number): Promise<GreyImage> {
  const label = typeof source === 'string' ? source : undefined;
  if (typeof source === 'string') {
    let size: number;
    try {
      const stat = await fs.stat(source);
      if (stat.isDirectory()) throw new ImageInputError('unreadable', 'is a folder, not an image file', label);
      size = stat.size;
    } catch (e) {
      if (e instanceof ImageInputError) throw e;
      throw new ImageInputError('unreadable', `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, label);
    }
    if (size === 0) throw new ImageInputError('empty', 'file is empty (0 bytes)', label);
  } else if (source.length === 0) {
    throw new ImageInputError('empty', 'image data is empty (0 bytes)');
  }
  const input = typeof source === 'string' ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  let rawW: number | undefined;
  let rawH: number | undefined;
  try {
    const meta = await sharp(input, { limitInputPixels: false }).metadata();
    rawW = meta.autoOrient?.width ?? meta.width;
    rawH = meta.autoOrient?.height ?? meta.height;
  } catch (e) {
    throw classifySharpError(e, label);
  }
  if (!rawW || !rawH) throw new ImageInputError('not-an-image', 'no image dimensions in the file header', label);
  if (rawW * rawH > DEFAULT_MAX_PIXELS) throw new ImageInputError('too-large', `${rawW}×${rawH} is above the ${DEFAULT_MAX_PIXELS / 1e6} MP limit`, label);
  if (Math.min(rawW, rawH) < MIN_FEATURE_SIDE) {
    throw new ImageInputError('too-small', `${rawW}×${rawH} is too small to find local features in (short side under ${MIN_FEATURE_SIDE} px)`, label);
  }
  const shrink = Math.max(1, Math.max(rawW, rawH) / longSide);
  const width = Math.max(1, Math.round(rawW / shrink));
  const height = Math.max(1, Math.round(rawH / shrink));
  try {
    const { data, info } = await sharp(input, { autoOrient: true, failOn: 'error', limitInputPixels: DEFAULT_MAX_PIXELS, sequentialRead: true })
      .resize(width, height, { fit: 'fill' })
      .removeAlpha()
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== width || info.height !== height || info.channels !== 1) {
      throw new Error(`decoder returned ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×1`);
    }
    return { pixels: data, width, height, originalWidth: rawW, originalHeight: rawH };
  } catch (e) {
    if ((e as Error).message.startsWith('decoder returned')) throw e;
    throw classifySharpError(e, label);
  }
}

/** AKAZE on already decoded grey pixels (the worker and the in-thread path share it). */
export function detectFeatures(cv: OpenCv, image: GreyImage, maxKeypoints = DEFAULT_MAX_KEYPOINTS): LocalFeatures {
  const mat = new cv.Mat(image.height, image.width, cv.CV_8UC1);
  const noMask = new cv.Mat();
  const keypoints = new cv.KeyPointVector();
  const descriptors = new cv.Mat();
  const akaze = new cv.AKAZE();
  try {
    mat.data.set(image.pixels);
    akaze.setThreshold(AKAZE_THRESHOLD);
    akaze.detectAndCompute(mat, noMask, keypoints, descriptors);
    const found = keypoints.size();
    const descriptorBytes = found > 0 ? descriptors.cols : 61;
    // Descriptors are computed for every keypoint anyway (the nonlinear scale space dominates
    // the cost); the cap bounds the matching cost, which grows with the product of the counts.
    const order = Array.from({ length: found }, (_, i) => i);
    const response = new Float32Array(found);
    for (let i = 0; i < found; i++) response[i] = keypoints.get(i).response;
    order.sort((p, q) => response[q] - response[p] || p - q);
    const count = Math.min(found, maxKeypoints);
    const sx = image.originalWidth / image.width;
    const sy = image.originalHeight / image.height;
    const out: LocalFeatures = {
      format: FEATURE_FORMAT,
      width: image.originalWidth,
      height: image.originalHeight,
      scale: Math.max(sx, sy),
      analysedLongSide: Math.max(image.width, image.height),
      count,
      points: new Float32Array(2 * count),
      sizes: new Float32Array(count),
      angles: new Float32Array(count),
      responses: new Float32Array(count),
      descriptors: new Uint8Array(count * descriptorBytes),
      descriptorBytes,
    };
    const all = descriptors.data;
    for (let r = 0; r < count; r++) {
      const i = order[r];
      const k = keypoints.get(i);
      // Pixel centres sit at integers in both images, so the mapping goes through pixel edges.
      out.points[2 * r] = (k.pt.x + 0.5) * sx - 0.5;
      out.points[2 * r + 1] = (k.pt.y + 0.5) * sy - 0.5;
      out.sizes[r] = k.size * Math.max(sx, sy);
      out.angles[r] = k.angle;
      out.responses[r] = k.response;
      out.descriptors.set(all.subarray(i * descriptorBytes, (i + 1) * descriptorBytes), r * descriptorBytes);
    }
    return out;
  } finally {
    akaze.delete();
    descriptors.delete();
    keypoints.delete();
    noMask.delete();
    mat.delete();
  }
}

/**
 * Local features of a photo, computed in this thread (MatchPool runs the same code in worker
 * threads). Unusable images throw `ImageInputError`; an image without texture yields 0 keypoints.
 */
export async function extractFeatures(source: string | Uint8Array, opts: LocalFeatureOptions = {}): Promise<LocalFeatures> {
  const [cv, image] = await Promise.all([loadOpenCv(), loadGreyImage(source, opts.longSide ?? DEFAULT_FEATURE_LONG_SIDE)]);
  return detectFeatures(cv, image, opts.maxKeypoints ?? DEFAULT_MAX_KEYPOINTS);
}

/** A features object with no keypoints, for photos that could not be analysed. */
export function emptyFeatures(width: number, height: number): LocalFeatures {
  return {
    format: FEATURE_FORMAT,
    width,
    height,
    scale: 1,
    analysedLongSide: Math.max(width, height),
    count: 0,
    points: new Float32Array(0),
    sizes: new Float32Array(0),
    angles: new Float32Array(0),
    responses: new Float32Array(0),
    descriptors: new Uint8Array(0),
    descriptorBytes: 61,
  };
}

const MAGIC = 'SLF1';

/** One self-describing buffer (a JSON header, then the arrays) for the on-disk feature cache. */
export function encodeLocalFeatures(f: LocalFeatures): Uint8Array {
  const header = Buffer.from(JSON.stringify({
    format: f.format,
    width: f.width,
    height: f.height,
    scale: f.scale,
    analysedLongSide: f.analysedLongSide,
    count: f.count,
    descriptorBytes: f.descriptorBytes,
  }));
  const parts: Uint8Array[] = [
    Buffer.from(MAGIC),
    new Uint8Array(new Uint32Array([header.length]).buffer),
    header,
    ...[f.points, f.sizes, f.angles, f.responses].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)),
    f.descriptors,
  ];
  return Buffer.concat(parts);
}

export function decodeLocalFeatures(bytes: Uint8Array): LocalFeatures {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || buf.toString('latin1', 0, 4) !== MAGIC) throw new Error('not a Sightline feature file');
  const headerLength = buf.readUInt32LE(4);
  const header = JSON.parse(buf.toString('utf8', 8, 8 + headerLength)) as Omit<LocalFeatures, 'points' | 'sizes' | 'angles' | 'responses' | 'descriptors'>;
  if (header.format !== FEATURE_FORMAT) throw new Error(`feature file format ${String(header.format)}, expected ${FEATURE_FORMAT}`);
  const n = header.count;
  const expected = 8 + headerLength + n * 4 * 5 + n * header.descriptorBytes;
  if (buf.length !== expected) throw new Error(`feature file is ${buf.length} bytes, expected ${expected}`);
  // Copies: the arrays must own aligned buffers of their own to be transferable to workers.
  let at = 8 + headerLength;
  const floats = (len: number) => {
    const out = new Float32Array(len);
    new Uint8Array(out.buffer).set(buf.subarray(at, at + 4 * len));
    at += 4 * len;
    return out;
  };
  const points = floats(2 * n);
  const sizes = floats(n);
  const angles = floats(n);
  const responses = floats(n);
  const descriptors = new Uint8Array(buf.subarray(at, at + n * header.descriptorBytes));
  return { ...header, points, sizes, angles, responses, descriptors };
}
