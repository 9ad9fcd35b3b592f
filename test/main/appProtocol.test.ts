import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_INDEX_URL, APP_ORIGIN, CONTENT_SECURITY_POLICY, resolveRendererFile, serveRendererFile } from '../../main/appProtocol.js';

let tmp: string;
let renderer: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-app-protocol-'));
  renderer = path.join(tmp, 'renderer');
  await fs.mkdir(path.join(renderer, 'assets'), { recursive: true });
  await fs.writeFile(path.join(renderer, 'index.html'), '<!doctype html><title>Sightline</title>');
  await fs.writeFile(path.join(renderer, 'assets', 'index-abc.js'), 'export {}');
  await fs.writeFile(path.join(renderer, 'assets', 'a b.css'), 'body{}');
  await fs.writeFile(path.join(tmp, 'secret.txt'), 'outside the renderer');
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('resolveRendererFile', () => {
  it('maps app URLs to files of the build, and the bare origin to index.html', () => {
    expect(resolveRendererFile(renderer, APP_INDEX_URL)).toBe(path.join(renderer, 'index.html'));
    expect(resolveRendererFile(renderer, `${APP_ORIGIN}/`)).toBe(path.join(renderer, 'index.html'));
    expect(resolveRendererFile(renderer, `${APP_ORIGIN}/assets/index-abc.js?v=1`)).toBe(path.join(renderer, 'assets', 'index-abc.js'));
    expect(resolveRendererFile(renderer, `${APP_ORIGIN}/assets/a%20b.css`)).toBe(path.join(renderer, 'assets', 'a b.css'));
  });

  it.each([`${APP_ORIGIN}/../secret.txt`, `${APP_ORIGIN}/assets/../../secret.txt`, `${APP_ORIGIN}/%2e%2e/secret.txt`, `${APP_ORIGIN}/.%2E/secret.txt`])(
    'folds the dot segments of %s inside the build, as Chromium does before asking',
    (url) => {
      expect(resolveRendererFile(renderer, url)).toBe(path.join(renderer, 'secret.txt'));
    },
  );

  it.each([
    `${APP_ORIGIN}/..%2fsecret.txt`,
    `${APP_ORIGIN}/..%2Fsecret.txt`,
    `${APP_ORIGIN}/..%5csecret.txt`,
    `${APP_ORIGIN}/assets%2F..%2F..%2Fsecret.txt`,
    `${APP_ORIGIN}/C:%5CWindows%5Cwin.ini`,
    `${APP_ORIGIN}/index.html%00.js`,
    `${APP_ORIGIN}/%E0%A4%A`,
    `${APP_ORIGIN}//etc/passwd`,
    `${APP_ORIGIN}/assets//index-abc.js`,
    'sightline-app://other/index.html',
    'sightline-app://x@renderer/index.html',
    'file:///etc/passwd',
    'sightline-media://thumb/1',
    'not a url',
  ])('refuses %s', (url) => {
    expect(resolveRendererFile(renderer, url)).toBeNull();
  });
});

describe('serveRendererFile', () => {
  it('serves the page with its type and the CSP', async () => {
    const response = await serveRendererFile(renderer, new Request(APP_INDEX_URL));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(await response.text()).toContain('<title>Sightline</title>');
    const script = await serveRendererFile(renderer, new Request(`${APP_ORIGIN}/assets/index-abc.js`));
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('answers 404 for missing files and for anything outside the build', async () => {
    expect((await serveRendererFile(renderer, new Request(`${APP_ORIGIN}/missing.js`))).status).toBe(404);
    for (const url of [`${APP_ORIGIN}/..%2fsecret.txt`, `${APP_ORIGIN}/../secret.txt`, `${APP_ORIGIN}/assets%2F..%2F..%2Fsecret.txt`]) {
      const escape = await serveRendererFile(renderer, new Request(url));
      expect(escape.status).toBe(404);
      expect(await escape.text()).not.toContain('outside the renderer');
    }
  });

  it('keeps the CSP the brief asks for: scripts and connections from the app only, media from its scheme', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("img-src 'self' data: blob: sightline-media:");
    expect(CONTENT_SECURITY_POLICY).toContain("style-src 'self' 'unsafe-inline'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self';");
    expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline/);
  });
});
