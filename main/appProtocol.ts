// sightline-app://renderer/…: the built renderer (dist/renderer), served under an origin of its own
// instead of file://. Under file:// every local file shares the page's origin, so `'self'` in the
// CSP and the IPC sender check would both admit any file on disk; here they admit only the build.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CustomScheme } from 'electron';
import { MEDIA_PROTOCOL } from '../app/api/contract.js';

export const APP_SCHEME = 'sightline-app';
export const APP_HOST = 'renderer';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/** standard + secure: a real origin for 'self', web storage, and module scripts (Vite emits them). */
export const APP_SCHEME_PRIVILEGES: CustomScheme = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  `img-src 'self' data: blob: ${MEDIA_PROTOCOL}:`,
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file under rendererDir that an app URL names, or null for anything that is not plainly a
 * file of the build: another host, an encoded separator, a dot segment, a drive or stream name.
 * WHATWG parsing has already folded `..` and `%2e%2e`; the checks below do not rely on it.
 */
export function resolveRendererFile(rendererDir: string, url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST || parsed.username || parsed.password) return null;
  const rawSegments = parsed.pathname === '/' ? [] : parsed.pathname.split('/').slice(1);
  const segments: string[] = [];
  for (const raw of rawSegments) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === '' || segment === '.' || segment === '..' || /[/\\:\0]/.test(segment)) return null;
    segments.push(segment);
  }
  if (segments.length === 0) segments.push('index.html');
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, ...segments);
  const relative = path.relative(root, file);
  if (!relative || relative.startsWith('..') || path.isAbsolute(relative)) return null;
  return file;
}

function headersFor(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    // A rebuilt renderer must show up on the next start, not after a cache expires.
    'cache-control': 'no-cache',
  };
}

/** The protocol handler for APP_SCHEME: the file, with the CSP on every response. */
export async function serveRendererFile(rendererDir: string, request: Request): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('method not allowed', { status: 405, headers: headersFor('text/plain; charset=utf-8') });
  const file = resolveRendererFile(rendererDir, request.url);
  if (!file) return new Response('not found', { status: 404, headers: headersFor('text/plain; charset=utf-8') });
  let bytes: Buffer;
  try {
    // fs, not net.fetch(file://): Electron's fs reads inside app.asar, and the content type stays ours.
    bytes = await fs.readFile(file);
  } catch {
    return new Response('not found', { status: 404, headers: headersFor('text/plain; charset=utf-8') });
  }
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(bytes), { status: 200, headers: headersFor(contentTypeOf(file)) });
}
