import { describe, expect, it } from 'vitest';
import type { DuplicateGroup, DuplicateMember, DuplicateTier, Status, UndoResult } from '../../../app/api/contract.js';
import { DecisionHistory, DECISION_HISTORY_STORAGE_KEY, type HistoryStorage } from '../../../renderer/views/duplicates/decisionHistory.js';
import { DuplicatesState } from '../../../renderer/views/duplicates/duplicatesState.svelte.js';
import { errorText } from '../../../renderer/state/reportingClient.js';
import { deferred, fakeApiClient, type FakeHandlers } from './fakeApiClient.js';

const RULE = 'largest resolution, then sharpest';

function member(photoId: number, extra: Partial<DuplicateMember> = {}): DuplicateMember {
  return {
    photoId,
    score: 0.99,
    path: `/photos/p${photoId}.jpg`,
    name: `p${photoId}.jpg`,
    width: 1000,
    height: 800,
    size: 100_000,
    format: 'jpeg',
    sharpness: 10,
    takenAt: null,
    ...extra,
  };
}

function group(key: string, tier: DuplicateTier, ids: number[], keeper = ids[0]): DuplicateGroup {
  return {
    key,
    tier,
    members: ids.map((id) => member(id, { score: id === ids[0] ? 1 : 0.99 })),
    keeper,
    keeperReason: `largest resolution (p${keeper})`,
    files: [],
    keeperFile: null,
  };
}

/** An exact-tier group as the core lists it: one photo, its byte-identical files, the suggested one first. */
function copiesGroup(key: string, photoId: number, files: string[]): DuplicateGroup {
  return {
    key,
    tier: 'exact',
    members: [member(photoId, { score: 1, path: files[0], name: 'x.jpg' })],
    keeper: photoId,
    keeperReason: `${files.length} byte-identical files: keep the one with the shortest path`,
    files,
    keeperFile: files[0],
  };
}

const COPIES = ['/a/x.jpg', '/b/x.jpg', '/c/d/x.jpg'];

function status(trash: Status['trash']): Status {
  return {
    database: '/tmp/library.db',
    model: { id: 'm', name: 'model', dimension: 8, whitened: false, regions: 'grid', executionProviders: ['cpu'] },
    photos: { pending: 0, indexed: 10, failed: 0, gone: 0 },
    failures: 0,
    folders: [],
    indexing: { state: 'idle', progress: null, lastSummary: null, lastError: null },
    trash,
  };
}

class MemoryStorage implements HistoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

/** A stand-in for the core's decisions: decided groups stop being listed until undone. */
function fakeCore(
  groups: DuplicateGroup[],
  options: { trash?: Status['trash']; undo?: Partial<UndoResult>; overrides?: FakeHandlers; listed?: (group: DuplicateGroup) => boolean } = {},
) {
  const decisions = new Map<number, DuplicateGroup>();
  const resolved = new Set<string>();
  let nextDecision = 41;
  const fake = fakeApiClient({
    duplicateGroups: () => ({ rule: RULE, groups: groups.filter((g) => !resolved.has(g.key) && (options.listed?.(g) ?? true)) }),
    getStatus: () => status(options.trash ?? 'folder'),
    decideDuplicates: (input) => {
      const decided = groups.find((g) => g.tier !== 'exact' && g.members.map((m) => m.photoId).join() === input.members.join());
      if (!decided) throw new Error('no such group');
      resolved.add(decided.key);
      const id = ++nextDecision;
      decisions.set(id, decided);
      const others = decided.members.filter((m) => m.photoId !== input.keeper).map((m) => m.path);
      return { decisionId: id, trashed: input.action === 'trash_others' ? others : [], trashFailures: [] };
    },
    decideCopies: (input) => {
      const decided = groups.find((g) => g.tier === 'exact' && g.keeper === input.photoId);
      if (!decided) throw new Error('no such photo');
      resolved.add(decided.key);
      const id = ++nextDecision;
      decisions.set(id, decided);
      return { decisionId: id, trashed: input.action === 'trash_others' ? decided.files.filter((f) => f !== input.keepPath) : [], trashFailures: [] };
    },
    undoDecision: ({ decisionId }) => {
      const decided = decisions.get(decisionId);
      if (!decided) return { undone: false, restored: [], notRestored: [] };
      decisions.delete(decisionId);
      resolved.delete(decided.key);
      return { undone: true, restored: [], notRestored: [], ...options.undo };
    },
    ...options.overrides,
  });
  return fake;
}

function newState(fake: ReturnType<typeof fakeApiClient>, storage: HistoryStorage | null = null) {
  const errors: string[] = [];
  const state = new DuplicatesState({ client: fake.client, onError: (e) => errors.push(errorText(e)), history: new DecisionHistory(storage) });
  return { state, errors };
}

const LIBRARY = () => [
  group('near-a', 'near', [1, 2, 3]),
  group('near-b', 'near', [4, 5], 5),
  group('near-c', 'near', [6, 7]),
  group('similar-a', 'similar', [8, 9]),
];

describe('DuplicatesState loading', () => {
  it('splits groups by tier, opens the first tier with groups and selects its first group', async () => {
    const { state, errors } = newState(fakeCore(LIBRARY()));
    expect(state.loaded).toBe(false);
    await state.load();
    expect(errors).toEqual([]);
    expect(state.loaded).toBe(true);
    expect(state.tierCounts).toEqual({ exact: 0, near: 3, similar: 1 });
    expect(state.totalCount).toBe(4);
    expect(state.tier).toBe('near');
    expect(state.selectedGroup?.key).toBe('near-a');
    expect(state.rule).toBe(RULE);
    expect(state.trashKind).toBe('folder');
  });

  it('prefers the exact tier when it has groups, and keeps a tab the user chose', async () => {
    const fake = fakeCore([copiesGroup('exact-a', 10, COPIES), ...LIBRARY()]);
    const { state } = newState(fake);
    await state.load();
    expect(state.tier).toBe('exact');
    state.setTier('similar');
    await state.load();
    expect(state.tier).toBe('similar');
    expect(state.selectedGroup?.key).toBe('similar-a');
  });

  it('reports a failed load through onError and stops loading', async () => {
    const fake = fakeApiClient({
      duplicateGroups: () => {
        throw new Error('database is locked');
      },
      getStatus: () => status('os'),
    });
    const { state, errors } = newState(fake);
    await state.load();
    expect(errors).toEqual(['database is locked']);
    expect(state.loaded).toBe(true);
    expect(state.loading).toBe(false);
    expect(state.totalCount).toBe(0);
  });

  it('keeps the selected group across reloads, or the one that took its place', async () => {
    const groups = LIBRARY();
    const fake = fakeApiClient({ duplicateGroups: () => ({ rule: RULE, groups: [...groups] }), getStatus: () => status('os') });
    const { state } = newState(fake);
    await state.load();
    state.moveSelection(1);
    expect(state.selectedGroup?.key).toBe('near-b');
    await state.load();
    expect(state.selectedGroup?.key).toBe('near-b');
    groups.splice(1, 1);
    await state.load();
    expect(state.selectedGroup?.key).toBe('near-c');
  });

  it('runs one more load, not one per request, when reloads are asked for during a load', async () => {
    const hold = deferred<void>();
    let calls = 0;
    const fake = fakeCore(LIBRARY(), {
      overrides: {
        duplicateGroups: async () => {
          if (++calls === 1) await hold.promise;
          return { rule: RULE, groups: LIBRARY() };
        },
      },
    });
    const { state } = newState(fake);
    const first = state.reload();
    await state.reload();
    await state.reload();
    hold.resolve();
    await first;
    expect(calls).toBe(2);
    expect(state.loading).toBe(false);
  });

  it('asks for the trash kind once', async () => {
    const fake = fakeCore(LIBRARY(), { trash: 'os' });
    const { state } = newState(fake);
    await state.load();
    await state.load();
    expect(fake.callsOf('getStatus')).toHaveLength(1);
    expect(state.trashKind).toBe('os');
  });
});

describe('DuplicatesState navigation and keeper', () => {
  it('moves between groups and stops at either end', async () => {
    const { state } = newState(fakeCore(LIBRARY()));
    await state.load();
    state.moveSelection(-1);
    expect(state.selectedIndex).toBe(0);
    state.moveSelection(1);
    state.moveSelection(1);
    state.moveSelection(1);
    expect(state.selectedGroup?.key).toBe('near-c');
    state.setTier('similar');
    expect(state.selectedGroup?.key).toBe('similar-a');
  });

  it('uses the suggested keeper until the user picks another, and can go back to it', async () => {
    const { state } = newState(fakeCore(LIBRARY()));
    await state.load();
    const g = state.selectedGroup!;
    expect(state.keeperOf(g)).toBe(1);
    state.chooseKeeper(g, 3);
    expect(state.keeperOf(g)).toBe(3);
    expect(state.keeperIndex(g)).toBe(2);
    expect(state.isKeeperChanged(g)).toBe(true);
    state.stepKeeper(1);
    expect(state.keeperOf(g)).toBe(1);
    expect(state.isKeeperChanged(g)).toBe(false);
    state.stepKeeper(-1);
    expect(state.keeperOf(g)).toBe(3);
    state.chooseKeeper(g, 99);
    expect(state.keeperOf(g)).toBe(3);
  });
});

describe('DuplicatesState exact tier: copies of one photo', () => {
  it("marks the core's suggested copy, lets the user pick another by click or arrows, and back", async () => {
    const { state } = newState(fakeCore([copiesGroup('exact-a', 10, COPIES), ...LIBRARY()]));
    await state.load();
    const g = state.selectedGroup!;
    expect(g.tier).toBe('exact');
    expect(state.canDecide(g)).toBe(true);
    expect(state.suggestedFile(g)).toBe('/a/x.jpg');
    expect(state.keepFileOf(g)).toBe('/a/x.jpg');
    expect(state.isKeepFileChanged(g)).toBe(false);
    state.chooseKeepFile(g, '/c/d/x.jpg');
    expect(state.keepFileOf(g)).toBe('/c/d/x.jpg');
    expect(state.isKeepFileChanged(g)).toBe(true);
    // ← / → step through the files, wrapping; the photo keeper is untouched.
    state.stepKeeper(1);
    expect(state.keepFileOf(g)).toBe('/a/x.jpg');
    expect(state.isKeepFileChanged(g)).toBe(false);
    state.stepKeeper(-1);
    state.stepKeeper(-1);
    expect(state.keepFileOf(g)).toBe('/b/x.jpg');
    expect(state.keeperOf(g)).toBe(10);
    state.chooseKeepFile(g, '/elsewhere/x.jpg');
    expect(state.keepFileOf(g)).toBe('/b/x.jpg');
    // A pick survives a reload while the group is listed.
    await state.load();
    expect(state.keepFileOf(state.selectedGroup!)).toBe('/b/x.jpg');
  });

  it('offers no comparison and no "not duplicates" for copies of one photo', async () => {
    const fake = fakeCore([copiesGroup('exact-a', 10, COPIES)]);
    const { state } = newState(fake);
    await state.load();
    const g = state.selectedGroup!;
    expect(state.canCompare(g)).toBe(false);
    expect(state.canDo(g, 'not_duplicates')).toBe(false);
    expect(state.canDo(g, 'keep_all')).toBe(true);
    state.openCompare();
    expect(state.compare).toBeNull();
    expect(await state.decide('not_duplicates')).toBe(false);
    expect(fake.calls.filter((c) => c.method.startsWith('decide'))).toEqual([]);
  });

  it('has nothing to decide while fewer than two files are listed', async () => {
    const { state } = newState(fakeCore([copiesGroup('exact-a', 10, ['/a/x.jpg'])]));
    await state.load();
    expect(state.canDecide(state.selectedGroup!)).toBe(false);
    expect(await state.decide('keep_all')).toBe(false);
  });

  it('keeps the picked copy and moves the others to the trash through decideCopies', async () => {
    const fake = fakeCore([copiesGroup('exact-a', 10, COPIES), copiesGroup('exact-b', 11, ['/a/y.jpg', '/b/y.jpg'])], { trash: 'folder' });
    const { state } = newState(fake);
    await state.load();
    state.stepKeeper(1);
    expect(state.trashPlan(state.selectedGroup!)).toEqual({
      kind: 'copies',
      keepPath: '/b/x.jpg',
      keepName: 'x.jpg',
      trashPaths: ['/a/x.jpg', '/c/d/x.jpg'],
      complete: true,
      photoCount: 0,
    });
    expect(await state.decide('trash_others')).toBe(true);
    expect(fake.callsOf('decideCopies')).toEqual([{ photoId: 10, action: 'trash_others', keepPath: '/b/x.jpg' }]);
    expect(fake.callsOf('decideDuplicates')).toEqual([]);
    expect(state.visibleGroups.map((g) => g.key)).toEqual(['exact-b']);
    expect(state.selectedGroup?.key).toBe('exact-b');
    expect(state.notice).toEqual({ message: 'Kept b/x.jpg, moved 2 copies to a .sightline-trash folder in its library folder.', details: [], tone: 'ok' });
    expect(state.latestUndoable).toMatchObject({ decisionId: 42, action: 'trash_others', groupKey: 'exact-a', tier: 'exact', label: 'x.jpg', memberCount: 3, copies: true });
  });

  it('keeps all copies without naming a file to keep', async () => {
    const fake = fakeCore([copiesGroup('exact-a', 10, COPIES)]);
    const { state } = newState(fake);
    await state.load();
    state.stepKeeper(1);
    await state.decide('keep_all');
    expect(fake.callsOf('decideCopies')).toEqual([{ photoId: 10, action: 'keep_all' }]);
    expect(state.notice?.message).toBe('Kept all 3 copies of x.jpg.');
    expect(state.totalCount).toBe(0);
  });

  it('warns about copies the core could not move', async () => {
    const fake = fakeCore([copiesGroup('exact-a', 10, COPIES)], {
      trash: 'os',
      overrides: { decideCopies: () => ({ decisionId: 5, trashed: ['/b/x.jpg'], trashFailures: [{ path: '/c/d/x.jpg', reason: 'read-only' }] }) },
    });
    const { state } = newState(fake);
    await state.load();
    await state.decide('trash_others');
    expect(state.notice).toEqual({
      message: 'Kept a/x.jpg, moved 1 copy to the system trash. 1 copy could not be moved.',
      details: ['Not moved: /c/d/x.jpg — read-only'],
      tone: 'warning',
    });
  });

  it('keeps the group and hands the error on when decideCopies fails', async () => {
    const failure = new Error('Photo 10 has 1 file on disk now');
    const fake = fakeCore([copiesGroup('exact-a', 10, COPIES)], {
      overrides: {
        decideCopies: () => {
          throw failure;
        },
      },
    });
    const seen: unknown[] = [];
    const state = new DuplicatesState({ client: fake.client, onError: (e) => seen.push(e) });
    await state.load();
    expect(await state.decide('trash_others')).toBe(false);
    expect(seen).toEqual([failure]);
    expect(state.visibleGroups).toHaveLength(1);
    expect(state.latestUndoable).toBeNull();
  });

  it('undoes a decision on copies and selects the group once the core lists it again', async () => {
    // Files put back are found by the core's reconciliation: the group is listed again a load later.
    let listed = true;
    const fake = fakeCore([copiesGroup('exact-a', 10, COPIES), ...LIBRARY()], {
      undo: { restored: ['/a/x.jpg', '/c/d/x.jpg'] },
      listed: (g) => listed || g.key !== 'exact-a',
    });
    const { state } = newState(fake);
    await state.load();
    state.stepKeeper(1);
    await state.decide('trash_others');
    state.setTier('near');
    listed = false;
    expect(await state.undo()).toBe(true);
    expect(fake.callsOf('undoDecision')).toEqual([{ decisionId: 42 }]);
    expect(state.notice?.message).toBe('Undid “Move other copies to trash” on the copies of x.jpg. 2 files put back.');
    expect(state.notice?.details).toEqual(['Put back: /a/x.jpg', 'Put back: /c/d/x.jpg']);
    expect(state.tierCounts.exact).toBe(0);
    listed = true;
    await state.load();
    expect(state.tier).toBe('exact');
    expect(state.selectedGroup?.key).toBe('exact-a');
    // The pick was forgotten with the decision: the suggestion is back.
    expect(state.keepFileOf(state.selectedGroup!)).toBe('/a/x.jpg');
  });

  it('forgets the group to select after an undo once the user moves on', async () => {
    let listed = true;
    const fake = fakeCore([copiesGroup('exact-a', 10, COPIES), ...LIBRARY()], { listed: (g) => listed || g.key !== 'exact-a' });
    const { state } = newState(fake);
    await state.load();
    await state.decide('keep_all');
    listed = false;
    await state.undo();
    state.setTier('near');
    state.moveSelection(1);
    listed = true;
    await state.load();
    expect(state.tier).toBe('near');
    expect(state.selectedGroup?.key).toBe('near-b');
  });
});

describe('DuplicatesState trash plan', () => {
  it('lists every file of each photo that would move, once the files are in', async () => {
    const hold = deferred<void>();
    const fake = fakeCore(LIBRARY(), {
      overrides: {
        getPhoto: async ({ photoId }) => {
          await hold.promise;
          return {
            id: photoId, width: 10, height: 10, takenAt: null, path: `/photos/p${photoId}.jpg`, name: `p${photoId}.jpg`, status: 'indexed', contentHash: 'h',
            size: 5, format: 'jpeg', cameraMake: null, cameraModel: null, gpsLat: null, gpsLon: null, sharpness: null, errorCode: null, errorMessage: null,
            files: [
              { path: `/photos/p${photoId}.jpg`, present: true, size: 5 },
              { path: `/copies/p${photoId}.jpg`, present: photoId === 2, size: 5 },
            ],
          };
        },
      },
    });
    const { state } = newState(fake);
    await state.load();
    const g = state.selectedGroup!;
    state.chooseKeeper(g, 3);
    state.prepareTrashPlan(g);
    state.prepareTrashPlan(g);
    expect(state.trashPlan(g)).toEqual({ kind: 'photos', keepPath: '/photos/p3.jpg', keepName: 'p3.jpg', trashPaths: ['/photos/p1.jpg', '/photos/p2.jpg'], complete: false, photoCount: 2 });
    hold.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(fake.callsOf('getPhoto')).toEqual([{ photoId: 1 }, { photoId: 2 }]);
    expect(state.trashPlan(g)).toMatchObject({ trashPaths: ['/photos/p1.jpg', '/photos/p2.jpg', '/copies/p2.jpg'], complete: true });
  });
});

describe('DuplicatesState comparison', () => {
  it('opens on the keeper and another member, and steps each side past the other', async () => {
    const { state } = newState(fakeCore(LIBRARY()));
    await state.load();
    state.moveSelection(1);
    state.openCompare();
    // near-b's keeper (5) is its second member.
    expect(state.compare).toEqual({ groupKey: 'near-b', left: 1, right: 0 });
    state.stepCompare('right', 1);
    expect(state.compare?.right).toBe(0);
    state.moveSelection(-1);
    state.openCompare();
    expect(state.compare).toEqual({ groupKey: 'near-a', left: 0, right: 1 });
    state.stepCompare('right', 1);
    expect(state.compare?.right).toBe(2);
    state.stepCompare('right', 1);
    expect(state.compare?.right).toBe(1);
    state.stepCompare('left', -1);
    expect(state.compare?.left).toBe(2);
    state.swapCompare();
    expect(state.compare).toMatchObject({ left: 1, right: 2 });
    state.keepFromCompare('right');
    expect(state.keeperOf(state.selectedGroup!)).toBe(3);
    state.closeCompare();
    expect(state.compare).toBeNull();
  });
});

describe('DuplicatesState decisions', () => {
  it('sends keep_all with the chosen keeper, hides the group and selects the next one', async () => {
    const fake = fakeCore(LIBRARY());
    const { state } = newState(fake);
    await state.load();
    state.chooseKeeper(state.selectedGroup!, 2);
    expect(await state.decide('keep_all')).toBe(true);
    expect(fake.callsOf('decideDuplicates')).toEqual([{ action: 'keep_all', members: [1, 2, 3], keeper: 2 }]);
    expect(state.visibleGroups.map((g) => g.key)).toEqual(['near-b', 'near-c']);
    expect(state.selectedGroup?.key).toBe('near-b');
    expect(state.tierCounts.near).toBe(2);
    expect(state.latestUndoable).toMatchObject({ decisionId: 42, action: 'keep_all', groupKey: 'near-a', label: 'p2.jpg' });
    expect(state.notice?.message).toContain('Kept all 3 photos');
  });

  it('sends not_duplicates without a keeper', async () => {
    const fake = fakeCore(LIBRARY());
    const { state } = newState(fake);
    await state.load();
    await state.decide('not_duplicates');
    expect(fake.callsOf('decideDuplicates')).toEqual([{ action: 'not_duplicates', members: [1, 2, 3] }]);
    expect(state.notice?.message).toMatch(/not duplicates/);
  });

  it('says where trash_others put the files, and warns about files it could not move', async () => {
    const fake = fakeCore(LIBRARY(), {
      trash: 'folder',
      overrides: {
        decideDuplicates: () => ({ decisionId: 7, trashed: ['/photos/p2.jpg'], trashFailures: [{ path: '/photos/p3.jpg', reason: 'read-only' }] }),
      },
    });
    const { state } = newState(fake);
    await state.load();
    await state.decide('trash_others');
    expect(fake.callsOf('decideDuplicates')).toEqual([{ action: 'trash_others', members: [1, 2, 3], keeper: 1 }]);
    expect(state.notice?.message).toContain('moved 1 file to a .sightline-trash folder');
    expect(state.notice?.tone).toBe('warning');
    expect(state.notice?.details).toEqual(['Not moved: /photos/p3.jpg — read-only']);
  });

  it('names the system trash when the core uses it', async () => {
    const { state } = newState(fakeCore(LIBRARY(), { trash: 'os' }));
    await state.load();
    await state.decide('trash_others');
    expect(state.notice?.message).toBe('Kept p1.jpg, moved 2 files to the system trash.');
  });

  it('keeps the group and reports the error when the core refuses', async () => {
    const fake = fakeCore(LIBRARY(), {
      overrides: {
        decideDuplicates: () => {
          throw new Error('trash_others needs a keeper');
        },
      },
    });
    const { state, errors } = newState(fake);
    await state.load();
    expect(await state.decide('trash_others')).toBe(false);
    expect(errors).toEqual(['trash_others needs a keeper']);
    expect(state.visibleGroups).toHaveLength(3);
    expect(state.latestUndoable).toBeNull();
    expect(state.busy).toBe(false);
  });

  it('does not bring a decided group back from a load that started before the decision', async () => {
    const groups = LIBRARY();
    let hold: ReturnType<typeof deferred<void>> | null = null;
    const fake = fakeCore(groups, {
      overrides: {
        duplicateGroups: async () => {
          const snapshot = { rule: RULE, groups: [...groups] };
          if (hold) await hold.promise;
          return snapshot;
        },
        decideDuplicates: (input) => {
          const index = groups.findIndex((g) => g.members.map((m) => m.photoId).join() === input.members.join());
          groups.splice(index, 1);
          return { decisionId: 1, trashed: [], trashFailures: [] };
        },
      },
    });
    const { state } = newState(fake);
    await state.load();
    hold = deferred<void>();
    const staleLoad = state.load();
    await state.decide('keep_all');
    hold.resolve();
    await staleLoad;
    expect(state.visibleGroups.map((g) => g.key)).toEqual(['near-b', 'near-c']);
    hold = null;
    await state.load();
    expect(state.visibleGroups.map((g) => g.key)).toEqual(['near-b', 'near-c']);
  });

  it('closes the comparison of a decided group', async () => {
    const { state } = newState(fakeCore(LIBRARY()));
    await state.load();
    state.openCompare();
    await state.decide('keep_all');
    expect(state.compare).toBeNull();
  });
});

describe('DuplicatesState undo', () => {
  it('undoes the newest decision, lists the group again and selects it', async () => {
    const fake = fakeCore(LIBRARY(), { undo: { restored: ['/photos/p2.jpg', '/photos/p3.jpg'] } });
    const { state } = newState(fake);
    await state.load();
    await state.decide('trash_others');
    state.setTier('similar');
    expect(await state.undo()).toBe(true);
    expect(fake.callsOf('undoDecision')).toEqual([{ decisionId: 42 }]);
    expect(state.tier).toBe('near');
    expect(state.selectedGroup?.key).toBe('near-a');
    expect(state.latestUndoable).toBeNull();
    expect(state.notice?.message).toBe('Undid “Move others to trash” on the p1.jpg group. 2 files put back.');
    expect(state.notice?.details).toEqual(['Put back: /photos/p2.jpg', 'Put back: /photos/p3.jpg']);
  });

  it('shows the files the core could not put back', async () => {
    const fake = fakeCore(LIBRARY(), { undo: { notRestored: [{ path: '/photos/p2.jpg', reason: 'it went to the system trash' }] } });
    const { state } = newState(fake);
    await state.load();
    await state.decide('trash_others');
    await state.undo();
    expect(state.notice?.tone).toBe('warning');
    expect(state.notice?.message).toContain('1 file must be restored by hand');
    expect(state.notice?.details).toEqual(['Not put back: /photos/p2.jpg — it went to the system trash']);
  });

  it('undoes decisions newest first', async () => {
    const fake = fakeCore(LIBRARY());
    const { state } = newState(fake);
    await state.load();
    await state.decide('keep_all');
    await state.decide('not_duplicates');
    await state.undo();
    await state.undo();
    expect(fake.callsOf('undoDecision')).toEqual([{ decisionId: 43 }, { decisionId: 42 }]);
    expect(await state.undo()).toBe(false);
    expect(state.visibleGroups).toHaveLength(3);
  });

  it('drops a decision the core had already undone, with a warning', async () => {
    const fake = fakeCore(LIBRARY(), { overrides: { undoDecision: () => ({ undone: false, restored: [], notRestored: [] }) } });
    const { state } = newState(fake);
    await state.load();
    await state.decide('keep_all');
    expect(await state.undo()).toBe(false);
    expect(state.notice?.tone).toBe('warning');
    expect(state.latestUndoable).toBeNull();
  });

  it('keeps the decision undoable when the undo call fails', async () => {
    const fake = fakeCore(LIBRARY(), {
      overrides: {
        undoDecision: () => {
          throw new Error('Sightline is not answering');
        },
      },
    });
    const { state, errors } = newState(fake);
    await state.load();
    await state.decide('keep_all');
    expect(await state.undo()).toBe(false);
    expect(errors).toEqual(['Sightline is not answering']);
    expect(state.latestUndoable?.decisionId).toBe(42);
  });

  it('offers Undo again after a reload of the window, from session storage', async () => {
    const storage = new MemoryStorage();
    const fake = fakeCore(LIBRARY());
    const first = newState(fake, storage);
    await first.state.load();
    await first.state.decide('not_duplicates');

    const second = newState(fake, storage);
    await second.state.load();
    expect(second.state.visibleGroups.map((g) => g.key)).toEqual(['near-b', 'near-c']);
    expect(second.state.latestUndoable).toMatchObject({ decisionId: 42, action: 'not_duplicates', groupKey: 'near-a' });
    await second.state.undo();
    expect(second.state.visibleGroups.map((g) => g.key)).toEqual(['near-a', 'near-b', 'near-c']);
    expect(JSON.parse(storage.getItem(DECISION_HISTORY_STORAGE_KEY)!)).toEqual([]);
  });
});

describe('DecisionHistory', () => {
  it('ignores corrupt or foreign storage content', () => {
    const storage = new MemoryStorage();
    storage.setItem(DECISION_HISTORY_STORAGE_KEY, '{not json');
    expect(new DecisionHistory(storage).entries).toEqual([]);
    storage.setItem(
      DECISION_HISTORY_STORAGE_KEY,
      JSON.stringify([
        { decisionId: 'x' },
        { decisionId: 3, action: 'keep_all', groupKey: 'k', tier: 'near', label: 'a.jpg', memberCount: 2 },
        { decisionId: 4, action: 'trash_others', groupKey: 'e', tier: 'exact', label: 'x.jpg', memberCount: 3, copies: true },
        { decisionId: 5, action: 'keep_all', groupKey: 'f', tier: 'exact', label: 'y.jpg', memberCount: 2, copies: 'yes' },
      ]),
    );
    expect(new DecisionHistory(storage).entries.map((e) => e.decisionId)).toEqual([3, 4]);
    expect(new DecisionHistory(storage).latest?.copies).toBe(true);
  });

  it('remembers at most the last 50 decisions', () => {
    const history = new DecisionHistory(new MemoryStorage());
    for (let id = 1; id <= 60; id++) history.push({ decisionId: id, action: 'keep_all', groupKey: `k${id}`, tier: 'near', label: 'a', memberCount: 2 });
    expect(history.entries).toHaveLength(50);
    expect(history.entries[0].decisionId).toBe(11);
    expect(history.latest?.decisionId).toBe(60);
  });

  it('still works when storage throws', () => {
    const history = new DecisionHistory({
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('quota');
      },
    });
    history.push({ decisionId: 1, action: 'keep_all', groupKey: 'k', tier: 'near', label: 'a', memberCount: 2 });
    expect(history.latest?.decisionId).toBe(1);
  });
});
