// The library's schema history (DESIGN.md §2: "the SQLite schema moves only by numbered migrations").
//
// Append-only, in the manner of Signal Desktop: a released migration is never edited, renumbered or
// removed, because users' databases already carry its effects and their `PRAGMA user_version` says so.
// A change to the schema is a new entry with the next version. openLibraryDatabase() applies each
// pending one in its own transaction, with foreign keys switched off and `PRAGMA foreign_key_check`
// run before commit — so a later migration may rebuild a table (create new, copy, drop old, rename)
// the way SQLite's ALTER TABLE documentation prescribes without the drop cascading into child tables.
//
// Conventions the repositories rely on:
// - Tables are STRICT: a JS string bound to a BLOB column is refused instead of stored as TEXT, which
//   would silently never match the Buffer-keyed lookups on photo_files.path / file_failures.path.
// - Timestamps are TEXT in `Date.prototype.toISOString()` form (fixed width, UTC, 'Z'), so comparing
//   them as text is comparing them in time (markMissingFilesGone depends on it).
// - Content hashes are lowercase hex TEXT; a photo is its content, not its path, so descriptors and
//   duplicate decisions survive moves, renames and re-indexing.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial library schema',
    sql: /* sql */ `
      CREATE TABLE folders (
        id           INTEGER PRIMARY KEY,
        path         TEXT NOT NULL UNIQUE,
        added_at     TEXT NOT NULL,
        last_scan_at TEXT,
        status       TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'missing', 'unreadable')),
        error        TEXT
      ) STRICT;

      CREATE TABLE photos (
        id            INTEGER PRIMARY KEY,
        content_hash  TEXT NOT NULL UNIQUE,
        size          INTEGER NOT NULL,
        width         INTEGER,
        height        INTEGER,
        format        TEXT,
        taken_at      TEXT,
        camera_make   TEXT,
        camera_model  TEXT,
        gps_lat       REAL,
        gps_lon       REAL,
        orientation   INTEGER,
        sharpness     REAL,
        status        TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'failed', 'gone')),
        error_code    TEXT,
        error_message TEXT,
        thumbnail     TEXT,
        indexed_at    TEXT,
        updated_at    TEXT NOT NULL
      ) STRICT;
      -- The indexer's queue (pendingPhotos), the status counts and the timeline view.
      CREATE INDEX photos_status ON photos (status, id);
      CREATE INDEX photos_taken_at ON photos (taken_at, id);

      CREATE TABLE photo_files (
        id           INTEGER PRIMARY KEY,
        photo_id     INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        folder_id    INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
        path         BLOB NOT NULL UNIQUE, -- raw path bytes: file names need not be valid UTF-8
        display_path TEXT NOT NULL,
        size         INTEGER NOT NULL,
        mtime_ms     INTEGER NOT NULL,
        present      INTEGER NOT NULL DEFAULT 1 CHECK (present IN (0, 1)),
        last_seen_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX photo_files_photo ON photo_files (photo_id);
      -- Serves both the cascade when a folder is removed and the end-of-scan sweep (folder, last seen).
      CREATE INDEX photo_files_folder ON photo_files (folder_id, last_seen_at);

      -- Column order matters: vector precedes regions so that reading vectors alone (loadAll) stops
      -- before the regions' overflow pages.
      CREATE TABLE descriptors (
        photo_id   INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
        model_id   TEXT NOT NULL,
        dim        INTEGER NOT NULL CHECK (dim > 0),
        vector     BLOB NOT NULL,  -- float32 little-endian, dim values
        regions    BLOB,           -- packed region boxes + vectors; opaque to the store
        created_at TEXT NOT NULL,
        PRIMARY KEY (photo_id, model_id),
        CHECK (length(vector) = 4 * dim)
      ) STRICT;
      -- loadAll / deleteForModel look up by model; the primary key leads with photo_id.
      CREATE INDEX descriptors_model ON descriptors (model_id, photo_id);

      CREATE TABLE file_failures (
        path         BLOB PRIMARY KEY,
        display_path TEXT NOT NULL,
        folder_id    INTEGER REFERENCES folders (id) ON DELETE CASCADE,
        code         TEXT NOT NULL,
        message      TEXT NOT NULL,
        size         INTEGER,
        mtime_ms     INTEGER,
        at           TEXT NOT NULL
      ) STRICT;
      CREATE INDEX file_failures_folder ON file_failures (folder_id);

      -- A decision is either about a pair (hash_b set) or a group (group_hashes set), never both.
      -- Pairs are stored with hash_a < hash_b; groups with hash_a = their smallest hash.
      CREATE TABLE duplicate_decisions (
        id           INTEGER PRIMARY KEY,
        kind         TEXT NOT NULL CHECK (kind IN ('not_duplicates', 'keep', 'resolved')),
        hash_a       TEXT NOT NULL,
        hash_b       TEXT,
        group_hashes TEXT CHECK (group_hashes IS NULL OR json_valid(group_hashes)),
        keeper_hash  TEXT,
        created_at   TEXT NOT NULL,
        undone_at    TEXT,
        CHECK ((hash_b IS NULL) <> (group_hashes IS NULL)),
        CHECK (hash_b IS NULL OR hash_a < hash_b)
      ) STRICT;
      CREATE INDEX duplicate_decisions_pair ON duplicate_decisions (hash_a, hash_b) WHERE undone_at IS NULL;

      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'tiny grey signature per photo',
    // 32×32 grey pixels of the oriented photo: the near-identical tier verifies candidate pairs on
    // them (global descriptors alone score different shots of one landmark as high as copies).
    sql: /* sql */ `
      ALTER TABLE photos ADD COLUMN tiny BLOB;
    `,
  },
  {
    version: 3,
    name: 'files moved to the trash by duplicate decisions',
    // Where each file went, so undoing the decision can put it back (from a .sightline-trash
    // folder; the OS trash has no restore API, so those rows only say where to look).
    sql: /* sql */ `
      CREATE TABLE trashed_files (
        id            INTEGER PRIMARY KEY,
        decision_id   INTEGER NOT NULL REFERENCES duplicate_decisions (id) ON DELETE CASCADE,
        photo_id      INTEGER NOT NULL,
        path          BLOB NOT NULL,
        display_path  TEXT NOT NULL,
        trash_kind    TEXT NOT NULL CHECK (trash_kind IN ('os', 'folder')),
        trash_path    TEXT,
        trashed_at    TEXT NOT NULL,
        restored_at   TEXT
      ) STRICT;
      CREATE INDEX trashed_files_decision ON trashed_files (decision_id);
    `,
  },
];
