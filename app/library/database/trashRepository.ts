// SQL for `trashed_files`: which files a duplicate decision moved to the trash and where to, so an
// undo can put them back. No logic about moving files here; that is the trash service's job.
import type Sqlite from 'better-sqlite3';
import type { Database } from './libraryDatabase.js';

export type TrashKind = 'os' | 'folder';

export interface TrashedFileRow {
  id: number;
  decisionId: number;
  photoId: number;
  path: Buffer;
  displayPath: string;
  trashKind: TrashKind;
  /** Where the file is now (folder trash); null for the OS trash, which does not say. */
  trashPath: string | null;
  trashedAt: string;
  restoredAt: string | null;
}

const COLUMNS = `id, decision_id AS decisionId, photo_id AS photoId, path, display_path AS displayPath, trash_kind AS trashKind,
  trash_path AS trashPath, trashed_at AS trashedAt, restored_at AS restoredAt`;

export class TrashRepository {
  private readonly insert: Sqlite.Statement<[number, number, Buffer, string, TrashKind, string | null, string]>;
  private readonly byDecision: Sqlite.Statement<[number], TrashedFileRow>;
  private readonly restored: Sqlite.Statement<[string, number]>;

  constructor(db: Database) {
    this.insert = db.prepare(
      `INSERT INTO trashed_files (decision_id, photo_id, path, display_path, trash_kind, trash_path, trashed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.byDecision = db.prepare(`SELECT ${COLUMNS} FROM trashed_files WHERE decision_id = ? AND restored_at IS NULL ORDER BY id`);
    this.restored = db.prepare(`UPDATE trashed_files SET restored_at = ? WHERE id = ?`);
  }

  add(row: Omit<TrashedFileRow, 'id' | 'restoredAt'>): void {
    this.insert.run(row.decisionId, row.photoId, row.path, row.displayPath, row.trashKind, row.trashPath, row.trashedAt);
  }

  /** Files of the decision still in the trash. */
  listForDecision(decisionId: number): TrashedFileRow[] {
    return this.byDecision.all(decisionId);
  }

  markRestored(id: number, at: string = new Date().toISOString()): void {
    this.restored.run(at, id);
  }
}
