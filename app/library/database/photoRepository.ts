// SQL for `photos` and `photo_files`. A photo is its content (content_hash); files are the places it
// was seen. Keeping the two apart is what lets a moved or renamed file keep its descriptors and the
// user's duplicate decisions. No domain logic: scanning, hashing and indexing policy live in services.
//
// The only rule kept here is the one that defines 'gone' (photo with no present file), applied in
// both directions by the methods that change file presence, so it cannot drift between callers.
import type Sqlite from 'better-sqlite3';
import { writeTransaction, type Database } from './libraryDatabase.js';

export type PhotoStatus = 'pending' | 'indexed' | 'failed' | 'gone';
export const PHOTO_STATUSES: readonly PhotoStatus[] = ['pending', 'indexed', 'failed', 'gone'];

export interface PhotoRow {
  id: number;
  contentHash: string;
  size: number;
  width: number | null;
  height: number | null;
  format: string | null;
  takenAt: string | null;
  cameraMake: string | null;
  cameraModel: string | null;
  gpsLat: number | null;
  gpsLon: number | null;
  orientation: number | null;
  sharpness: number | null;
  status: PhotoStatus;
  errorCode: string | null;
  errorMessage: string | null;
  thumbnail: string | null;
  indexedAt: string | null;
  updatedAt: string;
  /** 32×32 grey signature (TINY_SIGNATURE_SIZE²) for near-duplicate verification. */
  tiny: Buffer | null;
}

/** An indexed photo's facts for the keeper rule (DuplicatePhoto in app/search/duplicateGroups.ts). */
export type KeeperFactsRow = Pick<PhotoRow, 'id' | 'contentHash' | 'size' | 'width' | 'height' | 'format' | 'sharpness' | 'takenAt'> & {
  /** How many of date taken, camera make, camera model, GPS position and orientation are known. */
  exifFieldCount: number;
};

export interface PhotoFileRow {
  id: number;
  photoId: number;
  folderId: number;
  /** Raw path bytes as the file system gave them. */
  path: Buffer;
  displayPath: string;
  size: number;
  mtimeMs: number;
  present: boolean;
  lastSeenAt: string;
}

/** What indexing learned about a photo; absent fields are stored as NULL (a re-index replaces all). */
export interface PhotoIndexFields {
  width?: number | null;
  height?: number | null;
  format?: string | null;
  takenAt?: string | null;
  cameraMake?: string | null;
  cameraModel?: string | null;
  gpsLat?: number | null;
  gpsLon?: number | null;
  orientation?: number | null;
  sharpness?: number | null;
  thumbnail?: string | null;
  tiny?: Uint8Array | null;
}

/**
 * A file as the scan saw it. `mtimeMs` is fs.Stats.mtimeMs, stored rounded to whole milliseconds
 * (INTEGER column), so compare Math.round(stat.mtimeMs).
 */
export type UpsertFileInput = Pick<PhotoFileRow, 'photoId' | 'folderId' | 'path' | 'displayPath' | 'size' | 'mtimeMs'> & { seenAt: string };

export interface PhotoListOptions {
  status?: PhotoStatus;
  limit: number;
  offset?: number;
  /** 'path' sorts by the photo's smallest present display path; photos without a date or a present file come last. */
  orderBy: 'taken_at' | 'path' | 'id';
  direction?: 'asc' | 'desc';
}

const PHOTO_COLUMNS = `p.id, p.content_hash AS contentHash, p.size, p.width, p.height, p.format, p.taken_at AS takenAt,
  p.camera_make AS cameraMake, p.camera_model AS cameraModel, p.gps_lat AS gpsLat, p.gps_lon AS gpsLon,
  p.orientation, p.sharpness, p.status, p.error_code AS errorCode, p.error_message AS errorMessage,
  p.thumbnail, p.indexed_at AS indexedAt, p.updated_at AS updatedAt, p.tiny`;

const FILE_COLUMNS = `id, photo_id AS photoId, folder_id AS folderId, path, display_path AS displayPath, size,
  mtime_ms AS mtimeMs, present, last_seen_at AS lastSeenAt`;

type RawFileRow = Omit<PhotoFileRow, 'present'> & { present: number };

const toFileRow = (r: RawFileRow): PhotoFileRow => ({ ...r, present: r.present === 1 });

// The status a photo returns to when a file of it is present again: what it was before it went.
const REVIVED_STATUS = `CASE WHEN error_code IS NOT NULL THEN 'failed' WHEN indexed_at IS NOT NULL THEN 'indexed' ELSE 'pending' END`;

const ORDER_KEYS: Record<PhotoListOptions['orderBy'], string | null> = {
  id: null,
  taken_at: 'p.taken_at',
  path: '(SELECT min(f.display_path) FROM photo_files f WHERE f.photo_id = p.id AND f.present = 1)',
};

export class PhotoRepository {
  private readonly insertPhoto: Sqlite.Statement<[string, number, string], { id: number }>;
  private readonly idByHash: Sqlite.Statement<[string], number>;
  private readonly byId: Sqlite.Statement<[number], PhotoRow>;
  private readonly byHash: Sqlite.Statement<[string], PhotoRow>;
  private readonly statusCounts: Sqlite.Statement<[], { status: PhotoStatus; n: number }>;
  private readonly notIndexed: Sqlite.Statement<[], number>;
  private readonly indexedIdsStmt: Sqlite.Statement<[], number>;
  private readonly indexed: Sqlite.Statement<[Record<string, unknown>]>;
  private readonly failed: Sqlite.Statement<[string, string, string, number]>;
  private readonly status: Sqlite.Statement<[PhotoStatus, string, number]>;
  private readonly pending: Sqlite.Statement<[number], PhotoRow>;
  private readonly fileOwner: Sqlite.Statement<[Buffer], { id: number; photoId: number }>;
  private readonly fileUpsert: Sqlite.Statement<[Record<string, unknown>], { id: number }>;
  private readonly filesByPhoto: Sqlite.Statement<[number], RawFileRow>;
  private readonly fileByPathStmt: Sqlite.Statement<[Buffer], RawFileRow>;
  private readonly fileAbsent: Sqlite.Statement<[Buffer]>;
  private readonly fileSeen: Sqlite.Statement<[string, number], { photoId: number }>;
  private readonly folderFilesAbsent: Sqlite.Statement<[number, string]>;
  private readonly revive: Sqlite.Statement<[string, number]>;
  private readonly goneIfOrphan: Sqlite.Statement<[string, number]>;
  private readonly orphansGone: Sqlite.Statement<[string]>;
  private readonly listStatements = new Map<string, Sqlite.Statement<unknown[], PhotoRow>>();
  private readonly tinyStmt: Sqlite.Statement<[number], Buffer | null>;

  constructor(private readonly db: Database) {
    this.insertPhoto = db.prepare(
      `INSERT INTO photos (content_hash, size, status, updated_at) VALUES (?, ?, 'pending', ?)
       ON CONFLICT (content_hash) DO NOTHING RETURNING id`,
    );
    this.idByHash = db.prepare<[string], number>(`SELECT id FROM photos WHERE content_hash = ?`).pluck();
    this.byId = db.prepare(`SELECT ${PHOTO_COLUMNS} FROM photos p WHERE p.id = ?`);
    this.tinyStmt = db.prepare<[number], Buffer | null>(`SELECT tiny FROM photos WHERE id = ?`).pluck();
    this.byHash = db.prepare(`SELECT ${PHOTO_COLUMNS} FROM photos p WHERE p.content_hash = ?`);
    this.statusCounts = db.prepare(`SELECT status, count(*) AS n FROM photos GROUP BY status`);
    this.notIndexed = db.prepare<[], number>(`SELECT id FROM photos WHERE status <> 'indexed'`).pluck();
    this.indexedIdsStmt = db.prepare<[], number>(`SELECT id FROM photos WHERE status = 'indexed' ORDER BY id`).pluck();
    this.indexed = db.prepare(
      `UPDATE photos SET status = 'indexed', width = @width, height = @height, format = @format, taken_at = @takenAt,
         camera_make = @cameraMake, camera_model = @cameraModel, gps_lat = @gpsLat, gps_lon = @gpsLon,
         orientation = @orientation, sharpness = @sharpness, thumbnail = @thumbnail, tiny = @tiny,
         error_code = NULL, error_message = NULL, indexed_at = @at, updated_at = @at
       WHERE id = @id`,
    );
    this.failed = db.prepare(`UPDATE photos SET status = 'failed', error_code = ?, error_message = ?, updated_at = ? WHERE id = ?`);
    this.status = db.prepare(`UPDATE photos SET status = ?, updated_at = ? WHERE id = ?`);
    this.pending = db.prepare(`SELECT ${PHOTO_COLUMNS} FROM photos p WHERE p.status = 'pending' ORDER BY p.id LIMIT ?`);

    this.fileOwner = db.prepare(`SELECT id, photo_id AS photoId FROM photo_files WHERE path = ?`);
    this.fileUpsert = db.prepare(
      `INSERT INTO photo_files (photo_id, folder_id, path, display_path, size, mtime_ms, present, last_seen_at)
       VALUES (@photoId, @folderId, @path, @displayPath, @size, @mtimeMs, 1, @seenAt)
       ON CONFLICT (path) DO UPDATE SET photo_id = excluded.photo_id, folder_id = excluded.folder_id,
         display_path = excluded.display_path, size = excluded.size, mtime_ms = excluded.mtime_ms,
         present = 1, last_seen_at = excluded.last_seen_at
       RETURNING id`,
    );
    this.filesByPhoto = db.prepare(`SELECT ${FILE_COLUMNS} FROM photo_files WHERE photo_id = ? ORDER BY present DESC, display_path, id`);
    this.fileByPathStmt = db.prepare(`SELECT ${FILE_COLUMNS} FROM photo_files WHERE path = ?`);
    this.fileSeen = db.prepare(`UPDATE photo_files SET present = 1, last_seen_at = ? WHERE id = ? RETURNING photo_id AS photoId`);
    this.fileAbsent = db.prepare(`UPDATE photo_files SET present = 0 WHERE path = ? AND present = 1`);
    this.folderFilesAbsent = db.prepare(`UPDATE photo_files SET present = 0 WHERE folder_id = ? AND present = 1 AND last_seen_at < ?`);
    this.revive = db.prepare(`UPDATE photos SET status = ${REVIVED_STATUS}, updated_at = ? WHERE id = ? AND status = 'gone'`);
    const orphan = `NOT EXISTS (SELECT 1 FROM photo_files f WHERE f.photo_id = photos.id AND f.present = 1)`;
    this.goneIfOrphan = db.prepare(`UPDATE photos SET status = 'gone', updated_at = ? WHERE id = ? AND status <> 'gone' AND ${orphan}`);
    this.orphansGone = db.prepare(`UPDATE photos SET status = 'gone', updated_at = ? WHERE status <> 'gone' AND ${orphan}`);
  }

  /**
   * The photo with this content, created as 'pending' if new. An existing photo is left as it is
   * (its status follows its files: see upsertFile). Call it together with upsertFile inside one
   * writeTransaction, or markOrphansGone from another scan could see the new photo without a file.
   */
  upsertByHash(input: { contentHash: string; size: number; at?: string }): { id: number; created: boolean } {
    const at = input.at ?? new Date().toISOString();
    return writeTransaction(this.db, () => {
      const inserted = this.insertPhoto.get(input.contentHash, input.size, at);
      if (inserted) return { id: inserted.id, created: true };
      const id = this.idByHash.get(input.contentHash);
      if (id === undefined) throw new Error(`photo ${input.contentHash} neither inserted nor found`);
      return { id, created: false };
    });
  }

  get(id: number): PhotoRow | undefined {
    return this.byId.get(id);
  }

  getByHash(contentHash: string): PhotoRow | undefined {
    return this.byHash.get(contentHash);
  }

  list(opts: PhotoListOptions): PhotoRow[] {
    const direction = opts.direction ?? 'asc';
    const key = `${opts.orderBy}|${direction}|${opts.status ? 's' : ''}`;
    let stmt = this.listStatements.get(key);
    if (!stmt) {
      const dir = direction === 'desc' ? 'DESC' : 'ASC';
      const sortKey = ORDER_KEYS[opts.orderBy];
      const order = sortKey ? `${sortKey} ${dir} NULLS LAST, p.id ${dir}` : `p.id ${dir}`;
      stmt = this.db.prepare<unknown[], PhotoRow>(
        `SELECT ${PHOTO_COLUMNS} FROM photos p ${opts.status ? 'WHERE p.status = @status' : ''}
         ORDER BY ${order} LIMIT @limit OFFSET @offset`,
      );
      this.listStatements.set(key, stmt);
    }
    const params: Record<string, unknown> = { limit: opts.limit, offset: opts.offset ?? 0 };
    if (opts.status) params.status = opts.status;
    return stmt.all(params);
  }

  /**
   * What duplicate grouping needs of every indexed photo (the keeper rule's facts), without the
   * blobs and text PhotoRow carries: at 100k photos the full rows with their tiny signatures
   * are ~300 MB, these ~20.
   */
  keeperFacts(): KeeperFactsRow[] {
    return this.db.prepare<[], KeeperFactsRow>(
      `SELECT id, content_hash AS contentHash, size, width, height, format, sharpness, taken_at AS takenAt,
         (taken_at IS NOT NULL) + (camera_make IS NOT NULL) + (camera_model IS NOT NULL)
           + (gps_lat IS NOT NULL AND gps_lon IS NOT NULL) + (orientation IS NOT NULL) AS exifFieldCount
       FROM photos WHERE status = 'indexed' ORDER BY id`,
    ).all();
  }

  /** The stored tiny signature of one photo, if any. */
  tinyOf(photoId: number): Uint8Array | undefined {
    const blob = this.tinyStmt.get(photoId);
    return blob ? new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength) : undefined;
  }

  /** Display paths of the present files of every photo that has two or more (byte-identical copies). */
  presentCopies(): Map<number, string[]> {
    const rows = this.db.prepare<[], { photoId: number; displayPath: string }>(
      `SELECT photo_id AS photoId, display_path AS displayPath FROM photo_files
       WHERE present = 1 AND photo_id IN (SELECT photo_id FROM photo_files WHERE present = 1 GROUP BY photo_id HAVING count(*) > 1)
       ORDER BY photo_id, id`,
    ).all();
    const out = new Map<number, string[]>();
    for (const r of rows) out.set(r.photoId, [...(out.get(r.photoId) ?? []), r.displayPath]);
    return out;
  }

  /** Ids of every photo that is pending, failed or gone (few, next to the indexed ones). */
  idsNotIndexed(): number[] {
    return this.notIndexed.all();
  }

  indexedIds(): number[] {
    return this.indexedIdsStmt.all();
  }

  countByStatus(): Record<PhotoStatus, number> {
    const counts: Record<PhotoStatus, number> = { pending: 0, indexed: 0, failed: 0, gone: 0 };
    for (const row of this.statusCounts.all()) counts[row.status] = row.n;
    return counts;
  }

  /** Marks the photo indexed with what indexing found, clearing any earlier error. */
  setIndexed(id: number, fields: PhotoIndexFields, at: string = new Date().toISOString()): boolean {
    return (
      this.indexed.run({
        id,
        at,
        width: fields.width ?? null,
        height: fields.height ?? null,
        format: fields.format ?? null,
        takenAt: fields.takenAt ?? null,
        cameraMake: fields.cameraMake ?? null,
        cameraModel: fields.cameraModel ?? null,
        gpsLat: fields.gpsLat ?? null,
        gpsLon: fields.gpsLon ?? null,
        orientation: fields.orientation ?? null,
        sharpness: fields.sharpness ?? null,
        thumbnail: fields.thumbnail ?? null,
        tiny: fields.tiny ? Buffer.from(fields.tiny.buffer, fields.tiny.byteOffset, fields.tiny.byteLength) : null,
      }).changes > 0
    );
  }

  /** Keeps indexed_at and the metadata of an earlier successful index; only the error is new. */
  setFailed(id: number, code: string, message: string, at: string = new Date().toISOString()): boolean {
    return this.failed.run(code, message, at, id).changes > 0;
  }

  setStatus(id: number, status: PhotoStatus, at: string = new Date().toISOString()): boolean {
    return this.status.run(status, at, id).changes > 0;
  }

  /** The indexer's queue, oldest first. */
  pendingPhotos(limit: number): PhotoRow[] {
    return this.pending.all(limit);
  }

  /**
   * Records that `path` was seen holding photo `photoId`. A path that held other content before now
   * points at the new photo; the old photo goes 'gone' if that was its last present file, and a
   * 'gone' photo seen again returns to the status it had. `movedFromPhotoId` is that old photo.
   */
  upsertFile(input: UpsertFileInput): { id: number; created: boolean; movedFromPhotoId: number | null } {
    return writeTransaction(this.db, () => {
      const before = this.fileOwner.get(input.path);
      const row = this.fileUpsert.get({ ...input, mtimeMs: Math.round(input.mtimeMs) });
      if (!row) throw new Error(`photo file ${input.displayPath} was not written`);
      this.revive.run(input.seenAt, input.photoId);
      let movedFromPhotoId: number | null = null;
      if (before && before.photoId !== input.photoId) {
        movedFromPhotoId = before.photoId;
        this.goneIfOrphan.run(input.seenAt, before.photoId);
      }
      return { id: row.id, created: before === undefined, movedFromPhotoId };
    });
  }

  /**
   * A scan found a known file unchanged (same size and mtime), so it skips hashing: only its
   * last_seen_at moves, and it is present again (its photo too, if it had gone). False if no such file.
   */
  touchFile(fileId: number, seenAt: string): boolean {
    return writeTransaction(this.db, () => {
      const row = this.fileSeen.get(seenAt, fileId);
      if (!row) return false;
      this.revive.run(seenAt, row.photoId);
      return true;
    });
  }

  /** Present files first, then by display path. */
  filesOf(photoId: number): PhotoFileRow[] {
    return this.filesByPhoto.all(photoId).map(toFileRow);
  }

  fileByPath(path: Buffer): PhotoFileRow | undefined {
    const row = this.fileByPathStmt.get(path);
    return row && toFileRow(row);
  }

  /** One file disappeared (a watcher's delete event); its photo goes 'gone' if it had no other present file. */
  markFileMissing(path: Buffer, at: string = new Date().toISOString()): { filesMissing: number; photosGone: number } {
    return writeTransaction(this.db, () => {
      const file = this.fileOwner.get(path);
      if (!file) return { filesMissing: 0, photosGone: 0 };
      const filesMissing = this.fileAbsent.run(path).changes;
      const photosGone = this.goneIfOrphan.run(at, file.photoId).changes;
      return { filesMissing, photosGone };
    });
  }

  /**
   * End of a scan of `folderId` that began at `seenBefore`: its files not seen since are no longer
   * present, and every photo left without a present file (in any folder) is 'gone'.
   */
  markMissingFilesGone(folderId: number, seenBefore: string, at: string = new Date().toISOString()): { filesMissing: number; photosGone: number } {
    return writeTransaction(this.db, () => {
      const filesMissing = this.folderFilesAbsent.run(folderId, seenBefore).changes;
      const photosGone = this.orphansGone.run(at).changes;
      return { filesMissing, photosGone };
    });
  }

  /** Marks 'gone' every photo without a present file, e.g. after FolderRepository.remove. Returns how many. */
  markOrphansGone(at: string = new Date().toISOString()): number {
    return this.orphansGone.run(at).changes;
  }
}
