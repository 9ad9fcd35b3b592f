// ThumbnailCache: sharded, content-addressed names, atomic writes, and refusal of anything that is
// not a content hash (a path in disguise).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThumbnailCache } from '../../app/library/thumbnailCache.js';

const HASH = 'q1:' + 'ab'.padEnd(64, '0123456789abcdef');
const FULL = 'f1:' + 'ab'.padEnd(64, '0123456789abcdef');
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-thumbs-'));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ThumbnailCache', () => {
  it('shards by the first two digest digits and keeps the scheme in the name', () => {
    const cache = new ThumbnailCache(path.join(tmp, 'c1'));
    const digest = HASH.slice(3);
    expect(cache.relativePathFor(HASH)).toBe(`ab/q1-${digest}.jpg`);
    expect(cache.pathFor(HASH)).toBe(path.join(tmp, 'c1', 'ab', `q1-${digest}.jpg`));
    expect(cache.pathFor(FULL)).not.toBe(cache.pathFor(HASH));
  });

  it('puts, has, gets and deletes', async () => {
    const cache = new ThumbnailCache(path.join(tmp, 'c2'));
    expect(await cache.has(HASH)).toBe(false);
    expect(await cache.get(HASH)).toBeUndefined();
    const rel = await cache.put(HASH, Buffer.from('first'));
    expect(rel).toBe(cache.relativePathFor(HASH));
    expect(await cache.has(HASH)).toBe(true);
    expect((await cache.get(HASH))!.toString()).toBe('first');
    await cache.put(HASH, Buffer.from('second, longer'));
    expect((await cache.get(HASH))!.toString()).toBe('second, longer');
    await cache.delete(HASH);
    expect(await cache.has(HASH)).toBe(false);
  });

  it('leaves no temporary files behind, also when many writers race on one thumbnail', async () => {
    const cache = new ThumbnailCache(path.join(tmp, 'c3'));
    const payloads = Array.from({ length: 20 }, (_, i) => Buffer.alloc(10_000 + i, i));
    await Promise.all(payloads.map((p) => cache.put(HASH, p)));
    const got = (await cache.get(HASH))!;
    // Whichever write won, it is whole: never a mixture or a truncated file.
    expect(payloads.some((p) => p.equals(got))).toBe(true);
    expect(fs.readdirSync(path.dirname(cache.pathFor(HASH)))).toEqual([path.basename(cache.pathFor(HASH))]);
  });

  it('names the media type of stored thumbnails, WebP ones of older libraries included', () => {
    expect(ThumbnailCache.contentTypeOf('ab/q1-abcdef0123456789.jpg')).toBe('image/jpeg');
    expect(ThumbnailCache.contentTypeOf('ab/q1-abcdef0123456789.webp')).toBe('image/webp');
  });

  it('deletes a stored thumbnail by its relative path, and refuses anything else', async () => {
    const cache = new ThumbnailCache(path.join(tmp, 'c5'));
    const old = `ab/q1-${HASH.slice(3)}.webp`;
    fs.mkdirSync(path.join(tmp, 'c5', 'ab'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'c5', ...old.split('/')), 'old');
    const rel = await cache.put(HASH, Buffer.from('new'));
    await cache.deleteStored(old);
    expect(fs.readdirSync(path.join(tmp, 'c5', 'ab'))).toEqual([path.basename(rel)]);
    await cache.deleteStored(old);
    for (const bad of ['../x.jpg', 'ab/../../etc/passwd', 'ab/q1-abc.png', '/ab/q1-abcdef0123456789.jpg']) await expect(cache.deleteStored(bad)).rejects.toThrow(RangeError);
  });

  it('makes the shard folder when a write finds it missing, also after the cache was deleted', async () => {
    const cache = new ThumbnailCache(path.join(tmp, 'c6'));
    await cache.put(HASH, Buffer.from('one'));
    fs.rmSync(path.join(tmp, 'c6'), { recursive: true });
    await cache.put(HASH, Buffer.from('two'));
    expect((await cache.get(HASH))!.toString()).toBe('two');
  });

  it('refuses anything that is not a content hash', async () => {
    const cache = new ThumbnailCache(path.join(tmp, 'c4'));
    for (const bad of ['../../etc/passwd', 'q1:../../x', 'q1:ABCDEF0123456789', 'abcdef0123456789abcdef', 'q1:abc', '']) {
      expect(() => cache.pathFor(bad)).toThrow(RangeError);
      await expect(cache.put(bad, Buffer.from('x'))).rejects.toThrow(RangeError);
    }
    expect(fs.existsSync(path.join(tmp, 'c4'))).toBe(false);
  });
});
