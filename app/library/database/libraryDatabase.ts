// Opening the library's SQLite file: connection settings, schema migrations, and the refusals that
// keep us from writing into a file we do not understand.
import fs from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Database = Sqlite.Database;
/** The same connection type, under the name the library's services use. */
export type LibraryDatabase = Database;

/** 'SLIB' in the header's application_id, so an unrelated SQLite file is recognised as such. */
export const SIGHTLINE_APPLICATION_ID = 0x534c4942;

/**
 * Page size of a new library file (fixed once the file exists in WAL mode). Descriptor rows are
 * 4·dim bytes plus ~75, and a row just over half a page leaves the other half empty: at SQLite's
 * default 4 KiB, 512-d rows took one page each (100k: 441 MB, vs 249 MB at 32 KiB, loadAll ~1.5× slower).
 * 32 KiB packs ≥ 76 % full for every power-of-two dim up to 2048 and 1280 (MobileNetV2); it costs
 * ~0.3 ms per small commit instead of ~0.1 ms, negligible beside decoding and inference.
 */
export const NEW_DATABASE_PAGE_SIZE = 32768;

export type LibraryDatabaseErrorCode = 'not_a_database' | 'foreign_database' | 'newer_schema' | 'outdated_readonly' | 'migration_failed';

/** Why a library file could not be opened; `code` lets the UI say something better than the message. */
export class LibraryDatabaseError extends Error {
  constructor(
    readonly code: LibraryDatabaseErrorCode,
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LibraryDatabaseError';
  }
}

export function currentSchemaVersion(): number {
  return MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
}

export interface OpenLibraryDatabaseOptions {
  /** Open without writing anything: no folder creation, no migrations (an outdated file is refused). */
  readonly?: boolean;
}

export function openLibraryDatabase(file: string, opts: OpenLibraryDatabaseOptions = {}): Database {
  checkMigrationList(MIGRATIONS);
  const readonly = opts.readonly ?? false;
  const inMemory = file === ':memory:' || file === '';
  if (!readonly && !inMemory) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });

  // Electron runs a different ABI than the Node that tests and the CLI use: the desktop app points
  // SIGHTLINE_SQLITE_BINDING at its own build of the addon, leaving node_modules' build untouched.
  const nativeBinding = process.env.SIGHTLINE_SQLITE_BINDING || undefined;
  const db = new Sqlite(file, { readonly, fileMustExist: readonly, timeout: 5000, nativeBinding });
  try {
    // SQLite opens lazily: a file that is not a database is only detected at its first read, which
    // is here. Translate that one error, name the file, and let anything else through unchanged.
    try {
      db.pragma('schema_version', { simple: true });
    } catch (err) {
      if (isSqliteError(err, 'SQLITE_NOTADB')) {
        throw new LibraryDatabaseError('not_a_database', file, `${file} is not a Sightline library: it is not a SQLite database`, { cause: err });
      }
      throw err;
    }
    if (!readonly && (db.pragma('page_count', { simple: true }) as number) === 0) db.pragma(`page_size = ${NEW_DATABASE_PAGE_SIZE}`);
    // WAL lets the search read while the indexer writes. NORMAL in WAL mode survives application
    // crashes intact; a power loss can drop the last few commits but never corrupts the file.
    if (!readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');

    if (readonly) checkReadonlyVersion(db, file);
    else migrate(db, file);

    db.pragma('foreign_keys = ON');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Runs `fn` in one write transaction (BEGIN IMMEDIATE), or in a savepoint when already inside one.
 * IMMEDIATE takes the write lock up front: a deferred transaction that reads first and writes later
 * fails with SQLITE_BUSY, without waiting, if another connection committed in between.
 *
 * The repositories wrap their own multi-statement methods with it. Work made of several repository
 * calls that must land together (a scanned file's upsertByHash + upsertFile; a folder's remove +
 * photos.markOrphansGone) is wrapped by the caller with this helper.
 */
export function writeTransaction<T>(db: Database, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/** A read snapshot: several statements see the same state even while another connection commits. */
export function readTransaction<T>(db: Database, fn: () => T): T {
  return db.transaction(fn).deferred();
}

function migrate(db: Database, file: string): void {
  const target = currentSchemaVersion();
  const found = userVersion(db);
  refuseNewer(found, file);
  if (found === target) return;
  if (found === 0) refuseForeign(db, file);

  // Foreign keys off so a table rebuild in a migration does not cascade (the pragma is a no-op
  // inside a transaction, hence out here); foreign_key_check inside each transaction stands in.
  db.pragma('foreign_keys = OFF');
  try {
    for (const migration of MIGRATIONS) {
      if (migration.version <= found) continue;
      writeTransaction(db, () => {
        // Another process may have migrated while we waited for the write lock.
        const now = userVersion(db);
        refuseNewer(now, file);
        if (now >= migration.version) return;
        applyMigration(db, file, migration);
      });
    }
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

function applyMigration(db: Database, file: string, migration: Migration): void {
  try {
    db.exec(migration.sql);
    const violations = db.pragma('foreign_key_check') as unknown[];
    if (violations.length > 0) throw new Error(`${violations.length} foreign key violation(s), first: ${JSON.stringify(violations[0])}`);
    if (migration.version === 1) db.pragma(`application_id = ${SIGHTLINE_APPLICATION_ID}`);
    db.pragma(`user_version = ${migration.version}`);
  } catch (err) {
    throw new LibraryDatabaseError(
      'migration_failed',
      file,
      `${file}: migration ${migration.version} (${migration.name}) failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function checkReadonlyVersion(db: Database, file: string): void {
  const found = userVersion(db);
  refuseNewer(found, file);
  if (found === 0) refuseForeign(db, file);
  if (found < currentSchemaVersion()) {
    throw new LibraryDatabaseError(
      'outdated_readonly',
      file,
      `${file} has library schema version ${found}, this Sightline needs ${currentSchemaVersion()}: open it once for writing to upgrade it`,
    );
  }
}

function refuseNewer(found: number, file: string): void {
  if (found > currentSchemaVersion()) {
    throw new LibraryDatabaseError(
      'newer_schema',
      file,
      `${file} was created by a newer Sightline (library schema version ${found}, this version knows up to ${currentSchemaVersion()}): update Sightline to open it`,
    );
  }
}

/** At version 0 the file must be empty or ours; we never add tables to another program's database. */
function refuseForeign(db: Database, file: string): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const objects = db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number;
  if ((appId !== 0 && appId !== SIGHTLINE_APPLICATION_ID) || (appId === 0 && objects > 0)) {
    throw new LibraryDatabaseError('foreign_database', file, `${file} is a SQLite database but not a Sightline library`);
  }
}

function userVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function isSqliteError(err: unknown, code: string): boolean {
  return err instanceof Sqlite.SqliteError && (err as { code?: string }).code === code;
}

/** The list is append-only and numbered 1, 2, 3…; a gap or a reordering is a programming error. */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 1, 2, 3… in order: entry ${i} has version ${m.version}`);
  });
}
