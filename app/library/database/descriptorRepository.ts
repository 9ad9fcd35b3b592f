// SQL for `descriptors`: one global vector per (photo, model). Tagging every vector with the model
// that made it is what lets a model change re-embed only what is stale (DESIGN.md §2).
import os from 'node:os';
import type Sqlite from 'better-sqlite3';
import { readTransaction, type Database } from './libraryDatabase.js';

export interface DescriptorRow {
  photoId: number;
  modelId: string;
  dim: number;
  vector: Float32Array;
  /** Packed region boxes + vectors, in the engine's format; the store does not look inside. */
  regions: Uint8Array | null;
  createdAt: string;
}

/** Every descriptor of one model as a single row-major n × dim block, ready for brute-force search. */
export interface DescriptorMatrix {
  /** ids[i] is the photo whose vector is row i. */
  ids: Int32Array;
  /** 0 when there are no rows. */
  dim: number;
  matrix: Float32Array;
}

export interface LoadAllOptions {
  /** Only photos whose status is 'indexed' (default), so search never returns a 'gone' photo. */
  onlyIndexed?: boolean;
}

export class DescriptorRepository {
  private readonly upsert: Sqlite.Statement<[number, string, number, Buffer, Buffer | null, string]>;
  private readonly one: Sqlite.Statement<[number, string], { dim: number; vector: Buffer; regions: Buffer | null; createdAt: string }>;
  private readonly missing: Sqlite.Statement<[string, number], number>;
  private readonly deleteModel: Sqlite.Statement<[string]>;
  private readonly countModel: Sqlite.Statement<[string], number>;
  private readonly countRows: Record<'all' | 'indexed', Sqlite.Statement<[string], number>>;
  private readonly rows: Record<'all' | 'indexed', Sqlite.Statement<[string], [number, number, Buffer]>>;

  constructor(private readonly db: Database) {
    // Vectors are stored as little-endian float32 and copied byte for byte into Float32Arrays; every
    // platform Electron ships on is little-endian, so this only guards against a silent misread.
    if (os.endianness() !== 'LE') throw new Error('Sightline stores descriptors as little-endian float32; this host is big-endian');
    this.upsert = db.prepare(
      `INSERT INTO descriptors (photo_id, model_id, dim, vector, regions, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (photo_id, model_id) DO UPDATE SET dim = excluded.dim, vector = excluded.vector,
         regions = excluded.regions, created_at = excluded.created_at`,
    );
    this.one = db.prepare(`SELECT dim, vector, regions, created_at AS createdAt FROM descriptors WHERE photo_id = ? AND model_id = ?`);
    this.missing = db
      .prepare<[string, number], number>(
        `SELECT p.id FROM photos p
         WHERE p.status = 'indexed' AND NOT EXISTS (SELECT 1 FROM descriptors d WHERE d.photo_id = p.id AND d.model_id = ?)
         ORDER BY p.id LIMIT ?`,
      )
      .pluck();
    this.deleteModel = db.prepare(`DELETE FROM descriptors WHERE model_id = ?`);
    this.countModel = db.prepare<[string], number>(`SELECT count(*) FROM descriptors WHERE model_id = ?`).pluck();
    const from = {
      all: `FROM descriptors d WHERE d.model_id = ?`,
      indexed: `FROM descriptors d JOIN photos p ON p.id = d.photo_id WHERE d.model_id = ? AND p.status = 'indexed'`,
    };
    // The count touches only indexes (descriptors_model, photos_status), never the vector pages.
    this.countRows = {
      all: db.prepare<[string], number>(`SELECT count(*) ${from.all}`).pluck(),
      indexed: db.prepare<[string], number>(`SELECT count(*) ${from.indexed}`).pluck(),
    };
    this.rows = {
      all: db.prepare<[string], [number, number, Buffer]>(`SELECT d.photo_id, d.dim, d.vector ${from.all} ORDER BY d.photo_id`).raw(),
      indexed: db.prepare<[string], [number, number, Buffer]>(`SELECT d.photo_id, d.dim, d.vector ${from.indexed} ORDER BY d.photo_id`).raw(),
    };
  }

  /** Stores (or replaces) the photo's descriptor for this model. */
  put(photoId: number, modelId: string, vector: Float32Array, regions?: Uint8Array, at: string = new Date().toISOString()): void {
    if (vector.length === 0) throw new Error(`empty descriptor for photo ${photoId}`);
    this.upsert.run(photoId, modelId, vector.length, bytesOf(vector), regions ? bytesOf(regions) : null, at);
  }

  get(photoId: number, modelId: string): DescriptorRow | undefined {
    const row = this.one.get(photoId, modelId);
    if (!row) return undefined;
    return {
      photoId,
      modelId,
      dim: row.dim,
      // Copy: a Buffer from SQLite need not be 4-byte aligned, which a Float32Array view requires.
      vector: new Float32Array(new Uint8Array(row.vector).buffer),
      regions: row.regions,
      createdAt: row.createdAt,
    };
  }

  /** Indexed photos that have no descriptor from `modelId` yet, lowest id first. */
  staleOrMissing(modelId: string, limit: number): number[] {
    return this.missing.all(modelId, limit);
  }

  /**
   * Loads every descriptor of the model into one preallocated block. Count and rows are read in one
   * snapshot, so a concurrent writer cannot make them disagree. All rows of a model must share one
   * dim; a mix means the model id was reused for a different output and is refused.
   */
  loadAll(modelId: string, opts: LoadAllOptions = {}): DescriptorMatrix {
    const which = (opts.onlyIndexed ?? true) ? 'indexed' : 'all';
    return readTransaction(this.db, () => {
      const n = this.countRows[which].get(modelId) ?? 0;
      const ids = new Int32Array(n);
      let dim = 0;
      let matrix = new Float32Array(0);
      let bytes = new Uint8Array(0);
      let i = 0;
      for (const [photoId, rowDim, vector] of this.rows[which].iterate(modelId)) {
        if (i === 0) {
          // Sized from the first row rather than a min/max(dim) query, which would read every page.
          dim = rowDim;
          matrix = new Float32Array(n * dim);
          // Byte copies into a view of the whole block: no per-row Float32Array, no alignment concerns.
          bytes = new Uint8Array(matrix.buffer);
        } else if (rowDim !== dim) {
          throw new Error(`descriptors of model ${modelId} have mixed dimensions (${dim} and ${rowDim})`);
        }
        if (i >= n) throw new Error(`descriptors of model ${modelId} changed while loading`);
        ids[i] = photoId;
        bytes.set(vector, i * dim * 4); // length(vector) = 4 * dim is a CHECK constraint
        i++;
      }
      if (i !== n) throw new Error(`descriptors of model ${modelId} changed while loading`);
      return { ids, dim, matrix };
    });
  }

  /** How many descriptors of the model belong to indexed photos (what the search matrix holds). */
  countIndexed(modelId: string): number {
    return this.countRows.indexed.get(modelId) ?? 0;
  }

  /** How many descriptors the model has, whatever their photos' status. */
  count(modelId: string): number {
    return this.countModel.get(modelId) ?? 0;
  }

  /** Drops every descriptor of a model (e.g. one the user removed). Returns how many. */
  deleteForModel(modelId: string): number {
    return this.deleteModel.run(modelId).changes;
  }
}

/** A Buffer over the same memory (no copy): what better-sqlite3 binds as a BLOB. */
function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
