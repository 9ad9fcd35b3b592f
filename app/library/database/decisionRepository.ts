// SQL for `duplicate_decisions`: what the user decided about near-duplicates. Keyed by content hash,
// not photo id, so a decision outlives re-indexing, moves, and even a photo being removed and re-added.
// Undo sets undone_at instead of deleting, so history (and redo, should it come) stays possible.
import type Sqlite from 'better-sqlite3';
import type { Database } from './libraryDatabase.js';

export type DecisionKind = 'not_duplicates' | 'keep' | 'resolved';

export interface DecisionRow {
  id: number;
  kind: DecisionKind;
  /** For a pair the smaller hash; for a group its smallest. */
  hashA: string;
  /** Set for pair decisions only. */
  hashB: string | null;
  /** Set for group decisions only, sorted. */
  groupHashes: string[] | null;
  /** Every hash the decision covers, sorted: [hashA, hashB] or groupHashes. */
  hashes: string[];
  keeperHash: string | null;
  createdAt: string;
  undoneAt: string | null;
}

export interface ResolvedGroup {
  id: number;
  hashes: string[];
  keeperHash: string | null;
  createdAt: string;
}

interface RawDecision {
  id: number;
  kind: DecisionKind;
  hashA: string;
  hashB: string | null;
  groupHashes: string | null;
  keeperHash: string | null;
  createdAt: string;
  undoneAt: string | null;
}

const COLUMNS = `id, kind, hash_a AS hashA, hash_b AS hashB, group_hashes AS groupHashes, keeper_hash AS keeperHash,
  created_at AS createdAt, undone_at AS undoneAt`;

function toRow(r: RawDecision): DecisionRow {
  const groupHashes = r.groupHashes === null ? null : (JSON.parse(r.groupHashes) as string[]);
  return { ...r, groupHashes, hashes: groupHashes ?? [r.hashA, r.hashB as string] };
}

export class DecisionRepository {
  private readonly insert: Sqlite.Statement<[DecisionKind, string, string | null, string | null, string | null, string], RawDecision>;
  private readonly undoStmt: Sqlite.Statement<[string, number]>;
  private readonly one: Sqlite.Statement<[number], RawDecision>;
  private readonly active: Sqlite.Statement<[], RawDecision>;
  private readonly activeOfKind: Sqlite.Statement<[DecisionKind], RawDecision>;
  private readonly pairDismissed: Sqlite.Statement<[string, string], number>;
  private readonly groupDismissed: Sqlite.Statement<[string, string], number>;

  constructor(db: Database) {
    this.insert = db.prepare(
      `INSERT INTO duplicate_decisions (kind, hash_a, hash_b, group_hashes, keeper_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)
       RETURNING ${COLUMNS}`,
    );
    this.undoStmt = db.prepare(`UPDATE duplicate_decisions SET undone_at = ? WHERE id = ? AND undone_at IS NULL`);
    this.one = db.prepare(`SELECT ${COLUMNS} FROM duplicate_decisions WHERE id = ?`);
    this.active = db.prepare(`SELECT ${COLUMNS} FROM duplicate_decisions WHERE undone_at IS NULL ORDER BY id`);
    this.activeOfKind = db.prepare(`SELECT ${COLUMNS} FROM duplicate_decisions WHERE undone_at IS NULL AND kind = ? ORDER BY id`);
    this.pairDismissed = db
      .prepare<[string, string], number>(
        `SELECT EXISTS (SELECT 1 FROM duplicate_decisions
           WHERE hash_a = ? AND hash_b = ? AND undone_at IS NULL AND kind = 'not_duplicates')`,
      )
      .pluck();
    this.groupDismissed = db
      .prepare<[string, string], number>(
        `SELECT EXISTS (SELECT 1 FROM duplicate_decisions d
           WHERE d.undone_at IS NULL AND d.kind = 'not_duplicates' AND d.group_hashes IS NOT NULL
             AND EXISTS (SELECT 1 FROM json_each(d.group_hashes) WHERE value = ?)
             AND EXISTS (SELECT 1 FROM json_each(d.group_hashes) WHERE value = ?))`,
      )
      .pluck();
  }

  /** A decision about two photos; the order of the hashes does not matter. */
  addPair(kind: DecisionKind, hashA: string, hashB: string, keeperHash?: string, at: string = new Date().toISOString()): DecisionRow {
    if (hashA === hashB) throw new Error(`a pair decision needs two different photos (got ${hashA} twice)`);
    const [lo, hi] = hashA < hashB ? [hashA, hashB] : [hashB, hashA];
    checkKeeper(keeperHash, [lo, hi]);
    return toRow(this.mustInsert(kind, lo, hi, null, keeperHash ?? null, at));
  }

  /** A decision about a group of photos (duplicates collapse; order does not matter). */
  addGroup(kind: DecisionKind, hashes: readonly string[], keeperHash?: string, at: string = new Date().toISOString()): DecisionRow {
    const sorted = [...new Set(hashes)].sort();
    if (sorted.length < 2) throw new Error(`a group decision needs at least two different photos (got ${sorted.length})`);
    checkKeeper(keeperHash, sorted);
    return toRow(this.mustInsert(kind, sorted[0], null, JSON.stringify(sorted), keeperHash ?? null, at));
  }

  /**
   * "These byte-identical files are settled": the exact tier's decision, about one photo (one
   * hash) found in several files. Stored as a one-hash group so the exact group's key matches it.
   */
  addCopiesResolved(hash: string, at: string = new Date().toISOString()): DecisionRow {
    return toRow(this.mustInsert('resolved', hash, null, JSON.stringify([hash]), hash, at));
  }

  /** Returns false when the decision does not exist or was already undone. */
  undo(id: number, at: string = new Date().toISOString()): boolean {
    return this.undoStmt.run(at, id).changes > 0;
  }

  get(id: number): DecisionRow | undefined {
    const row = this.one.get(id);
    return row && toRow(row);
  }

  /** Decisions not undone, oldest first. */
  listActive(): DecisionRow[] {
    return this.active.all().map(toRow);
  }

  /** Whether an active 'not_duplicates' decision covers both photos, as a pair or within one group. */
  isPairDismissed(hashA: string, hashB: string): boolean {
    const [lo, hi] = hashA < hashB ? [hashA, hashB] : [hashB, hashA];
    return this.pairDismissed.get(lo, hi) === 1 || this.groupDismissed.get(lo, hi) === 1;
  }

  /** Active 'resolved' decisions, pairs included as two-photo groups, oldest first. */
  resolvedGroups(): ResolvedGroup[] {
    return this.activeOfKind.all('resolved').map((r) => {
      const row = toRow(r);
      return { id: row.id, hashes: row.hashes, keeperHash: row.keeperHash, createdAt: row.createdAt };
    });
  }

  private mustInsert(...args: [DecisionKind, string, string | null, string | null, string | null, string]): RawDecision {
    const row = this.insert.get(...args);
    if (!row) throw new Error('duplicate decision was not written');
    return row;
  }
}

function checkKeeper(keeperHash: string | undefined, hashes: readonly string[]): void {
  if (keeperHash !== undefined && !hashes.includes(keeperHash)) {
    throw new Error(`keeper ${keeperHash} is not one of the decision's photos`);
  }
}
