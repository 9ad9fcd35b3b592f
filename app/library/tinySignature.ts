// The tiny grey signature stored per photo for near-duplicate verification (two 32×32 views,
// see app/search/pixelVerification.ts), made from the pixels the indexer already decoded.
// Computed in JS by area averaging (areaResample.ts): two libvips pipelines cost ~10 ms of CPU
// per photo, about a sixth of indexing a 1024-px photo, for 2 KiB of output.
import { TINY_SIDE, TINY_SIGNATURE_BYTES } from '../search/pixelVerification.js';
import { areaResample, lumaOf, toBytes } from './areaResample.js';

/**
 * `frame`: the size of the picture the signature describes when `raw` is a smaller copy of it
 * (the indexer passes the half-size thumbnail pixels of the network input: a quarter of the work,
 * ~0.5 ms instead of ~2). The centre square is placed in the frame's pixels, where libvips cut it,
 * then mapped onto `raw`.
 */
export function tinySignature(raw: Uint8Array, width: number, height: number, channels: 1 | 3 | 4, frame: { width: number; height: number } = { width, height }): Uint8Array {
  const luma = lumaOf(raw, width, height, channels);
  const out = new Uint8Array(TINY_SIGNATURE_BYTES);
  // The whole photo squashed to a square, then its centre square.
  out.set(toBytes(areaResample(luma, width, height, TINY_SIDE, TINY_SIDE)), 0);
  const square = centreSquare(frame.width, frame.height);
  const sx = width / frame.width;
  const sy = height / frame.height;
  const crop = { x: square.x * sx, y: square.y * sy, width: Math.min(square.width * sx, width - square.x * sx), height: Math.min(square.height * sy, height - square.y * sy) };
  out.set(toBytes(areaResample(luma, width, height, TINY_SIDE, TINY_SIDE, crop)), TINY_SIDE * TINY_SIDE);
  return out;
}

/**
 * The centre square where libvips cut it for the signatures stored before this module computed
 * them (sharp's `fit: 'cover'`: scale the short side to 32, round the long side, crop 32 whole
 * pixels from the centre, rounding the offset up). One tiny pixel off drops the correlation of
 * a detailed photo with itself to 0.7, so old and new signatures must be cut at the same place.
 */
function centreSquare(width: number, height: number): { x: number; y: number; width: number; height: number } {
  const landscape = width >= height;
  const long = landscape ? width : height;
  const short = landscape ? height : width;
  const scaledLong = Math.max(TINY_SIDE, Math.round((long * TINY_SIDE) / short));
  const offset = Math.floor((scaledLong - TINY_SIDE + 1) / 2);
  const perTiny = long / scaledLong;
  const start = offset * perTiny;
  const span = TINY_SIDE * perTiny;
  return landscape ? { x: start, y: 0, width: span, height } : { x: 0, y: start, width, height: span };
}
