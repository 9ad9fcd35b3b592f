// SQL for `file_failures`: files that never became photos (unreadable, not an image…) or failed to
// index, with the reason, so the UI can list them and a rescan can skip what has not changed.
import type Sqlite from 'better-sqlite3';
import type { Database } from './libraryDatabase.js';

export interface FailureRow {
  path: Buffer;
  displayPath: string;
  folderId: number | null;
  code: string;
  message: string;
  size: number | null;
  mtimeMs: number | null;
  at: string;
}

const COLUMNS = `path, display_path AS displayPath, folder_id AS folderId, code, message, size, mtime_ms AS mtimeMs, at`;

export class FailureRepository {
  private readonly upsert: Sqlite.Statement<[Buffer, string, number | null, string, string, number | null, number | null, string]>;
  private readonly del: Sqlite.Statement<[Buffer]>;
  private readonly one: Sqlite.Statement<[Buffer], FailureRow>;
  private readonly all: Sqlite.Statement<[], FailureRow>;
  private readonly inFolder: Sqlite.Statement<[number], FailureRow>;
  private readonly countAll: Sqlite.Statement<[], number>;
  private readonly countInFolder: Sqlite.Statement<[number], number>;

  constructor(db: Database) {
    this.upsert = db.prepare(
      `INSERT INTO file_failures (path, display_path, folder_id, code, message, size, mtime_ms, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (path) DO UPDATE SET display_path = excluded.display_path, folder_id = excluded.folder_id,
         code = excluded.code, message = excluded.message, size = excluded.size, mtime_ms = excluded.mtime_ms, at = excluded.at`,
    );
    this.del = db.prepare(`DELETE FROM file_failures WHERE path = ?`);
    this.one = db.prepare(`SELECT ${COLUMNS} FROM file_failures WHERE path = ?`);
    this.all = db.prepare(`SELECT ${COLUMNS} FROM file_failures ORDER BY display_path, path`);
    this.inFolder = db.prepare(`SELECT ${COLUMNS} FROM file_failures WHERE folder_id = ? ORDER BY display_path, path`);
    this.countAll = db.prepare<[], number>(`SELECT count(*) FROM file_failures`).pluck();
    this.countInFolder = db.prepare<[number], number>(`SELECT count(*) FROM file_failures WHERE folder_id = ?`).pluck();
  }

  /**
   * Records (or replaces) the latest failure for a path. `size`/`mtimeMs` are what the file had when
   * it failed, so a later scan can tell whether it changed; mtimeMs is rounded like photo_files'.
   */
  record(
    path: Buffer,
    displayPath: string,
    folderId: number | null,
    code: string,
    message: string,
    size?: number | null,
    mtimeMs?: number | null,
    at: string = new Date().toISOString(),
  ): void {
    this.upsert.run(path, displayPath, folderId, code, message, size ?? null, mtimeMs == null ? null : Math.round(mtimeMs), at);
  }

  /** Returns whether there was a failure to clear. */
  clear(path: Buffer): boolean {
    return this.del.run(path).changes > 0;
  }

  get(path: Buffer): FailureRow | undefined {
    return this.one.get(path);
  }

  list(folderId?: number): FailureRow[] {
    return folderId === undefined ? this.all.all() : this.inFolder.all(folderId);
  }

  count(folderId?: number): number {
    return (folderId === undefined ? this.countAll.get() : this.countInFolder.get(folderId)) ?? 0;
  }
}
