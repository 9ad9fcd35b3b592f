// The tiny grey signature stored per photo for near-duplicate verification (two 32×32 views,
// see app/search/pixelVerification.ts), made from the pixels the indexer already decoded.
import sharp from 'sharp';
import { TINY_SIDE, TINY_SIGNATURE_BYTES } from '../search/pixelVerification.js';

export async function tinySignature(raw: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Promise<Uint8Array> {
  const grey = sharp(raw, { raw: { width, height, channels } }).greyscale();
  const [squashed, centre] = await Promise.all([
    grey.clone().resize(TINY_SIDE, TINY_SIDE, { fit: 'fill' }).raw().toBuffer(),
    grey.clone().resize(TINY_SIDE, TINY_SIDE, { fit: 'cover' }).raw().toBuffer(),
  ]);
  const out = new Uint8Array(TINY_SIGNATURE_BYTES);
  out.set(squashed.subarray(0, TINY_SIDE * TINY_SIDE), 0);
  out.set(centre.subarray(0, TINY_SIDE * TINY_SIDE), TINY_SIDE * TINY_SIDE);
  return out;
}
