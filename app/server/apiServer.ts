// `sightline serve`: the app/api contract over HTTP + WebSocket for a browser on this machine.
// Bound to 127.0.0.1 only. Every API call, media request and event socket must carry the random
// token that only the served page receives (other web pages can reach 127.0.0.1 but cannot read
// our responses, so they never learn it), and the Host header must name the loopback address, so a
// DNS-rebinding page cannot pose as us. Photos are served by id only, never by path.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { dispatchApiCall, type DispatchOptions } from '../api/apiDispatcher.js';
import {
  API_PREFIX,
  EVENTS_PATH,
  MEDIA_KINDS,
  MEDIA_PREFIX,
  TOKEN_HEADER,
  TOKEN_META,
  TOKEN_QUERY,
  type ApiErrorCode,
  type ApiEvent,
  type ApiResponse,
  type MediaKind,
  type SightlineApiHandlers,
} from '../api/contract.js';

/** What the server needs of the core: the handlers, its events and media by id. */
export interface ServedCore extends SightlineApiHandlers {
  onEvent(listener: (event: ApiEvent) => void): () => void;
  readMedia(kind: MediaKind, photoId: number): Promise<{ bytes: Uint8Array; contentType: string } | null>;
}

export interface ApiServerOptions {
  core: ServedCore;
  /** The built renderer (index.html + assets). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
  dispatch?: DispatchOptions;
}

export interface RunningApiServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export const LOOPBACK_HOST = '127.0.0.1';
/** Base64 of a 64 MiB upload plus JSON framing. */
const MAX_BODY_BYTES = 90 * 1024 * 1024;

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self' ws://127.0.0.1:* ws://localhost:*; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const STATUS_BY_CODE: Record<ApiErrorCode, number> = { bad_request: 400, not_found: 404, conflict: 409, unavailable: 503, forbidden: 403, internal: 500 };

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

export function tokensEqual(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** The Host header must be our loopback address and port (DNS rebinding defence). */
export function isAllowedHost(host: string | undefined, port: number): boolean {
  return host === `${LOOPBACK_HOST}:${port}` || host === `localhost:${port}`;
}

/**
 * A static file of the renderer for a URL path, or null if the path tries to leave the folder
 * (`..`, encoded separators, NUL) or is not a plain relative path.
 */
export function staticFileFor(rendererDir: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '..' || p === '.')) return null;
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, ...parts);
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  return file;
}

/** `/media/<kind>/<id>` → its parts; null for anything else (paths, `..`, non-integer ids). */
export function parseMediaPath(urlPath: string): { kind: MediaKind; photoId: number } | null {
  const m = /^\/media\/([a-z]+)\/([1-9][0-9]{0,15})$/.exec(urlPath);
  if (!m || !(MEDIA_KINDS as readonly string[]).includes(m[1])) return null;
  const photoId = Number(m[2]);
  return Number.isSafeInteger(photoId) ? { kind: m[1] as MediaKind, photoId } : null;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, code: ApiErrorCode, message: string): void {
  const body: ApiResponse = { ok: false, error: { code, message } };
  sendJson(res, STATUS_BY_CODE[code], body);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new RangeError(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const token = options.token ?? crypto.randomBytes(24).toString('base64url');
  const rendererDir = path.resolve(options.rendererDir);
  const indexHtml = await fs.readFile(path.join(rendererDir, 'index.html'), 'utf8').catch(() => {
    throw new Error(`The UI is not built (${path.join(rendererDir, 'index.html')} is missing): run \`npm run build:renderer\`.`);
  });
  if (!indexHtml.includes('</head>')) throw new Error(`${rendererDir}/index.html has no </head> to put the token before`);
  const page = indexHtml.replace('</head>', `<meta name="${TOKEN_META}" content="${token}">\n</head>`);
  let port = 0;

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((e: Error) => {
      if (!res.headersSent) sendError(res, 'internal', e.message);
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!isAllowedHost(req.headers.host, port)) return sendError(res, 'forbidden', 'wrong Host header');
    const url = new URL(req.url ?? '/', `http://${LOOPBACK_HOST}:${port}`);

    if (url.pathname.startsWith(API_PREFIX)) {
      if (req.method !== 'POST') return sendError(res, 'bad_request', 'API calls are POST requests');
      if (!tokensEqual(token, req.headers[TOKEN_HEADER] as string | undefined)) return sendError(res, 'forbidden', 'missing or wrong token');
      // A JSON content type cannot be sent cross-site without a CORS preflight, which we never answer.
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return sendError(res, 'bad_request', 'API calls must be application/json');
      let input: unknown;
      try {
        const body = await readBody(req);
        input = body.length ? JSON.parse(body.toString('utf8')) : {};
      } catch (e) {
        return sendError(res, 'bad_request', e instanceof RangeError ? e.message : 'the body is not valid JSON');
      }
      const response = await dispatchApiCall(options.core, url.pathname.slice(API_PREFIX.length), input, options.dispatch);
      return sendJson(res, response.ok ? 200 : STATUS_BY_CODE[response.error.code], response);
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 'bad_request', `${req.method} is not served here`);

    if (url.pathname.startsWith(MEDIA_PREFIX)) {
      if (!tokensEqual(token, url.searchParams.get(TOKEN_QUERY))) return sendError(res, 'forbidden', 'missing or wrong token');
      const media = parseMediaPath(url.pathname);
      const found = media && (await options.core.readMedia(media.kind, media.photoId));
      if (!found) return sendError(res, 'not_found', 'no such photo in the library');
      res.writeHead(200, { 'content-type': found.contentType, 'content-length': found.bytes.byteLength, 'cache-control': 'private, max-age=300', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : found.bytes);
      return;
    }

    if (url.pathname === '/' || url.pathname === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }

    const file = staticFileFor(rendererDir, url.pathname);
    const bytes = file && (await fs.readFile(file).catch(() => null));
    if (!file || !bytes) return sendError(res, 'not_found', 'not found');
    res.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': bytes.length, 'x-content-type-options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }

  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK_HOST}:${port}`);
    const origin = req.headers.origin;
    const originOk = origin === undefined || origin === `http://${LOOPBACK_HOST}:${port}` || origin === `http://localhost:${port}`;
    if (url.pathname !== EVENTS_PATH || !isAllowedHost(req.headers.host, port) || !originOk || !tokensEqual(token, url.searchParams.get(TOKEN_QUERY))) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
    });
  });
  const unsubscribe = options.core.onEvent((event) => {
    const text = JSON.stringify(event);
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK_HOST, () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://${LOOPBACK_HOST}:${port}/`,
    port,
    token,
    close: async () => {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
