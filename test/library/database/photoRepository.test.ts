import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderRepository } from '../../../app/library/database/folderRepository.js';
import { openLibraryDatabase, writeTransaction, type Database } from '../../../app/library/database/libraryDatabase.js';
import { PhotoRepository, type UpsertFileInput } from '../../../app/library/database/photoRepository.js';

let dir: string;
let db: Database;
let photos: PhotoRepository;
let folderId: number;

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-02T10:00:00.000Z';
const T2 = '2024-05-03T10:00:00.000Z';
const hash = (n: number) => n.toString(16).padStart(64, '0');
const p = (s: string) => Buffer.from(s);

function file(photoId: number, rawPath: Buffer, over: Partial<UpsertFileInput> = {}): UpsertFileInput {
  return { photoId, folderId, path: rawPath, displayPath: rawPath.toString(), size: 1000, mtimeMs: 1_700_000_000_000, seenAt: T0, ...over };
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-photos-'));
  db = openLibraryDatabase(path.join(dir, 'library.db'));
  photos = new PhotoRepository(db);
  folderId = new FolderRepository(db).add('/photos', T0).id;
});
afterEach(() => {
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(db.pragma('foreign_key_check')).toEqual([]);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('PhotoRepository: photos', () => {
  it('upsertByHash creates a pending photo once and then returns the same id', () => {
    const a = photos.upsertByHash({ contentHash: hash(1), size: 1234, at: T0 });
    expect(a.created).toBe(true);
    expect(photos.upsertByHash({ contentHash: hash(1), size: 1234, at: T1 })).toEqual({ id: a.id, created: false });
    const b = photos.upsertByHash({ contentHash: hash(2), size: 99 });
    expect(b.created).toBe(true);
    expect(b.id).not.toBe(a.id);

    const row = photos.get(a.id)!;
    expect(row).toMatchObject({ id: a.id, contentHash: hash(1), size: 1234, status: 'pending', updatedAt: T0, indexedAt: null, width: null });
    expect(photos.getByHash(hash(1))).toEqual(row);
    expect(photos.get(9999)).toBeUndefined();
    expect(photos.getByHash('nope')).toBeUndefined();
  });

  it('setIndexed stores what indexing found and clears an earlier failure; setFailed keeps it', () => {
    const { id } = photos.upsertByHash({ contentHash: hash(1), size: 10, at: T0 });
    expect(photos.setFailed(id, 'decode', 'truncated JPEG', T0)).toBe(true);
    expect(photos.get(id)).toMatchObject({ status: 'failed', errorCode: 'decode', errorMessage: 'truncated JPEG' });

    const fields = {
      width: 4032, height: 3024, format: 'jpeg', takenAt: '2023-07-14T18:03:11.000Z', cameraMake: 'Canon', cameraModel: 'EOS R6',
      gpsLat: 48.8584, gpsLon: 2.2945, orientation: 6, sharpness: 0.731, thumbnail: 'ab/cdef.webp',
    };
    expect(photos.setIndexed(id, fields, T1)).toBe(true);
    expect(photos.get(id)).toEqual({
      id, contentHash: hash(1), size: 10, ...fields, status: 'indexed', errorCode: null, errorMessage: null, indexedAt: T1, updatedAt: T1, tiny: null,
    });

    photos.setFailed(id, 'engine', 'onnx crashed', T2);
    expect(photos.get(id)).toMatchObject({ status: 'failed', errorCode: 'engine', width: 4032, indexedAt: T1, updatedAt: T2 });

    expect(photos.setStatus(id, 'pending', T2)).toBe(true);
    expect(photos.get(id)!.status).toBe('pending');
    expect(() => photos.setStatus(id, 'bogus' as never)).toThrow(/CHECK/);
    expect(photos.setIndexed(424242, {})).toBe(false);
  });

  it('countByStatus counts every status (zeros included) and pendingPhotos is the oldest-first queue', () => {
    const ids = [1, 2, 3, 4, 5].map((n) => photos.upsertByHash({ contentHash: hash(n), size: n }).id);
    photos.setIndexed(ids[0], {});
    photos.setFailed(ids[1], 'x', 'y');
    expect(photos.countByStatus()).toEqual({ pending: 3, indexed: 1, failed: 1, gone: 0 });
    expect(photos.pendingPhotos(2).map((r) => r.id)).toEqual([ids[2], ids[3]]);
    expect(photos.pendingPhotos(10).map((r) => r.id)).toEqual([ids[2], ids[3], ids[4]]);
  });

  it('list filters by status, pages, and orders by id, taken_at (undated last) or path', () => {
    const mk = (n: number, takenAt: string | null, name: string) => {
      const { id } = photos.upsertByHash({ contentHash: hash(n), size: n });
      photos.upsertFile(file(id, p(`/photos/${name}`)));
      photos.setIndexed(id, { takenAt });
      return id;
    };
    const a = mk(1, '2022-01-01T00:00:00.000Z', 'c.jpg');
    const b = mk(2, null, 'a.jpg');
    const c = mk(3, '2021-01-01T00:00:00.000Z', 'b.jpg');
    const d = photos.upsertByHash({ contentHash: hash(4), size: 4 }).id; // pending, no file

    const ids = (o: Parameters<PhotoRepository['list']>[0]) => photos.list(o).map((r) => r.id);
    expect(ids({ orderBy: 'id', limit: 10 })).toEqual([a, b, c, d]);
    expect(ids({ orderBy: 'id', limit: 10, direction: 'desc' })).toEqual([d, c, b, a]);
    expect(ids({ orderBy: 'id', limit: 2, offset: 1 })).toEqual([b, c]);
    expect(ids({ orderBy: 'taken_at', limit: 10, status: 'indexed' })).toEqual([c, a, b]);
    expect(ids({ orderBy: 'taken_at', limit: 10, status: 'indexed', direction: 'desc' })).toEqual([a, c, b]);
    expect(ids({ orderBy: 'path', limit: 10 })).toEqual([b, c, a, d]);
    expect(ids({ orderBy: 'path', limit: 10, status: 'pending' })).toEqual([d]);
    expect(ids({ orderBy: 'path', limit: 10, status: 'gone' })).toEqual([]);
    expect(photos.list({ orderBy: 'id', limit: 1 })[0]).toEqual(photos.get(a));
  });
});

describe('PhotoRepository: files', () => {
  it('upsertFile records a file, and updating it in place keeps its id', () => {
    const { id } = photos.upsertByHash({ contentHash: hash(1), size: 1000 });
    const first = photos.upsertFile(file(id, p('/photos/a.jpg'), { mtimeMs: 1_700_000_000_123.389 }));
    expect(first).toMatchObject({ created: true, movedFromPhotoId: null });
    const row = photos.fileByPath(p('/photos/a.jpg'))!;
    expect(row).toEqual({
      id: first.id, photoId: id, folderId, path: p('/photos/a.jpg'), displayPath: '/photos/a.jpg', size: 1000,
      mtimeMs: 1_700_000_000_123, present: true, lastSeenAt: T0,
    });
    const again = photos.upsertFile(file(id, p('/photos/a.jpg'), { seenAt: T1 }));
    expect(again).toEqual({ id: first.id, created: false, movedFromPhotoId: null });
    expect(photos.fileByPath(p('/photos/a.jpg'))!.lastSeenAt).toBe(T1);
    expect(photos.fileByPath(p('/photos/zzz.jpg'))).toBeUndefined();
  });

  it('refuses a path given as a string, which would never match the byte-keyed lookups', () => {
    const { id } = photos.upsertByHash({ contentHash: hash(1), size: 1 });
    expect(() => photos.upsertFile(file(id, '/photos/a.jpg' as unknown as Buffer))).toThrow(/BLOB/);
  });

  it('round-trips path bytes that are not valid UTF-8, distinct from their lossy decoding', () => {
    const raw = Buffer.from([0x66, 0xff, 0x2e, 0x6a, 0x70, 0x67]);
    const lossy = Buffer.from(raw.toString('utf8'));
    expect(lossy.equals(raw)).toBe(false);
    const { id } = photos.upsertByHash({ contentHash: hash(1), size: 1 });
    photos.upsertFile(file(id, raw, { displayPath: raw.toString('utf8') }));
    const row = photos.fileByPath(raw)!;
    expect(Buffer.isBuffer(row.path)).toBe(true);
    expect(row.path.equals(raw)).toBe(true);
    expect(row.displayPath).toBe('f\uFFFD.jpg');
    expect(photos.fileByPath(lossy)).toBeUndefined();
    expect(photos.filesOf(id)[0].path.equals(raw)).toBe(true);
  });

  it('a moved or renamed file (same content, new path) keeps its photo id, metadata and status', () => {
    const { id } = photos.upsertByHash({ contentHash: hash(7), size: 500, at: T0 });
    photos.upsertFile(file(id, p('/photos/old/IMG_1.jpg')));
    photos.setIndexed(id, { width: 10, height: 20 }, T0);

    // Next scan: the same bytes turn up under another name; the old name is not seen.
    const seen = photos.upsertByHash({ contentHash: hash(7), size: 500, at: T1 });
    expect(seen).toEqual({ id, created: false });
    photos.upsertFile(file(id, p('/photos/new/Paris.jpg'), { seenAt: T1 }));
    expect(photos.markMissingFilesGone(folderId, T1, T1)).toEqual({ filesMissing: 1, photosGone: 0 });

    expect(photos.get(id)).toMatchObject({ status: 'indexed', width: 10, height: 20, indexedAt: T0 });
    expect(photos.filesOf(id).map((f) => [f.displayPath, f.present])).toEqual([
      ['/photos/new/Paris.jpg', true],
      ['/photos/old/IMG_1.jpg', false],
    ]);
  });

  it('a path that now holds different content moves to the new photo; the old one goes gone if that was its last file', () => {
    const old = photos.upsertByHash({ contentHash: hash(1), size: 1 }).id;
    photos.upsertFile(file(old, p('/photos/a.jpg')));
    photos.setIndexed(old, {});
    const edited = photos.upsertByHash({ contentHash: hash(2), size: 2 }).id;
    const res = photos.upsertFile(file(edited, p('/photos/a.jpg'), { seenAt: T1 }));
    expect(res).toMatchObject({ created: false, movedFromPhotoId: old });
    expect(photos.fileByPath(p('/photos/a.jpg'))!.photoId).toBe(edited);
    expect(photos.filesOf(old)).toEqual([]);
    expect(photos.get(old)).toMatchObject({ status: 'gone', updatedAt: T1 });
    expect(photos.get(edited)!.status).toBe('pending');

    // When the old content still lives elsewhere, it stays as it was.
    const copy = photos.upsertByHash({ contentHash: hash(3), size: 3 }).id;
    photos.upsertFile(file(copy, p('/photos/b.jpg')));
    photos.upsertFile(file(copy, p('/photos/b-copy.jpg')));
    photos.setIndexed(copy, {});
    photos.upsertFile(file(edited, p('/photos/b.jpg')));
    expect(photos.get(copy)!.status).toBe('indexed');
  });

  it('markMissingFilesGone: files not seen since the scan began go absent, photos without a present file go gone', () => {
    const other = new FolderRepository(db).add('/elsewhere', T0).id;
    const a = photos.upsertByHash({ contentHash: hash(1), size: 1 }).id; // one file, not seen again
    const b = photos.upsertByHash({ contentHash: hash(2), size: 2 }).id; // one file, seen again
    const c = photos.upsertByHash({ contentHash: hash(3), size: 3 }).id; // unseen here, present in another folder
    const d = photos.upsertByHash({ contentHash: hash(4), size: 4 }).id; // other folder only: untouched
    photos.upsertFile(file(a, p('/photos/a.jpg')));
    photos.upsertFile(file(b, p('/photos/b.jpg')));
    photos.upsertFile(file(c, p('/photos/c.jpg')));
    photos.upsertFile(file(c, p('/elsewhere/c.jpg'), { folderId: other }));
    photos.upsertFile(file(d, p('/elsewhere/d.jpg'), { folderId: other }));
    photos.setIndexed(a, {});

    photos.upsertFile(file(b, p('/photos/b.jpg'), { seenAt: T1 }));
    expect(photos.markMissingFilesGone(folderId, T1, T2)).toEqual({ filesMissing: 2, photosGone: 1 });
    expect(photos.get(a)).toMatchObject({ status: 'gone', updatedAt: T2 });
    expect(photos.get(b)!.status).toBe('pending');
    expect(photos.get(c)!.status).toBe('pending');
    expect(photos.get(d)!.status).toBe('pending');
    expect(photos.fileByPath(p('/photos/c.jpg'))!.present).toBe(false);
    expect(photos.fileByPath(p('/elsewhere/d.jpg'))!.present).toBe(true);
    expect(photos.countByStatus()).toEqual({ pending: 3, indexed: 0, failed: 0, gone: 1 });
    // Idempotent.
    expect(photos.markMissingFilesGone(folderId, T1, T2)).toEqual({ filesMissing: 0, photosGone: 0 });

    // The file comes back: the photo returns to the status it had before it went.
    photos.upsertFile(file(a, p('/photos/a.jpg'), { seenAt: T2 }));
    expect(photos.get(a)!.status).toBe('indexed');
    expect(photos.fileByPath(p('/photos/a.jpg'))!.present).toBe(true);
  });

  it('a gone photo that had failed, or never got indexed, returns as failed or pending', () => {
    const failed = photos.upsertByHash({ contentHash: hash(1), size: 1 }).id;
    const pending = photos.upsertByHash({ contentHash: hash(2), size: 2 }).id;
    photos.upsertFile(file(failed, p('/photos/f.jpg')));
    photos.upsertFile(file(pending, p('/photos/p.jpg')));
    photos.setFailed(failed, 'decode', 'bad');
    expect(photos.markMissingFilesGone(folderId, T1)).toEqual({ filesMissing: 2, photosGone: 2 });
    photos.upsertFile(file(failed, p('/photos/f.jpg'), { seenAt: T1 }));
    photos.upsertFile(file(pending, p('/photos/p.jpg'), { seenAt: T1 }));
    expect(photos.get(failed)!.status).toBe('failed');
    expect(photos.get(pending)!.status).toBe('pending');
  });

  it('touchFile records an unchanged file as seen, bringing it and its photo back if they had gone', () => {
    const id = photos.upsertByHash({ contentHash: hash(1), size: 1 }).id;
    const { id: fileId } = photos.upsertFile(file(id, p('/photos/a.jpg')));
    photos.setIndexed(id, {});
    expect(photos.touchFile(fileId, T1)).toBe(true);
    expect(photos.fileByPath(p('/photos/a.jpg'))!.lastSeenAt).toBe(T1);
    expect(photos.markMissingFilesGone(folderId, T1)).toEqual({ filesMissing: 0, photosGone: 0 });
    expect(photos.markMissingFilesGone(folderId, T2)).toEqual({ filesMissing: 1, photosGone: 1 });
    expect(photos.touchFile(fileId, T2)).toBe(true);
    expect(photos.fileByPath(p('/photos/a.jpg'))).toMatchObject({ present: true, lastSeenAt: T2 });
    expect(photos.get(id)!.status).toBe('indexed');
    expect(photos.touchFile(424242, T2)).toBe(false);
  });

  it('markFileMissing handles one vanished file (watch mode)', () => {
    const id = photos.upsertByHash({ contentHash: hash(1), size: 1 }).id;
    photos.upsertFile(file(id, p('/photos/a.jpg')));
    photos.upsertFile(file(id, p('/photos/a2.jpg')));
    expect(photos.markFileMissing(p('/photos/a.jpg'))).toEqual({ filesMissing: 1, photosGone: 0 });
    expect(photos.markFileMissing(p('/photos/a2.jpg'))).toEqual({ filesMissing: 1, photosGone: 1 });
    expect(photos.get(id)!.status).toBe('gone');
    expect(photos.markFileMissing(p('/photos/unknown.jpg'))).toEqual({ filesMissing: 0, photosGone: 0 });
  });

  it('removing a folder cascades to its files; markOrphansGone then marks the photos left without files', () => {
    const folders = new FolderRepository(db);
    const id = photos.upsertByHash({ contentHash: hash(1), size: 1 }).id;
    photos.upsertFile(file(id, p('/photos/a.jpg')));
    photos.setIndexed(id, {});
    const gone = writeTransaction(db, () => {
      folders.remove(folderId);
      return photos.markOrphansGone(T1);
    });
    expect(gone).toBe(1);
    expect(photos.filesOf(id)).toEqual([]);
    expect(photos.get(id)).toMatchObject({ status: 'gone', indexedAt: expect.any(String) });
  });

  it('deleting a photo cascades to its files', () => {
    const id = photos.upsertByHash({ contentHash: hash(1), size: 1 }).id;
    photos.upsertFile(file(id, p('/photos/a.jpg')));
    db.prepare(`DELETE FROM photos WHERE id = ?`).run(id);
    expect(photos.fileByPath(p('/photos/a.jpg'))).toBeUndefined();
  });

  it('a file must belong to an existing photo and folder', () => {
    expect(() => photos.upsertFile(file(12345, p('/photos/x.jpg')))).toThrow(/FOREIGN KEY/);
  });

  it('a failed multi-call scan step leaves nothing behind when wrapped in writeTransaction', () => {
    expect(() =>
      writeTransaction(db, () => {
        const { id } = photos.upsertByHash({ contentHash: hash(9), size: 9 });
        photos.upsertFile(file(id, p('/photos/x.jpg')));
        throw new Error('hashing raced a write');
      }),
    ).toThrow('hashing raced');
    expect(photos.getByHash(hash(9))).toBeUndefined();
    expect(photos.fileByPath(p('/photos/x.jpg'))).toBeUndefined();
  });
});

describe('PhotoRepository: what duplicate grouping reads', () => {
  it('keeperFacts lists indexed photos only, with their EXIF completeness; tinyOf and presentCopies', () => {
    const a = photos.upsertByHash({ contentHash: hash(1), size: 10, at: T0 }).id;
    const b = photos.upsertByHash({ contentHash: hash(2), size: 20, at: T0 }).id;
    const c = photos.upsertByHash({ contentHash: hash(3), size: 30, at: T0 }).id;
    photos.setIndexed(a, { width: 4, height: 3, format: 'jpeg', sharpness: 7, takenAt: '2020-01-02T03:04:05', cameraMake: 'X', gpsLat: 1, gpsLon: 2, tiny: Uint8Array.of(1, 2, 3) });
    photos.setIndexed(b, { width: 8, height: 6, format: 'png', gpsLat: 1 });
    writeTransaction(db, () => {
      photos.upsertFile(file(a, p('/photos/a.jpg')));
      photos.upsertFile(file(a, p('/photos/copy/a.jpg')));
      photos.upsertFile(file(b, p('/photos/b.png')));
      photos.upsertFile(file(c, p('/photos/c.jpg')));
      photos.upsertFile(file(c, p('/photos/c2.jpg')));
    });
    photos.markFileMissing(p('/photos/c2.jpg'), T1);
    expect(photos.keeperFacts()).toEqual([
      { id: a, contentHash: hash(1), size: 10, width: 4, height: 3, format: 'jpeg', sharpness: 7, takenAt: '2020-01-02T03:04:05', exifFieldCount: 3 },
      // A latitude without a longitude is not a position.
      { id: b, contentHash: hash(2), size: 20, width: 8, height: 6, format: 'png', sharpness: null, takenAt: null, exifFieldCount: 0 },
    ]);
    expect([...(photos.tinyOf(a) ?? [])]).toEqual([1, 2, 3]);
    expect(photos.tinyOf(b)).toBeUndefined();
    // c is pending, but copies are about files: c has one present file left, so it has no copies.
    expect(photos.presentCopies()).toEqual(new Map([[a, ['/photos/a.jpg', '/photos/copy/a.jpg']]]));
  });
});
