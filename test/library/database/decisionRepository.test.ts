import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DecisionRepository } from '../../../app/library/database/decisionRepository.js';
import { openLibraryDatabase, type Database } from '../../../app/library/database/libraryDatabase.js';

let dir: string;
let db: Database;
let decisions: DecisionRepository;

const T0 = '2024-05-01T10:00:00.000Z';
const T1 = '2024-05-02T10:00:00.000Z';
const [A, B, C, D] = ['aa11', 'bb22', 'cc33', 'dd44'];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-dec-'));
  db = openLibraryDatabase(path.join(dir, 'library.db'));
  decisions = new DecisionRepository(db);
});
afterEach(() => {
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('DecisionRepository', () => {
  it('a pair decision is order-independent', () => {
    const d = decisions.addPair('not_duplicates', B, A, undefined, T0);
    expect(d).toEqual({
      id: d.id, kind: 'not_duplicates', hashA: A, hashB: B, groupHashes: null, hashes: [A, B], keeperHash: null, createdAt: T0, undoneAt: null,
    });
    expect(decisions.isPairDismissed(A, B)).toBe(true);
    expect(decisions.isPairDismissed(B, A)).toBe(true);
    expect(decisions.isPairDismissed(A, C)).toBe(false);
    expect(() => decisions.addPair('keep', A, A)).toThrow(/two different/);
  });

  it('only active not_duplicates decisions dismiss a pair', () => {
    decisions.addPair('keep', A, B, B);
    decisions.addPair('resolved', C, D, C);
    expect(decisions.isPairDismissed(A, B)).toBe(false);
    expect(decisions.isPairDismissed(D, C)).toBe(false);
  });

  it('a not_duplicates group dismisses every pair inside it, in either order, and no pair across it', () => {
    decisions.addGroup('not_duplicates', [C, A, B]);
    expect(decisions.isPairDismissed(A, C)).toBe(true);
    expect(decisions.isPairDismissed(C, B)).toBe(true);
    expect(decisions.isPairDismissed(A, D)).toBe(false);
    expect(decisions.isPairDismissed(D, C)).toBe(false);
  });

  it('undo deactivates a decision once, keeping it in history', () => {
    const pair = decisions.addPair('not_duplicates', A, B);
    const group = decisions.addGroup('not_duplicates', [B, C, D]);
    expect(decisions.undo(pair.id, T1)).toBe(true);
    expect(decisions.undo(pair.id)).toBe(false);
    expect(decisions.undo(12345)).toBe(false);
    expect(decisions.isPairDismissed(A, B)).toBe(false);
    expect(decisions.listActive().map((d) => d.id)).toEqual([group.id]);
    expect(decisions.get(pair.id)).toMatchObject({ undoneAt: T1 });
    decisions.undo(group.id);
    expect(decisions.isPairDismissed(C, D)).toBe(false);
    expect(decisions.listActive()).toEqual([]);
  });

  it('addGroup sorts and de-duplicates hashes, checks the keeper, and needs two photos', () => {
    const g = decisions.addGroup('keep', [D, B, D, C], C, T0);
    expect(g).toMatchObject({ kind: 'keep', hashA: B, hashB: null, groupHashes: [B, C, D], hashes: [B, C, D], keeperHash: C, createdAt: T0 });
    expect(() => decisions.addGroup('keep', [A, A])).toThrow(/at least two/);
    expect(() => decisions.addGroup('keep', [A, B], C)).toThrow(/keeper/);
    expect(() => decisions.addPair('keep', A, B, D)).toThrow(/keeper/);
    expect(() => decisions.addPair('maybe' as never, A, B)).toThrow(/CHECK/);
  });

  it('listActive is oldest first; resolvedGroups returns active resolved pairs and groups', () => {
    const p1 = decisions.addPair('resolved', B, A, A);
    const g1 = decisions.addGroup('resolved', [D, C, B], D);
    const other = decisions.addGroup('keep', [A, D]);
    const undone = decisions.addGroup('resolved', [A, C]);
    decisions.undo(undone.id);
    expect(decisions.listActive().map((d) => d.id)).toEqual([p1.id, g1.id, other.id]);
    expect(decisions.resolvedGroups()).toEqual([
      { id: p1.id, hashes: [A, B], keeperHash: A, createdAt: p1.createdAt },
      { id: g1.id, hashes: [B, C, D], keeperHash: D, createdAt: g1.createdAt },
    ]);
  });

  it('the schema keeps a decision either a pair or a group', () => {
    const insert = db.prepare(`INSERT INTO duplicate_decisions (kind, hash_a, hash_b, group_hashes, created_at) VALUES ('keep', ?, ?, ?, 't')`);
    expect(() => insert.run(A, B, JSON.stringify([A, B]))).toThrow(/CHECK/);
    expect(() => insert.run(A, null, null)).toThrow(/CHECK/);
    expect(() => insert.run(B, A, null)).toThrow(/CHECK/);
    expect(() => insert.run(A, null, 'not json')).toThrow(/CHECK/);
  });
});
