// SQL for the `folders` table: the roots the user added to the library. No domain logic here
// (immich's split): when to scan or how to react to a missing folder is the services' business.
import type { Database } from './libraryDatabase.js';
import type Sqlite from 'better-sqlite3';

export type FolderStatus = 'ok' | 'missing' | 'unreadable';

export interface FolderRow {
  id: number;
  path: string;
  addedAt: string;
  lastScanAt: string | null;
  status: FolderStatus;
  error: string | null;
}

const COLUMNS = `id, path, added_at AS addedAt, last_scan_at AS lastScanAt, status, error`;

export class FolderRepository {
  private readonly insert: Sqlite.Statement<[string, string]>;
  private readonly byPath: Sqlite.Statement<[string], FolderRow>;
  private readonly byId: Sqlite.Statement<[number], FolderRow>;
  private readonly all: Sqlite.Statement<[], FolderRow>;
  private readonly del: Sqlite.Statement<[number]>;
  private readonly status: Sqlite.Statement<[FolderStatus, string | null, number]>;
  private readonly scanned: Sqlite.Statement<[string, number]>;

  constructor(db: Database) {
    this.insert = db.prepare(`INSERT INTO folders (path, added_at) VALUES (?, ?) ON CONFLICT (path) DO NOTHING`);
    this.byPath = db.prepare(`SELECT ${COLUMNS} FROM folders WHERE path = ?`);
    this.byId = db.prepare(`SELECT ${COLUMNS} FROM folders WHERE id = ?`);
    this.all = db.prepare(`SELECT ${COLUMNS} FROM folders ORDER BY path`);
    this.del = db.prepare(`DELETE FROM folders WHERE id = ?`);
    this.status = db.prepare(`UPDATE folders SET status = ?, error = ? WHERE id = ?`);
    this.scanned = db.prepare(`UPDATE folders SET last_scan_at = ? WHERE id = ?`);
  }

  /** Adds a folder, or returns the existing row for the same path (its added_at unchanged). */
  add(path: string, at: string = new Date().toISOString()): FolderRow {
    this.insert.run(path, at);
    const row = this.byPath.get(path);
    if (!row) throw new Error(`folder ${path} vanished right after being added`);
    return row;
  }

  get(id: number): FolderRow | undefined {
    return this.byId.get(id);
  }

  getByPath(path: string): FolderRow | undefined {
    return this.byPath.get(path);
  }

  list(): FolderRow[] {
    return this.all.all();
  }

  /**
   * Deletes the folder; its photo_files and file_failures go with it (ON DELETE CASCADE). Photos
   * themselves stay, keyed by content, so re-adding the folder finds their descriptors and decisions;
   * the caller marks the ones left without files with PhotoRepository.markOrphansGone() in the same
   * writeTransaction. Returns false when there was no such folder.
   */
  remove(id: number): boolean {
    return this.del.run(id).changes > 0;
  }

  /** `error` is cleared when not given, so setting 'ok' after a failure leaves no stale message. */
  setStatus(id: number, status: FolderStatus, error?: string): boolean {
    return this.status.run(status, error ?? null, id).changes > 0;
  }

  markScanned(id: number, at: string = new Date().toISOString()): boolean {
    return this.scanned.run(at, id).changes > 0;
  }
}
