// serve mode's guards, against a real server on a real (small) library: loopback only, the token
// on every call, media and socket, the Host header, and paths that must not escape anything.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { EVENTS_PATH, TOKEN_HEADER, TOKEN_META, type ApiEvent } from '../../app/api/contract.js';
import { SightlineService } from '../../app/api/sightlineService.js';
import { buildDefaultModel } from '../../app/engine/defaultModel.js';
import { ModelRegistry } from '../../app/engine/modelRegistry.js';
import { isAllowedHost, parseMediaPath, startApiServer, staticFileFor, tokensEqual, type RunningApiServer } from '../../app/server/apiServer.js';
import { openCommandFor } from '../../app/server/browserLauncher.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

let tmp: string;
let service: SightlineService;
let server: RunningApiServer;
let photoId: number;

function post(route: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL(route, server.url), { method: 'POST', headers: { 'content-type': 'application/json', [TOKEN_HEADER]: server.token, ...headers }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-server-'));
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  const model = await buildDefaultModel(undefined, new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') }), 'user');
  const photos = path.join(tmp, 'photos');
  await fs.mkdir(photos);
  await fs.copyFile(path.join(DATA, 'near-dup/base_images/ukbench00120.jpg'), path.join(photos, 'a.jpg'));
  const renderer = path.join(tmp, 'renderer');
  await fs.mkdir(path.join(renderer, 'assets'), { recursive: true });
  await fs.writeFile(path.join(renderer, 'index.html'), '<!doctype html><html><head><title>t</title></head><body></body></html>');
  await fs.writeFile(path.join(renderer, 'assets', 'app.js'), 'console.log(1)');
  await fs.writeFile(path.join(tmp, 'secret.txt'), 'outside the renderer');
  service = await SightlineService.open({ dbPath: path.join(tmp, 'data', 'library.db'), model: model.dir, workers: 1, watch: false });
  await service.library.index([photos]);
  photoId = (await service.listPhotos({ offset: 0, limit: 10, sort: 'date', direction: 'asc' })).items[0].id;
  server = await startApiServer({ core: service, rendererDir: renderer, token: 'test-token-0123456789' });
}, 300_000);

afterAll(async () => {
  await server?.close();
  await service?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('serve mode', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('hands the token to the page it serves, under a strict CSP', async () => {
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`<meta name="${TOKEN_META}" content="${server.token}">`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('answers API calls that carry the token, and refuses those that do not', async () => {
    const ok = await post('/api/getStatus', {});
    expect(ok.status).toBe(200);
    expect((await ok.json()).value.photos.indexed).toBe(1);
    expect((await post('/api/getStatus', {}, { [TOKEN_HEADER]: 'wrong' })).status).toBe(403);
    expect((await fetch(new URL('/api/getStatus', server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(403);
    // A form post (no JSON content type) is refused even with the token: no CSRF through simple requests.
    expect((await post('/api/getStatus', {}, { 'content-type': 'text/plain' })).status).toBe(400);
    expect((await post('/api/nope', {})).status).toBe(404);
    const bad = await post('/api/listPhotos', { limit: -1 });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('bad_request');
    const broken = await fetch(new URL('/api/getStatus', server.url), { method: 'POST', headers: { 'content-type': 'application/json', [TOKEN_HEADER]: server.token }, body: '{not json' });
    expect(broken.status).toBe(400);
  });

  it('refuses requests whose Host header is not the loopback address (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(server.url, { method: 'GET', headers: { host: `evil.example:${server.port}` } }, (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
    expect(isAllowedHost(`127.0.0.1:${server.port}`, server.port)).toBe(true);
    expect(isAllowedHost(`localhost:${server.port}`, server.port)).toBe(true);
    expect(isAllowedHost(`127.0.0.1:${server.port + 1}`, server.port)).toBe(false);
    expect(isAllowedHost(undefined, server.port)).toBe(false);
  });

  it('serves photos by id with the token, and 404s ids outside the library and anything path-like', async () => {
    const media = (p: string, token = server.token) => fetch(new URL(`${p}?t=${token}`, server.url));
    const thumb = await media(`/media/thumb/${photoId}`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect((await media(`/media/image/${photoId}`)).headers.get('content-type')).toBe('image/jpeg');
    expect((await media(`/media/image/${photoId}`, 'wrong')).status).toBe(403);
    expect((await media('/media/image/424242')).status).toBe(404);
    for (const p of ['/media/image/0', '/media/image/-1', '/media/image/1.5', '/media/file/1', `/media/image/${photoId}/x`, '/media/image/..%2f..%2fsecret.txt']) {
      expect((await media(p)).status, p).toBe(404);
    }
    expect(parseMediaPath('/media/thumb/7')).toEqual({ kind: 'thumb', photoId: 7 });
    expect(parseMediaPath('/media/thumb/07')).toBeNull();
    expect(parseMediaPath('/media/thumb/99999999999999999')).toBeNull();
  });

  it('serves renderer files and nothing outside its folder', async () => {
    expect((await fetch(new URL('/assets/app.js', server.url))).headers.get('content-type')).toContain('javascript');
    for (const p of ['/../secret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e/secret.txt', '/assets/%00x']) {
      const res = await fetch(new URL(p, server.url).href.replace(/\/secret/, '/secret'));
      expect(res.status, p).toBe(404);
    }
    const root = path.join(tmp, 'renderer');
    expect(staticFileFor(root, '/assets/app.js')).toBe(path.join(root, 'assets', 'app.js'));
    expect(staticFileFor(root, '/../secret.txt')).toBeNull();
    expect(staticFileFor(root, '/assets/%2e%2e/%2e%2e/secret.txt')).toBeNull();
    expect(staticFileFor(root, '/a%5c..%5csecret.txt')).toBeNull();
    expect(staticFileFor(root, '/%E0%A4%A')).toBeNull();
  });

  it('pushes events over a WebSocket only to a client with the token and our origin', async () => {
    const url = `ws://127.0.0.1:${server.port}${EVENTS_PATH}`;
    const refused = (u: string, headers: Record<string, string> = {}) =>
      new Promise<boolean>((resolve) => {
        const ws = new WebSocket(u, { headers });
        ws.on('open', () => (ws.close(), resolve(false)));
        ws.on('error', () => resolve(true));
      });
    expect(await refused(`${url}?t=wrong`)).toBe(true);
    expect(await refused(`${url}?t=${server.token}`, { origin: 'https://evil.example' })).toBe(true);
    const ws = new WebSocket(`${url}?t=${server.token}`, { headers: { origin: `http://127.0.0.1:${server.port}` } });
    const got = new Promise<ApiEvent>((resolve) => ws.on('message', (m) => resolve(JSON.parse(String(m)))));
    await new Promise((r) => ws.on('open', r));
    const photos = (await service.listPhotos({ offset: 0, limit: 1, sort: 'date', direction: 'asc' })).items;
    expect(photos.length).toBe(1);
    await service.startIndexing().catch(() => undefined);
    await service.addFolder({ path: path.dirname(photos[0].path) });
    expect((await got).type).toMatch(/indexing|libraryChanged/);
    ws.close();
  });

  it('tokens compare in constant time and never match a prefix', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'ab')).toBe(false);
    expect(tokensEqual('abc', null)).toBe(false);
  });

  it('opens URLs with each OS’s own launcher', () => {
    expect(openCommandFor('linux', 'http://127.0.0.1:1/')).toEqual({ command: 'xdg-open', args: ['http://127.0.0.1:1/'] });
    expect(openCommandFor('darwin', 'http://127.0.0.1:1/').command).toBe('open');
    expect(openCommandFor('win32', 'http://127.0.0.1:1/?a=1&b=2').args.at(-1)).toBe('http://127.0.0.1:1/?a=1^&b=2');
  });
});
