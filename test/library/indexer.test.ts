// Content identity when indexing: files that share size, first and last MiB but differ in the
// middle are told apart by a full hash, byte-identical copies share one photo, even when all of
// them meet in one run (quick hashes are read ahead of the order in which they are recorded).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Library } from '../../app/library/library.js';

let tmp: string;
let library: Library | undefined;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-indexer-'));
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
});

afterAll(async () => {
  await library?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('Indexer identity', () => {
  it('splits same-head-and-tail files by full hash and joins byte-identical copies, in one run', async () => {
    const folder = path.join(tmp, 'photos');
    await fs.mkdir(folder);
    // Noise compresses badly: well over 2 MiB, so the middle lies outside the quick hash.
    const big = await sharp({ create: { width: 1500, height: 1500, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).jpeg({ quality: 100 }).toBuffer();
    expect(big.length).toBeGreaterThan(2.2 * 1024 * 1024);
    const changed = Buffer.from(big);
    changed[changed.length >> 1] ^= 0x01;
    // Names interleave the copies with the changed file, whatever order the scan returns them in.
    await fs.writeFile(path.join(folder, 'a.jpg'), big);
    await fs.writeFile(path.join(folder, 'b.jpg'), changed);
    await fs.writeFile(path.join(folder, 'c.jpg'), big);
    await fs.writeFile(path.join(folder, 'd.jpg'), changed);
    library = await Library.open({ dbPath: path.join(tmp, 'data', 'library.db'), workers: 1 });
    const summary = await library.index([folder]);
    expect(summary.scanned).toBe(4);
    const byName = new Map<string, number>();
    for (const name of ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg']) byName.set(name, library.photos.fileByPath(Buffer.from(path.join(folder, name)))!.photoId);
    expect(byName.get('a.jpg')).toBe(byName.get('c.jpg'));
    expect(byName.get('b.jpg')).toBe(byName.get('d.jpg'));
    expect(byName.get('a.jpg')).not.toBe(byName.get('b.jpg'));
    const hashes = [byName.get('a.jpg')!, byName.get('b.jpg')!].map((id) => library!.photos.get(id)!.contentHash);
    // The first one met keeps its quick hash; the other needed the full one.
    expect(hashes.filter((h) => h.startsWith('q1:'))).toHaveLength(1);
    expect(hashes.filter((h) => h.startsWith('f1:'))).toHaveLength(1);
  });
});
