// The transports' names and limits, apart from the zod schemas so the Electron preload (a bundle
// that must stay small and load fast in every window) and the media protocol can import them alone.
// contract.ts re-exports everything here.

/** Media the core serves by photo id only: thumbnails (256 px WebP) and full images (JPEG, ≤ 2048 px). */
export type MediaKind = 'thumb' | 'image';
export const MEDIA_KINDS: readonly MediaKind[] = ['thumb', 'image'];
/** Long side of the full image the viewer shows; boxes are always in original pixels. */
export const VIEWER_IMAGE_LONG_SIDE = 2048;

/** Electron: the custom protocol for media, `sightline-media://thumb/123`. */
export const MEDIA_PROTOCOL = 'sightline-media';
/** Electron IPC channels. */
export const IPC_CALL_CHANNEL = 'sightline:call';
export const IPC_EVENT_CHANNEL = 'sightline:event';
/** What the preload exposes on `window`, through contextBridge. */
export const BRIDGE_GLOBAL = 'sightline';

/** HTTP (serve mode): the header (or `t` query parameter for media and the WebSocket) holding the token. */
export const TOKEN_HEADER = 'x-sightline-token';
export const TOKEN_QUERY = 't';
/** The served index.html carries the token in `<meta name="sightline-token" content="…">`. */
export const TOKEN_META = 'sightline-token';
/** HTTP routes of serve mode: POST `${API_PREFIX}<method>` with the JSON input as body. */
export const API_PREFIX = '/api/';
/** WebSocket for events: `${EVENTS_PATH}?t=<token>`, each message one ApiEvent as JSON. */
export const EVENTS_PATH = '/api/events';
/** GET `${MEDIA_PREFIX}<kind>/<photoId>?t=<token>`. */
export const MEDIA_PREFIX = '/media/';
