// quickHash / fullHash against an independent computation of the documented recipe, around the
// 2 MiB boundary where the recipe switches from "whole file" to "head + tail".
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileChangedError, fullHash, hashesDiffer, quickHash } from '../../app/library/contentHash.js';

const MIB = 1024 * 1024;
let tmp: string;

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function write(name: string, data: Buffer): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, data);
  return p;
}

function expectedQuick(data: Buffer): string {
  const h = crypto.createHash('sha256').update(`${data.length}\n`);
  if (data.length <= 2 * MIB) h.update(data);
  else h.update(data.subarray(0, MIB)).update(data.subarray(data.length - MIB));
  return 'q1:' + h.digest('hex');
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-hash-'));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('quickHash', () => {
  it.each([1, 1000, 2 * MIB - 1, 2 * MIB, 2 * MIB + 1, 5 * MIB + 123])('follows the recipe for %i bytes', async (n) => {
    const data = bytes(n, n);
    const p = write(`f${n}`, data);
    expect(await quickHash(p, n)).toBe(expectedQuick(data));
    expect(await quickHash(Buffer.from(p), n)).toBe(expectedQuick(data));
  });

  it('hashes an empty file', async () => {
    const p = write('empty', Buffer.alloc(0));
    expect(await quickHash(p, 0)).toBe(expectedQuick(Buffer.alloc(0)));
  });

  it('sees a change of size, of the head or of the tail, and misses one in the middle (by design)', async () => {
    const base = bytes(4 * MIB, 7);
    const q = async (name: string, d: Buffer) => quickHash(write(name, d), d.length);
    const original = await q('orig', base);
    const head = Buffer.from(base);
    head[10] ^= 1;
    const tail = Buffer.from(base);
    tail[tail.length - 10] ^= 1;
    const middle = Buffer.from(base);
    middle[2 * MIB] ^= 1;
    expect(await q('head', head)).not.toBe(original);
    expect(await q('tail', tail)).not.toBe(original);
    expect(await q('longer', Buffer.concat([base, Buffer.from([0])]))).not.toBe(original);
    expect(await q('middle', middle)).toBe(original);
    // That is the case the caller settles with hashesDiffer / fullHash.
    expect(await hashesDiffer(path.join(tmp, 'orig'), path.join(tmp, 'middle'))).toBe(true);
    expect(await fullHash(path.join(tmp, 'middle'))).not.toBe(await fullHash(path.join(tmp, 'orig')));
  });

  it('refuses to hash a file whose size is no longer the scanned one', async () => {
    const p = write('grown', bytes(1000, 3));
    await expect(quickHash(p, 900)).rejects.toBeInstanceOf(FileChangedError);
  });

  it('rejects with the fs error for a missing file', async () => {
    await expect(quickHash(path.join(tmp, 'nope'), 10)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('fullHash and hashesDiffer', () => {
  it('is f1: + sha256 of the whole file', async () => {
    const data = bytes(3 * MIB + 5, 11);
    const p = write('full', data);
    expect(await fullHash(p)).toBe('f1:' + crypto.createHash('sha256').update(data).digest('hex'));
    expect(await fullHash(Buffer.from(p))).toBe(await fullHash(p));
  });

  it('tells copies from different files', async () => {
    const data = bytes(10_000, 5);
    const a = write('a', data);
    const b = write('b-copy', data);
    const c = write('c-shorter', data.subarray(1));
    expect(await hashesDiffer(a, b)).toBe(false);
    expect(await hashesDiffer(a, c)).toBe(true);
  });
});
