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
    expect(cache.relativePathFor(HASH)).toBe(`ab/q1-${digest}.webp`);
    expect(cache.pathFor(HASH)).toBe(path.join(tmp, 'c1', 'ab', `q1-${digest}.webp`));
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

  it('refuses anything that is not a content hash', async () => {
    const cache = new ThumbnailCache(path.join(tmp, 'c4'));
    for (const bad of ['../../etc/passwd', 'q1:../../x', 'q1:ABCDEF0123456789', 'abcdef0123456789abcdef', 'q1:abc', '']) {
      expect(() => cache.pathFor(bad)).toThrow(RangeError);
      await expect(cache.put(bad, Buffer.from('x'))).rejects.toThrow(RangeError);
    }
    expect(fs.existsSync(path.join(tmp, 'c4'))).toBe(false);
  });
});
