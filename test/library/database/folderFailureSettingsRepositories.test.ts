import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FailureRepository } from '../../../app/library/database/failureRepository.js';
import { FolderRepository } from '../../../app/library/database/folderRepository.js';
import { openLibraryDatabase, type Database } from '../../../app/library/database/libraryDatabase.js';
import { PhotoRepository } from '../../../app/library/database/photoRepository.js';
import { SettingsRepository } from '../../../app/library/database/settingsRepository.js';

let dir: string;
let file: string;
let db: Database;
let folders: FolderRepository;
let failures: FailureRepository;

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-02T10:00:00.000Z';
const p = (s: string) => Buffer.from(s);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-repo-'));
  file = path.join(dir, 'library.db');
  db = openLibraryDatabase(file);
  folders = new FolderRepository(db);
  failures = new FailureRepository(db);
});
afterEach(() => {
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(db.pragma('foreign_key_check')).toEqual([]);
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('FolderRepository', () => {
  it('add is idempotent and returns the row; list is by path; get by id or path', () => {
    const b = folders.add('/home/me/Pictures', T0);
    expect(b).toEqual({ id: b.id, path: '/home/me/Pictures', addedAt: T0, lastScanAt: null, status: 'ok', error: null });
    expect(folders.add('/home/me/Pictures', T1)).toEqual(b);
    const a = folders.add('/a/Camera', T1);
    expect(folders.list().map((f) => f.path)).toEqual(['/a/Camera', '/home/me/Pictures']);
    expect(folders.get(a.id)).toEqual(a);
    expect(folders.getByPath('/a/Camera')).toEqual(a);
    expect(folders.get(999)).toBeUndefined();
  });

  it('setStatus records and clears an error; markScanned records the time', () => {
    const f = folders.add('/p', T0);
    expect(folders.setStatus(f.id, 'unreadable', 'EACCES: permission denied')).toBe(true);
    expect(folders.get(f.id)).toMatchObject({ status: 'unreadable', error: 'EACCES: permission denied' });
    folders.setStatus(f.id, 'ok');
    expect(folders.get(f.id)).toMatchObject({ status: 'ok', error: null });
    expect(() => folders.setStatus(f.id, 'weird' as never)).toThrow(/CHECK/);
    expect(folders.markScanned(f.id, T1)).toBe(true);
    expect(folders.get(f.id)!.lastScanAt).toBe(T1);
    expect(folders.markScanned(999, T1)).toBe(false);
  });

  it('remove cascades to the folder’s files and failures, not to other folders’, and keeps the photos', () => {
    const photos = new PhotoRepository(db);
    const gone = folders.add('/gone', T0).id;
    const kept = folders.add('/kept', T0).id;
    const { id } = photos.upsertByHash({ contentHash: 'aa', size: 1 });
    const seen = { photoId: id, size: 1, mtimeMs: 1, seenAt: T0 };
    photos.upsertFile({ ...seen, folderId: gone, path: p('/gone/a.jpg'), displayPath: '/gone/a.jpg' });
    photos.upsertFile({ ...seen, folderId: kept, path: p('/kept/a.jpg'), displayPath: '/kept/a.jpg' });
    failures.record(p('/gone/bad.txt'), '/gone/bad.txt', gone, 'not_an_image', 'unsupported format');
    failures.record(p('/kept/bad.txt'), '/kept/bad.txt', kept, 'not_an_image', 'unsupported format');

    expect(folders.remove(gone)).toBe(true);
    expect(folders.remove(gone)).toBe(false);
    expect(folders.get(gone)).toBeUndefined();
    expect(photos.filesOf(id).map((f) => f.displayPath)).toEqual(['/kept/a.jpg']);
    expect(failures.list().map((f) => f.displayPath)).toEqual(['/kept/bad.txt']);
    expect(photos.get(id)).toBeDefined();
    expect(photos.markOrphansGone()).toBe(0);
  });
});

describe('FailureRepository', () => {
  it('record replaces the latest failure per path; list, count and clear, per folder or overall', () => {
    const f1 = folders.add('/one', T0).id;
    const f2 = folders.add('/two', T0).id;
    failures.record(p('/one/x.heic'), '/one/x.heic', f1, 'decode', 'unsupported HEIC', 2048, 1_700_000_000_499.75, T0);
    expect(failures.get(p('/one/x.heic'))).toEqual({
      path: p('/one/x.heic'), displayPath: '/one/x.heic', folderId: f1, code: 'decode', message: 'unsupported HEIC',
      size: 2048, mtimeMs: 1_700_000_000_500, at: T0,
    });
    failures.record(p('/one/x.heic'), '/one/x.heic', f1, 'unreadable', 'EIO', undefined, undefined, T1);
    expect(failures.get(p('/one/x.heic'))).toMatchObject({ code: 'unreadable', message: 'EIO', size: null, mtimeMs: null, at: T1 });
    failures.record(p('/one/a.txt'), '/one/a.txt', f1, 'not_an_image', 'text file');
    failures.record(p('/two/b.jpg'), '/two/b.jpg', f2, 'decode', 'truncated');
    failures.record(p('/loose.jpg'), '/loose.jpg', null, 'decode', 'a file opened directly, outside any folder');

    expect(failures.count()).toBe(4);
    expect(failures.count(f1)).toBe(2);
    expect(failures.list(f1).map((f) => f.displayPath)).toEqual(['/one/a.txt', '/one/x.heic']);
    expect(failures.list().map((f) => f.displayPath)).toEqual(['/loose.jpg', '/one/a.txt', '/one/x.heic', '/two/b.jpg']);
    expect(failures.clear(p('/one/x.heic'))).toBe(true);
    expect(failures.clear(p('/one/x.heic'))).toBe(false);
    expect(failures.count(f1)).toBe(1);
    expect(failures.count(999)).toBe(0);
  });

  it('keeps non-UTF-8 path bytes apart from their lossy display form', () => {
    const raw = Buffer.from([0x66, 0xff, 0x2e, 0x6a, 0x70, 0x67]);
    failures.record(raw, raw.toString('utf8'), null, 'decode', 'bad');
    expect(failures.list()[0].path.equals(raw)).toBe(true);
    expect(failures.get(Buffer.from(raw.toString('utf8')))).toBeUndefined();
    expect(failures.clear(raw)).toBe(true);
  });
});

describe('SettingsRepository', () => {
  it('get/set/delete, persisted across reopen', () => {
    const settings = new SettingsRepository(db);
    expect(settings.get('model')).toBeUndefined();
    settings.set('model', 'mobilenetv2-rmac@1');
    settings.set('model', 'resnet50-rmac@1');
    settings.set('empty', '');
    expect(settings.get('model')).toBe('resnet50-rmac@1');
    expect(settings.get('empty')).toBe('');
    db.close();
    db = openLibraryDatabase(file);
    const reopened = new SettingsRepository(db);
    expect(reopened.get('model')).toBe('resnet50-rmac@1');
    expect(reopened.delete('model')).toBe(true);
    expect(reopened.delete('model')).toBe(false);
    expect(reopened.get('model')).toBeUndefined();
  });
});
