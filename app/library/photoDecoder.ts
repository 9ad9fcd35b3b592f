// Decodes a photo once for everything the library needs from its pixels: the network's input, the
// thumbnail and a sharpness score. Decoding dominates the cost of indexing (a 12 MP JPEG is
// ~36 MB of pixels), so the file is decoded a single time, straight to the largest size anything
// needs: sharp's shrink-on-load lets libjpeg and libwebp skip most of the work when the target is
// small. Everything smaller is derived from those already-decoded pixels rather than from the file
// (sharp's clone() would share the input but run the decoder once per output).
import sharp, { type Metadata, type Sharp } from 'sharp';
import { ImageInputError } from '../engine/imageErrors.js';
import { classifySharpError, DEFAULT_MAX_PIXELS } from '../engine/imageInput.js';
import { halvePacked, isHalf } from './areaResample.js';
import { sniffImageType, type ImageKind } from './imageSniffer.js';
import { sharpnessOf } from './sharpnessScore.js';
import { tinySignature } from './tinySignature.js';

export interface DecodeOptions {
  /** Long side of the network input in pixels; smaller photos are upscaled to it, as the engine does. */
  networkLongSide: number;
  /** Long side of the thumbnail (default 256); never larger than the photo itself. */
  thumbnailLongSide?: number;
  /** Refuse photos with more pixels than this before decoding any (default 100 MP). */
  maxPixels?: number;
  /** Refuse photos whose short side is below this (default 32, the engine's own limit: one feature cell). */
  minSide?: number;
}

export interface DecodedPhoto {
  /** The oriented original's size. */
  width: number;
  height: number;
  /** What the file is: the sniffed kind where we know it, else the decoder's name for it. */
  format: string;
  /**
   * Raw sRGB, 3 channels, no alpha, oriented, long side = networkLongSide. Byte for byte what
   * loadNetworkInput decodes from the same file, so a photo indexed here and the same photo used
   * as a query get the same descriptor.
   */
  network: { data: Uint8Array; width: number; height: number };
  /** JPEG, oriented, long side thumbnailLongSide (or the photo's own, if smaller). */
  thumbnail: Buffer;
  /**
   * Variance of the 4-neighbour Laplacian over a grey copy with long side SHARPNESS_LONG_SIDE
   * (less if the network input is smaller), in 0–255 grey levels (sharpnessScore.ts). Higher is
   * crisper. A fixed analysis size keeps scores comparable between photos of different
   * resolutions. Only meaningful to rank near-duplicates of one scene (which of these five shots
   * to keep): a sharp photo of fog still scores low.
   */
  sharpness: number;
  /** The near-duplicate signature of the network input (tinySignature.ts). */
  tiny: Uint8Array;
}

export const SHARPNESS_LONG_SIDE = 384;
// Thumbnails are baseline JPEG, halved from the network input (2×2 means, areaResample.ts) where
// the sizes allow (they do for every photo of 256 px or more at the default sizes): a libvips
// resize plus a WebP encode cost ~5.5 ms of CPU per photo, a tenth of indexing a 1024-px photo,
// against ~1.5 ms, for files ~20 % larger (10 KiB at 256 px).
const THUMBNAIL_QUALITY = 80;

// Formats the scanner recognises but prebuilt sharp cannot decode: its libheif has the AV1
// decoder only (HEVC is patent-encumbered), and it has neither ImageMagick (BMP) nor libjxl. A
// custom libvips build that has the loader (`decoder`, as named in sharp.format) gets the normal
// error classification; HEIC support cannot be seen there, so HEIC failures always say this.
const UNDECODABLE: Partial<Record<ImageKind, { message: string; decoder?: string }>> = {
  heic: { message: 'HEIC (HEVC) photos cannot be decoded by this build of Sightline; convert them to JPEG or AVIF' },
  bmp: { message: 'BMP images cannot be decoded by this build of Sightline; convert them to PNG or JPEG', decoder: 'magick' },
  jxl: { message: 'JPEG XL images cannot be decoded by this build of Sightline', decoder: 'jxl' },
};

function undecodableMessage(kind: ImageKind | undefined): string | undefined {
  const entry = kind && UNDECODABLE[kind];
  if (!entry) return undefined;
  const formats = sharp.format as unknown as Record<string, { input?: { buffer?: boolean } } | undefined>;
  return entry.decoder && formats[entry.decoder]?.input?.buffer ? undefined : entry.message;
}

export async function decodePhoto(data: Buffer, opts: DecodeOptions): Promise<DecodedPhoto> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const minSide = opts.minSide ?? 32;
  const thumbLongSide = opts.thumbnailLongSide ?? 256;
  const S = opts.networkLongSide;
  if (!(Number.isInteger(S) && S > 0)) throw new RangeError(`networkLongSide must be a positive integer, got ${S}`);
  if (data.length === 0) throw new ImageInputError('empty', 'image data is empty (0 bytes)');

  const kind = sniffImageType(data);
  const classify = (e: unknown) => {
    // The decoder's own words for a format it was never built for ("unsupported image format")
    // would tell the user the file is not an image at all.
    const undecodable = undecodableMessage(kind);
    return undecodable ? new ImageInputError('not-an-image', undecodable) : classifySharpError(e, undefined);
  };

  let meta: Metadata;
  try {
    // The header only: a file claiming 30000×30000 is refused below before a pixel is decoded.
    meta = await sharp(data, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw classify(e);
  }
  const W = meta.autoOrient?.width ?? meta.width;
  const H = meta.autoOrient?.height ?? meta.height;
  if (!W || !H) throw new ImageInputError('not-an-image', 'no image dimensions in the file header');
  if (W * H > maxPixels) {
    throw new ImageInputError('too-large', `${W}×${H} is ${megapixels(W * H)} MP, above the ${megapixels(maxPixels)} MP limit`);
  }
  if (Math.min(W, H) < minSide) throw new ImageInputError('too-small', `${W}×${H} is smaller than one feature cell (${minSide} px)`);

  // Same rounding as loadNetworkInput, so both paths produce the same pixel grid.
  const netScale = Math.max(W, H) / S;
  const netW = Math.max(1, Math.round(W / netScale));
  const netH = Math.max(1, Math.round(H / netScale));
  const thumbScale = Math.max(W, H) / Math.min(thumbLongSide, Math.max(W, H));
  const thumbW = Math.max(1, Math.round(W / thumbScale));
  const thumbH = Math.max(1, Math.round(H / thumbScale));

  try {
    const open = () => sharp(data, { autoOrient: true, failOn: 'error', limitInputPixels: maxPixels, sequentialRead: true });
    let network: { data: Buffer; width: number; height: number };
    let base: { data: Buffer; width: number; height: number };
    if (Math.max(netW, netH) >= Math.max(thumbW, thumbH)) {
      network = await decodeRgb(open().resize(netW, netH, { fit: 'fill' }));
      base = network;
    } else {
      // A network input smaller than the thumbnail: decode at thumbnail size, derive the network input.
      base = await decodeRgb(open().resize(thumbW, thumbH, { fit: 'fill' }));
      network = await decodeRgb(fromRaw(base).resize(netW, netH, { fit: 'fill' }));
    }
    const half = isHalf(base.width, thumbW) && isHalf(base.height, thumbH)
      ? { data: Buffer.from(halvePacked(base.data, base.width, base.height, 3, thumbW, thumbH).buffer), width: thumbW, height: thumbH }
      : undefined;
    const thumbPixels = half ?? base;
    const thumbSource = fromRaw(thumbPixels);
    const encoding = (thumbPixels.width === thumbW && thumbPixels.height === thumbH ? thumbSource : thumbSource.resize(thumbW, thumbH, { fit: 'fill' })).jpeg({ quality: THUMBNAIL_QUALITY }).toBuffer();
    // Here while libvips encodes the thumbnail: the same grey copy and score as the libvips
    // pipeline it replaces, byte for byte (sharpnessScore.ts), for a fifth of its CPU.
    const sharpness = sharpnessOf(base.data, base.width, base.height, SHARPNESS_LONG_SIDE);
    const thumbnail = await encoding;
    // The signature describes the network input; its half-size copy, where there is one, gives
    // the same averages for a quarter of the work.
    const tiny = half ? tinySignature(half.data, half.width, half.height, 3, network) : tinySignature(network.data, network.width, network.height, 3);
    return {
      width: W,
      height: H,
      format: kind ?? meta.format,
      tiny,
      network: { data: new Uint8Array(network.data.buffer, network.data.byteOffset, network.data.byteLength), width: network.width, height: network.height },
      thumbnail,
      sharpness,
    };
  } catch (e) {
    if (e instanceof ImageInputError) throw e;
    throw classify(e);
  }
}

/** The pipeline's output as packed 8-bit sRGB, whatever the input was (grey, CMYK, alpha, 16-bit). */
async function decodeRgb(pipeline: Sharp): Promise<{ data: Buffer; width: number; height: number }> {
  // The same operations, in the same order, as loadNetworkInput.
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return { data, width: info.width, height: info.height };
  if (info.channels !== 1) throw new Error(`decoder returned ${info.channels} channels`);
  const rgb = Buffer.allocUnsafe(data.length * 3);
  for (let i = 0; i < data.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = data[i];
  return { data: rgb, width: info.width, height: info.height };
}

function fromRaw(img: { data: Buffer; width: number; height: number }): Sharp {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
}

/** Whole megapixels where that is precise enough; a small limit would otherwise print as "0 MP". */
function megapixels(pixels: number): string {
  return pixels >= 10e6 ? (pixels / 1e6).toFixed(0) : String(Number((pixels / 1e6).toPrecision(2)));
}
