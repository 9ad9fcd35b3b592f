import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkMigrationList,
  currentSchemaVersion,
  LibraryDatabaseError,
  NEW_DATABASE_PAGE_SIZE,
  openLibraryDatabase,
  readTransaction,
  SIGHTLINE_APPLICATION_ID,
  writeTransaction,
  type Database,
} from '../../../app/library/database/libraryDatabase.js';
import { MIGRATIONS } from '../../../app/library/database/migrations.js';

let dir: string;
const open: Database[] = [];
function track(db: Database): Database {
  open.push(db);
  return db;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-db-'));
});
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function errorOf(fn: () => unknown): LibraryDatabaseError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LibraryDatabaseError);
    return err as LibraryDatabaseError;
  }
  throw new Error('expected an error');
}

const tables = (db: Database) =>
  db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all() as string[];

describe('openLibraryDatabase', () => {
  it('creates the parent folder, applies every migration and sets the connection up', () => {
    const file = path.join(dir, 'nested', 'deeper', 'library.db');
    const db = track(openLibraryDatabase(file));
    expect(fs.existsSync(file)).toBe(true);
    expect(db.pragma('user_version', { simple: true })).toBe(currentSchemaVersion());
    expect(currentSchemaVersion()).toBe(MIGRATIONS.length);
    expect(db.pragma('application_id', { simple: true })).toBe(SIGHTLINE_APPLICATION_ID);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('page_size', { simple: true })).toBe(NEW_DATABASE_PAGE_SIZE);
    expect(tables(db)).toEqual(['descriptors', 'duplicate_decisions', 'file_failures', 'folders', 'photo_files', 'photos', 'settings', 'trashed_files']);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('applies migrations once: reopening keeps data and changes nothing', () => {
    const file = path.join(dir, 'library.db');
    const first = openLibraryDatabase(file);
    first.prepare(`INSERT INTO settings (key, value) VALUES ('k', 'v')`).run();
    const schema = first.prepare(`SELECT sql FROM sqlite_schema ORDER BY name`).pluck().all();
    first.close();

    const again = track(openLibraryDatabase(file));
    expect(again.pragma('user_version', { simple: true })).toBe(currentSchemaVersion());
    expect(again.prepare(`SELECT sql FROM sqlite_schema ORDER BY name`).pluck().all()).toEqual(schema);
    expect(again.prepare(`SELECT value FROM settings WHERE key = 'k'`).pluck().get()).toBe('v');
    expect(again.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('two connections on one file both open (the second sees the schema already migrated)', () => {
    const file = path.join(dir, 'library.db');
    const a = track(openLibraryDatabase(file));
    const b = track(openLibraryDatabase(file));
    a.prepare(`INSERT INTO settings (key, value) VALUES ('x', '1')`).run();
    expect(b.prepare(`SELECT value FROM settings WHERE key = 'x'`).pluck().get()).toBe('1');
  });

  it('refuses a database created by a newer Sightline, and leaves it untouched', () => {
    const file = path.join(dir, 'library.db');
    const db = openLibraryDatabase(file);
    db.pragma(`user_version = ${currentSchemaVersion() + 1}`);
    db.close();

    const err = errorOf(() => openLibraryDatabase(file));
    expect(err.code).toBe('newer_schema');
    expect(err.message).toContain('newer Sightline');
    expect(err.message).toContain(file);
    expect(errorOf(() => openLibraryDatabase(file, { readonly: true })).code).toBe('newer_schema');

    const raw = track(new Sqlite(file));
    expect(raw.pragma('user_version', { simple: true })).toBe(currentSchemaVersion() + 1);
  });

  it('refuses a file that is not a SQLite database, naming it, and does not overwrite it', () => {
    const file = path.join(dir, 'photo.jpg');
    const content = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4096, 0x41)]);
    fs.writeFileSync(file, content);
    const err = errorOf(() => openLibraryDatabase(file));
    expect(err.code).toBe('not_a_database');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/not a SQLite database/);
    expect(fs.readFileSync(file).equals(content)).toBe(true);
    expect(errorOf(() => openLibraryDatabase(file, { readonly: true })).code).toBe('not_a_database');
  });

  it("refuses another program's SQLite database instead of adding tables to it", () => {
    const file = path.join(dir, 'other.db');
    const other = new Sqlite(file);
    other.exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`);
    other.close();
    const err = errorOf(() => openLibraryDatabase(file));
    expect(err.code).toBe('foreign_database');
    const raw = track(new Sqlite(file));
    expect(tables(raw)).toEqual(['notes']);
  });

  it('opens read-only without writing, and refuses a read-only open that would need a migration', () => {
    const file = path.join(dir, 'library.db');
    openLibraryDatabase(file).close();
    const ro = track(openLibraryDatabase(file, { readonly: true }));
    expect(ro.readonly).toBe(true);
    expect(() => ro.prepare(`INSERT INTO settings (key, value) VALUES ('a', 'b')`).run()).toThrow(/readonly/);

    const empty = path.join(dir, 'empty.db');
    new Sqlite(empty).close();
    expect(errorOf(() => openLibraryDatabase(empty, { readonly: true })).code).toBe('outdated_readonly');
    expect(() => openLibraryDatabase(path.join(dir, 'absent.db'), { readonly: true })).toThrow();
    expect(fs.existsSync(path.join(dir, 'absent.db'))).toBe(false);
  });

  it('a failing migration rolls back entirely and names itself', () => {
    const file = path.join(dir, 'library.db');
    openLibraryDatabase(file).close();
    MIGRATIONS.push({
      version: currentSchemaVersion() + 1,
      name: 'broken on purpose',
      sql: `CREATE TABLE half_done (id INTEGER PRIMARY KEY); INSERT INTO no_such_table VALUES (1);`,
    });
    try {
      const err = errorOf(() => openLibraryDatabase(file));
      expect(err.code).toBe('migration_failed');
      expect(err.message).toContain('broken on purpose');
    } finally {
      MIGRATIONS.pop();
    }
    const db = track(openLibraryDatabase(file));
    expect(db.pragma('user_version', { simple: true })).toBe(currentSchemaVersion());
    expect(tables(db)).not.toContain('half_done');
  });

  it('a later migration may rebuild a parent table without cascading into its children', () => {
    const file = path.join(dir, 'library.db');
    const db = openLibraryDatabase(file);
    db.prepare(`INSERT INTO folders (id, path, added_at) VALUES (1, '/p', 't')`).run();
    db.prepare(`INSERT INTO photos (id, content_hash, size, status, updated_at) VALUES (1, 'h', 1, 'pending', 't')`).run();
    db.prepare(
      `INSERT INTO photo_files (photo_id, folder_id, path, display_path, size, mtime_ms, last_seen_at) VALUES (1, 1, x'2f70', '/p', 1, 1, 't')`,
    ).run();
    db.close();
    MIGRATIONS.push({
      version: currentSchemaVersion() + 1,
      name: 'rebuild folders',
      sql: `CREATE TABLE folders_new (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, added_at TEXT NOT NULL,
              last_scan_at TEXT, status TEXT NOT NULL DEFAULT 'ok', error TEXT, note TEXT) STRICT;
            INSERT INTO folders_new (id, path, added_at, last_scan_at, status, error) SELECT * FROM folders;
            DROP TABLE folders;
            ALTER TABLE folders_new RENAME TO folders;`,
    });
    try {
      const migrated = track(openLibraryDatabase(file));
      expect(migrated.pragma('user_version', { simple: true })).toBe(currentSchemaVersion());
      expect(migrated.prepare(`SELECT count(*) FROM photo_files`).pluck().get()).toBe(1);
      expect(migrated.pragma('foreign_keys', { simple: true })).toBe(1);
      migrated.close();
    } finally {
      MIGRATIONS.pop();
    }
  });

  it('works in memory (no folder to create)', () => {
    const db = track(openLibraryDatabase(':memory:'));
    expect(db.pragma('user_version', { simple: true })).toBe(currentSchemaVersion());
  });
});

describe('migration list', () => {
  it('is numbered 1, 2, 3… with names and SQL', () => {
    expect(() => checkMigrationList(MIGRATIONS)).not.toThrow();
    for (const m of MIGRATIONS) {
      expect(m.name.length).toBeGreaterThan(0);
      expect(m.sql.trim().length).toBeGreaterThan(0);
    }
    expect(() => checkMigrationList([{ version: 1, name: 'a', sql: 'x' }, { version: 3, name: 'b', sql: 'y' }])).toThrow(/numbered/);
  });
});

describe('transactions', () => {
  it('writeTransaction commits or rolls back as a whole and nests as a savepoint', () => {
    const db = track(openLibraryDatabase(path.join(dir, 'library.db')));
    const put = db.prepare(`INSERT INTO settings (key, value) VALUES (?, ?)`);
    expect(() =>
      writeTransaction(db, () => {
        put.run('a', '1');
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(db.prepare(`SELECT count(*) FROM settings`).pluck().get()).toBe(0);

    writeTransaction(db, () => {
      put.run('b', '2');
      expect(() =>
        writeTransaction(db, () => {
          put.run('c', '3');
          throw new Error('inner');
        }),
      ).toThrow('inner');
    });
    expect(db.prepare(`SELECT key FROM settings`).pluck().all()).toEqual(['b']);
    expect(readTransaction(db, () => db.prepare(`SELECT count(*) FROM settings`).pluck().get())).toBe(1);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});
