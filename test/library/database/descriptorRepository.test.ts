import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DescriptorRepository } from '../../../app/library/database/descriptorRepository.js';
import { FolderRepository } from '../../../app/library/database/folderRepository.js';
import { openLibraryDatabase, writeTransaction, type Database } from '../../../app/library/database/libraryDatabase.js';
import { PhotoRepository } from '../../../app/library/database/photoRepository.js';

let dir: string;
let db: Database;
let photos: PhotoRepository;
let descriptors: DescriptorRepository;

let nextHash = 0;
const hash = (n: number) => n.toString(16).padStart(64, '0');

/** Deterministic, distinct values per (photo, component) so a misplaced row or byte shows. */
function vectorFor(seed: number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let j = 0; j < dim; j++) v[j] = Math.sin(seed * 7.31 + j * 0.017) * (1 + (seed % 13)) + j / 1024;
  return v;
}

function addPhotos(n: number, status: 'indexed' | 'pending' = 'indexed'): number[] {
  return writeTransaction(db, () => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const { id } = photos.upsertByHash({ contentHash: hash(++nextHash), size: 1 });
      if (status === 'indexed') photos.setIndexed(id, {});
      ids.push(id);
    }
    return ids;
  });
}

beforeEach(() => {
  nextHash = 1000;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-desc-'));
  db = openLibraryDatabase(path.join(dir, 'library.db'));
  photos = new PhotoRepository(db);
  descriptors = new DescriptorRepository(db);
});
afterEach(() => {
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('DescriptorRepository', () => {
  it('put/get round-trips the vector bit for bit, with regions, and replaces on a second put', () => {
    const [id] = addPhotos(1);
    const v = vectorFor(1, 512);
    v[3] = -0; v[4] = Number.MIN_VALUE; v[5] = 3.4e38;
    const regions = new Uint8Array([1, 2, 3, 250, 251]);
    descriptors.put(id, 'resnet50-rmac@1', v, regions, '2024-01-01T00:00:00.000Z');
    const row = descriptors.get(id, 'resnet50-rmac@1')!;
    expect(row).toMatchObject({ photoId: id, modelId: 'resnet50-rmac@1', dim: 512, createdAt: '2024-01-01T00:00:00.000Z' });
    expect(row.vector).toBeInstanceOf(Float32Array);
    expect(Buffer.from(row.vector.buffer).equals(Buffer.from(v.buffer))).toBe(true);
    expect(Object.is(row.vector[3], -0)).toBe(true);
    expect([...row.regions!]).toEqual([1, 2, 3, 250, 251]);

    // A view into a larger buffer stores only its own bytes.
    const big = new Float32Array(1000).fill(9);
    const view = new Float32Array(big.buffer, 40, 8).fill(0.5);
    descriptors.put(id, 'resnet50-rmac@1', view);
    const replaced = descriptors.get(id, 'resnet50-rmac@1')!;
    expect(replaced.dim).toBe(8);
    expect([...replaced.vector]).toEqual(Array(8).fill(0.5));
    expect(replaced.regions).toBeNull();
    expect(descriptors.get(id, 'other-model')).toBeUndefined();
    expect(() => descriptors.put(id, 'm', new Float32Array(0))).toThrow(/empty/);
  });

  it('staleOrMissing lists indexed photos without a descriptor for that model', () => {
    const [a, b, c] = addPhotos(3);
    const [pending] = addPhotos(1, 'pending');
    descriptors.put(a, 'm1', vectorFor(a, 4));
    descriptors.put(b, 'm2', vectorFor(b, 4));
    expect(descriptors.staleOrMissing('m1', 10)).toEqual([b, c]);
    expect(descriptors.staleOrMissing('m2', 10)).toEqual([a, c]);
    expect(descriptors.staleOrMissing('m1', 1)).toEqual([b]);
    expect(descriptors.staleOrMissing('m3', 10)).toEqual([a, b, c]);
    expect(descriptors.staleOrMissing('m3', 10)).not.toContain(pending);
  });

  it('loadAll returns one contiguous n×dim block whose rows match their ids (2k × 512)', () => {
    const n = 2000;
    const dim = 512;
    const ids = addPhotos(n);
    // Shuffled insertion order, and another model interleaved, to check that rows follow ids.
    const order = ids.map((id, i) => [id, (i * 7919) % n] as const).sort((x, y) => x[1] - y[1]).map(([id]) => id);
    writeTransaction(db, () => {
      for (const id of order) {
        descriptors.put(id, 'm512', vectorFor(id, dim), new Uint8Array(4096).fill(id & 0xff));
        if (id % 3 === 0) descriptors.put(id, 'm128', vectorFor(-id, 128));
      }
    });
    const { ids: got, dim: gotDim, matrix } = descriptors.loadAll('m512');
    expect(gotDim).toBe(dim);
    expect(got).toBeInstanceOf(Int32Array);
    expect(got.length).toBe(n);
    expect(matrix).toBeInstanceOf(Float32Array);
    expect(matrix.length).toBe(n * dim);
    expect([...got]).toEqual([...ids].sort((x, y) => x - y));
    for (let i = 0; i < n; i++) {
      const expected = vectorFor(got[i], dim);
      const row = matrix.subarray(i * dim, (i + 1) * dim);
      if (!Buffer.from(row.buffer, row.byteOffset, row.byteLength).equals(Buffer.from(expected.buffer))) {
        throw new Error(`row ${i} (photo ${got[i]}) does not hold its vector`);
      }
    }
    const small = descriptors.loadAll('m128');
    expect(small.dim).toBe(128);
    expect(small.ids.length).toBe(ids.filter((id) => id % 3 === 0).length);
    expect([...small.matrix.subarray(0, 128)]).toEqual([...vectorFor(-small.ids[0], 128)]);
  });

  it('loadAll leaves out photos that are not indexed unless asked, and is empty for an unknown model', () => {
    const [a, b] = addPhotos(2);
    descriptors.put(a, 'm', vectorFor(a, 8));
    descriptors.put(b, 'm', vectorFor(b, 8));
    photos.setStatus(b, 'gone');
    expect([...descriptors.loadAll('m').ids]).toEqual([a]);
    expect([...descriptors.loadAll('m', { onlyIndexed: false }).ids]).toEqual([a, b]);
    expect(descriptors.loadAll('nothing')).toEqual({ ids: new Int32Array(0), dim: 0, matrix: new Float32Array(0) });
  });

  it('loadAll refuses a model whose rows disagree on dim', () => {
    const [a, b] = addPhotos(2);
    descriptors.put(a, 'm', vectorFor(a, 8));
    descriptors.put(b, 'm', vectorFor(b, 16));
    expect(() => descriptors.loadAll('m')).toThrow(/mixed dimensions/);
  });

  it('the schema refuses a blob whose length disagrees with dim', () => {
    const [a] = addPhotos(1);
    expect(() =>
      db.prepare(`INSERT INTO descriptors (photo_id, model_id, dim, vector, created_at) VALUES (?, 'm', 4, ?, 't')`).run(a, Buffer.alloc(12)),
    ).toThrow(/CHECK/);
  });

  it('deleteForModel removes that model only; deleting a photo cascades to its descriptors', () => {
    const [a, b] = addPhotos(2);
    descriptors.put(a, 'm1', vectorFor(a, 4));
    descriptors.put(b, 'm1', vectorFor(b, 4));
    descriptors.put(a, 'm2', vectorFor(a, 4));
    expect(descriptors.count('m1')).toBe(2);
    expect(descriptors.count('m2')).toBe(1);
    expect(descriptors.deleteForModel('m1')).toBe(2);
    expect(descriptors.count('m1')).toBe(0);
    expect(descriptors.get(a, 'm1')).toBeUndefined();
    expect(descriptors.get(a, 'm2')).toBeDefined();
    db.prepare(`DELETE FROM photos WHERE id = ?`).run(a);
    expect(descriptors.get(a, 'm2')).toBeUndefined();
    expect(() => descriptors.put(987654, 'm1', vectorFor(1, 4))).toThrow(/FOREIGN KEY/);
  });

  it('descriptors survive a move: same content hash, new path, same photo id', () => {
    const folderId = new FolderRepository(db).add('/p').id;
    const { id } = photos.upsertByHash({ contentHash: hash(42), size: 1 });
    photos.upsertFile({ photoId: id, folderId, path: Buffer.from('/p/a.jpg'), displayPath: '/p/a.jpg', size: 1, mtimeMs: 1, seenAt: 'T0' });
    photos.setIndexed(id, {});
    descriptors.put(id, 'm', vectorFor(id, 4));
    const again = photos.upsertByHash({ contentHash: hash(42), size: 1 });
    photos.upsertFile({ photoId: again.id, folderId, path: Buffer.from('/p/b.jpg'), displayPath: '/p/b.jpg', size: 1, mtimeMs: 1, seenAt: 'T1' });
    photos.markMissingFilesGone(folderId, 'T1');
    expect(again.id).toBe(id);
    expect([...descriptors.loadAll('m').ids]).toEqual([id]);
    expect(descriptors.staleOrMissing('m', 10)).toEqual([]);
  });
});
