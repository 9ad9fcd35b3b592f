// sightline-media://<kind>/<photoId>: how the window gets thumbnails and viewer images. The URL names
// a photo by id and nothing else, so a page that went wrong can ask only for pixels the library
// already shows — never for a path on disk.
import type { CustomScheme, Protocol } from 'electron';
import { MEDIA_KINDS, MEDIA_PROTOCOL, type MediaKind } from '../app/api/transportConstants.js';
import type { MediaBytes } from '../app/api/sightlineService.js';

export interface MediaRequest {
  kind: MediaKind;
  photoId: number;
}

export type ReadMedia = (kind: MediaKind, photoId: number) => Promise<MediaBytes | null>;

/**
 * standard: Chromium parses the URL like http (host = kind), so the renderer's `<img src>` is
 * canonicalised before it reaches us. secure: images from it are not mixed content on our secure
 * app origin. Not corsEnabled: that privilege lets any origin read the scheme's responses
 * (Electron checks no Access-Control-Allow-Origin on them), and `<img>` needs no CORS.
 */
export const MEDIA_SCHEME: CustomScheme = {
  scheme: MEDIA_PROTOCOL,
  privileges: { standard: true, secure: true },
};

// The whole URL is matched at once: a kind, one slash, a decimal id with no sign, no leading zero,
// nothing after it. Anything a path trick needs (`..`, `%2F`, `\`, a second segment, a query) fails.
const MEDIA_URL = new RegExp(`^${MEDIA_PROTOCOL}://([a-z]+)/([1-9][0-9]{0,15})$`);

export function parseMediaUrl(url: string): MediaRequest | null {
  const match = MEDIA_URL.exec(url);
  if (!match) return null;
  const kind = MEDIA_KINDS.find((k) => k === match[1]);
  const photoId = Number(match[2]);
  if (!kind || !Number.isSafeInteger(photoId)) return null;
  return { kind, photoId };
}

const MEDIA_HEADERS = {
  // Thumbnails are rewritten when a photo is re-indexed; a minute of caching spares the core the
  // grid's scroll-back without showing a stale image for long.
  'cache-control': 'private, max-age=60',
  'x-content-type-options': 'nosniff',
};

function textResponse(status: number, message: string): Response {
  return new Response(message, { status, headers: { ...MEDIA_HEADERS, 'content-type': 'text/plain; charset=utf-8' } });
}

/** The protocol handler: a Request in, a Response out, whatever the core does. */
export function createMediaHandler(readMedia: ReadMedia, onError: (error: unknown) => void = () => {}): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return textResponse(405, 'method not allowed');
    const media = parseMediaUrl(request.url);
    if (!media) return textResponse(400, 'not a media URL');
    try {
      const found = await readMedia(media.kind, media.photoId);
      if (!found) return textResponse(404, 'no such photo');
      const headers = { ...MEDIA_HEADERS, 'content-type': found.contentType, 'content-length': String(found.bytes.byteLength) };
      // The bytes came by structured clone, on a plain ArrayBuffer of their own (never a SharedArrayBuffer), as Response wants.
      return new Response(request.method === 'HEAD' ? null : (found.bytes as Uint8Array<ArrayBuffer>), { status: 200, headers });
    } catch (error) {
      onError(error);
      return textResponse(503, 'the Sightline core could not read this photo');
    }
  };
}

/** Serve the scheme (after app ready; the scheme itself is registered as privileged before it). */
export function registerMediaProtocol(protocol: Pick<Protocol, 'handle'>, readMedia: ReadMedia, onError?: (error: unknown) => void): void {
  protocol.handle(MEDIA_PROTOCOL, createMediaHandler(readMedia, onError));
}
