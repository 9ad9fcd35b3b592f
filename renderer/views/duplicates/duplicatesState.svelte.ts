// The Duplicates view's state: the groups the core found, the tier and group being looked at, the
// keeper the user prefers (a photo, or in the exact tier the copy of the one photo), the
// side-by-side comparison, and decisions with their undo.
import { SvelteMap } from 'svelte/reactivity';
import type { DecisionResult, DuplicateGroup, DuplicateMember, DuplicateTier, PhotoDetail, UndoResult } from '../../../app/api/contract.js';
import type { ApiClient } from '../../lib/apiClient.js';
import { DecisionHistory, type DuplicateAction, type UndoableDecision } from './decisionHistory.js';
import { shortPath } from './memberFacts.js';

export const DUPLICATE_TIERS: readonly DuplicateTier[] = ['exact', 'near', 'similar'];

export const TIER_LABELS: Readonly<Record<DuplicateTier, string>> = {
  exact: 'Exact',
  near: 'Near-identical',
  similar: 'Similar',
};

export const TIER_DESCRIPTIONS: Readonly<Record<DuplicateTier, string>> = {
  exact: 'The same file, byte for byte, stored more than once.',
  near: 'The same shot saved again: resized, re-encoded, cropped a little, rotated, mirrored or turned grey.',
  similar: 'The same subject shot again: another angle or a burst frame. Usually worth keeping several.',
};

export const ACTION_LABELS: Readonly<Record<DuplicateAction, string>> = {
  keep_all: 'Keep all',
  trash_others: 'Move others to trash',
  not_duplicates: 'Not duplicates',
};

/** The exact tier's actions are about the copies of one photo (there is no "not duplicates"). */
export const COPIES_ACTION_LABELS: Readonly<Record<CopiesAction, string>> = {
  keep_all: 'Keep all copies',
  trash_others: 'Move other copies to trash',
};

export type CopiesAction = Exclude<DuplicateAction, 'not_duplicates'>;

export type TrashKind = 'os' | 'folder';

export interface DecisionNotice {
  message: string;
  /** Files that failed to move or come back, one line each. */
  details: string[];
  tone: 'ok' | 'warning';
}

export interface CompareState {
  groupKey: string;
  /** Indexes into the group's members. */
  left: number;
  right: number;
}

export interface DuplicatesStateOptions {
  client: ApiClient;
  /**
   * Failures the user should hear about, as thrown: API failures as the client threw them (the
   * shell's client has already reported those, and its onError knows not to repeat them).
   */
  onError: (error: unknown) => void;
  history?: DecisionHistory;
}

export type PhotoFile = PhotoDetail['files'][number];

/** What "move to trash" would do to a group: shown in the confirmation before anything moves. */
export interface TrashPlan {
  /** photos: the other photos go, every file of each; copies: one photo's other files go. */
  kind: 'photos' | 'copies';
  /** The file that stays (the keeper photo's shown file, or the copy the user keeps). */
  keepPath: string;
  /** The keeper photo's file name. */
  keepName: string;
  /** The files that move. A photo whose files are still being fetched shows its first file. */
  trashPaths: string[];
  /** False while some photo's file list is still being fetched. */
  complete: boolean;
  /** How many photos move (photos), or 0 (copies: the photo stays, only files move). */
  photoCount: number;
}

/** Photos in a group: exact-tier groups are one photo stored in several files. */
export function distinctPhotoCount(group: DuplicateGroup): number {
  return new Set(group.members.map((m) => m.photoId)).size;
}

/** An exact-tier group: one photo (one content hash) in several byte-identical files. */
export function isCopiesGroup(group: DuplicateGroup): boolean {
  return distinctPhotoCount(group) === 1;
}

/** What a decision in the undo list was, in words: “Keep all” on the p1.jpg group. */
export function describeDecisionEntry(entry: UndoableDecision): string {
  if (entry.copies && entry.action !== 'not_duplicates') return `“${COPIES_ACTION_LABELS[entry.action]}” on the copies of ${entry.label}`;
  return `“${ACTION_LABELS[entry.action]}” on the ${entry.label} group`;
}

export function trashDestination(kind: TrashKind | null): string {
  if (kind === 'os') return 'the system trash';
  if (kind === 'folder') return 'a .sightline-trash folder in its library folder';
  return 'the trash';
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

export class DuplicatesState {
  readonly #client: ApiClient;
  readonly #onError: (error: unknown) => void;
  readonly #history: DecisionHistory;

  /** Every unresolved group the core reported, all tiers. */
  groups = $state.raw<DuplicateGroup[]>([]);
  /** The core's keeper rule, in words. */
  rule = $state('');
  trashKind = $state<TrashKind | null>(null);
  loading = $state(false);
  /** True once a load has finished (successfully or not): before that the view shows a spinner. */
  loaded = $state(false);
  /** A decision or an undo is on its way to the core. */
  busy = $state(false);
  tier = $state<DuplicateTier>('near');
  selectedKey = $state<string | null>(null);
  compare = $state.raw<CompareState | null>(null);
  notice = $state.raw<DecisionNotice | null>(null);
  undoable = $state.raw<readonly UndoableDecision[]>([]);
  /** The keeper the user picked instead of the suggested one, by group key. */
  readonly keeperChoices = new SvelteMap<string, number>();
  /** Exact tier: the copy the user keeps instead of the suggested one, by group key. */
  readonly fileChoices = new SvelteMap<string, string>();
  /**
   * Groups decided here whose disappearance the core has not confirmed yet, with the load number
   * current at the decision: a load started before the decision may still list them.
   */
  readonly #decidedLocally = new SvelteMap<string, number>();
  /** Present files of photos a trash decision would move, by photo id; null while being fetched. */
  readonly photoFiles = new SvelteMap<number, PhotoFile[] | null>();
  #loadSeq = 0;
  /** A reload was asked for while one was running: run one more when it ends. */
  #reloadPending = false;
  #tierChosenByUser = false;
  /**
   * After an undo, the group to select once the core lists it again: files put back return to the
   * groups only after the core's reconciliation finds them, a load or two later. Moving the
   * selection forgets it.
   */
  #selectAfterLoad: string | null = null;

  constructor(options: DuplicatesStateOptions) {
    this.#client = options.client;
    this.#onError = options.onError;
    this.#history = options.history ?? new DecisionHistory();
    this.undoable = this.#history.entries;
  }

  /** Groups not yet resolved, by tier. */
  readonly groupsByTier = $derived.by(() => {
    const byTier: Record<DuplicateTier, DuplicateGroup[]> = { exact: [], near: [], similar: [] };
    for (const group of this.groups) if (!this.#decidedLocally.has(group.key)) byTier[group.tier].push(group);
    return byTier;
  });

  readonly visibleGroups = $derived(this.groupsByTier[this.tier]);

  readonly tierCounts = $derived({
    exact: this.groupsByTier.exact.length,
    near: this.groupsByTier.near.length,
    similar: this.groupsByTier.similar.length,
  });

  readonly totalCount = $derived(this.tierCounts.exact + this.tierCounts.near + this.tierCounts.similar);

  readonly selectedIndex = $derived(this.visibleGroups.findIndex((g) => g.key === this.selectedKey));

  readonly selectedGroup = $derived<DuplicateGroup | null>(this.visibleGroups[this.selectedIndex] ?? null);

  readonly compareGroup = $derived<DuplicateGroup | null>(
    this.compare ? (this.visibleGroups.find((g) => g.key === this.compare!.groupKey) ?? null) : null,
  );

  readonly latestUndoable = $derived<UndoableDecision | null>(this.undoable.at(-1) ?? null);

  /** The photo the user wants to keep in a group: their pick, else the core's suggestion. */
  keeperOf(group: DuplicateGroup): number {
    const chosen = this.keeperChoices.get(group.key);
    return chosen !== undefined && group.members.some((m) => m.photoId === chosen) ? chosen : group.keeper;
  }

  /** The member shown as the keeper (exact-tier members may share one photo id: the first wins). */
  keeperIndex(group: DuplicateGroup): number {
    const keeper = this.keeperOf(group);
    return Math.max(0, group.members.findIndex((m) => m.photoId === keeper));
  }

  keeperMember(group: DuplicateGroup): DuplicateMember {
    return group.members[this.keeperIndex(group)];
  }

  isKeeperChanged(group: DuplicateGroup): boolean {
    return this.keeperOf(group) !== group.keeper;
  }

  /** Exact tier: the copy the core suggests keeping. */
  suggestedFile(group: DuplicateGroup): string | null {
    return group.keeperFile !== null && group.files.includes(group.keeperFile) ? group.keeperFile : (group.files[0] ?? null);
  }

  /** Exact tier: the copy that stays: the user's pick, else the suggestion. */
  keepFileOf(group: DuplicateGroup): string | null {
    const chosen = this.fileChoices.get(group.key);
    return chosen !== undefined && group.files.includes(chosen) ? chosen : this.suggestedFile(group);
  }

  isKeepFileChanged(group: DuplicateGroup): boolean {
    return this.keepFileOf(group) !== this.suggestedFile(group);
  }

  chooseKeepFile(group: DuplicateGroup, path: string): void {
    if (!group.files.includes(path)) return;
    if (path === this.suggestedFile(group)) this.fileChoices.delete(group.key);
    else this.fileChoices.set(group.key, path);
  }

  async load(): Promise<void> {
    const seq = ++this.#loadSeq;
    this.loading = true;
    const statusPromise = this.trashKind === null ? this.#loadTrashKind() : Promise.resolve();
    try {
      const result = await this.#client.call('duplicateGroups', {});
      if (seq !== this.#loadSeq) return;
      const previousIndex = this.selectedIndex;
      for (const [key, decidedAt] of this.#decidedLocally) if (decidedAt < seq) this.#decidedLocally.delete(key);
      this.groups = result.groups;
      this.rule = result.rule;
      this.photoFiles.clear();
      for (const key of this.keeperChoices.keys()) if (!result.groups.some((g) => g.key === key)) this.keeperChoices.delete(key);
      for (const key of this.fileChoices.keys()) if (!result.groups.some((g) => g.key === key)) this.fileChoices.delete(key);
      // Until the user picks a tab, open the first one with something in it.
      if (!this.#tierChosenByUser && (!this.loaded || this.visibleGroups.length === 0)) {
        const firstWithGroups = DUPLICATE_TIERS.find((t) => this.groupsByTier[t].length > 0);
        if (firstWithGroups) this.tier = firstWithGroups;
      }
      const restored = this.#selectAfterLoad ? this.groups.find((g) => g.key === this.#selectAfterLoad) : undefined;
      if (restored) {
        this.#selectAfterLoad = null;
        this.tier = restored.tier;
        this.selectedKey = restored.key;
        if (this.compare && this.compare.groupKey !== restored.key) this.compare = null;
      } else {
        this.#reconcileSelection(previousIndex);
      }
      if (this.compare && !this.compareGroup) this.compare = null;
    } catch (error) {
      if (seq === this.#loadSeq) this.#onError(error);
    } finally {
      if (seq === this.#loadSeq) {
        this.loading = false;
        this.loaded = true;
      }
    }
    await statusPromise;
  }

  /**
   * A load, unless one is running: then one more after it. Grouping a big library takes the core
   * seconds, and change events during indexing come faster than that.
   */
  async reload(): Promise<void> {
    if (this.loading) {
      this.#reloadPending = true;
      return;
    }
    do {
      this.#reloadPending = false;
      await this.load();
    } while (this.#reloadPending);
  }

  /** Fetches a photo's present files, once (a photo can be in several files: all of them move). */
  async loadPhotoFiles(photoId: number): Promise<void> {
    if (this.photoFiles.has(photoId)) return;
    this.photoFiles.set(photoId, null);
    try {
      const detail = await this.#client.call('getPhoto', { photoId });
      this.photoFiles.set(photoId, detail.files.filter((f) => f.present));
    } catch (error) {
      this.photoFiles.delete(photoId);
      this.#onError(error);
    }
  }

  /**
   * Whether the group can be decided on: two photos or more, or one photo's copies (the exact
   * tier) while at least two of its files are listed.
   */
  canDecide(group: DuplicateGroup): boolean {
    return isCopiesGroup(group) ? group.files.length >= 2 : distinctPhotoCount(group) >= 2;
  }

  /** Side by side needs two different photos: byte-identical copies would look the same. */
  canCompare(group: DuplicateGroup): boolean {
    return distinctPhotoCount(group) >= 2;
  }

  /** The actions the group offers: the exact tier's copies are one photo, never "not duplicates". */
  canDo(group: DuplicateGroup, action: DuplicateAction): boolean {
    return this.canDecide(group) && !(action === 'not_duplicates' && isCopiesGroup(group));
  }

  /** What moving to the trash would do to the group; see prepareTrashPlan for the photos' files. */
  trashPlan(group: DuplicateGroup): TrashPlan {
    if (isCopiesGroup(group)) {
      const keepPath = this.keepFileOf(group) ?? group.members[0].path;
      return {
        kind: 'copies',
        keepPath,
        keepName: group.members[0].name,
        trashPaths: group.files.filter((f) => f !== keepPath),
        complete: true,
        photoCount: 0,
      };
    }
    const keeper = this.keeperMember(group);
    const others = group.members.filter((m, i) => m.photoId !== keeper.photoId && group.members.findIndex((o) => o.photoId === m.photoId) === i);
    const trashPaths: string[] = [];
    let complete = true;
    for (const photo of others) {
      const files = this.photoFiles.get(photo.photoId);
      if (files) trashPaths.push(...files.map((f) => f.path));
      else {
        complete = false;
        trashPaths.push(photo.path);
      }
    }
    return { kind: 'photos', keepPath: keeper.path, keepName: keeper.name, trashPaths, complete, photoCount: others.length };
  }

  /** Fetches what the trash plan lists: every file of each photo that would move, copies included. */
  prepareTrashPlan(group: DuplicateGroup): void {
    if (isCopiesGroup(group)) return;
    const keeper = this.keeperOf(group);
    for (const member of group.members) if (member.photoId !== keeper) void this.loadPhotoFiles(member.photoId);
  }

  async #loadTrashKind(): Promise<void> {
    try {
      this.trashKind = (await this.#client.call('getStatus', {})).trash;
    } catch (error) {
      this.#onError(error);
    }
  }

  /** Keeps a selection in the visible tier: the same group, else whatever took its place. */
  #reconcileSelection(previousIndex: number): void {
    const groups = this.visibleGroups;
    if (groups.some((g) => g.key === this.selectedKey)) return;
    if (groups.length === 0) {
      this.selectedKey = null;
      return;
    }
    this.selectedKey = groups[Math.min(Math.max(previousIndex, 0), groups.length - 1)].key;
  }

  setTier(tier: DuplicateTier): void {
    this.#tierChosenByUser = true;
    this.#selectAfterLoad = null;
    if (tier === this.tier) return;
    this.tier = tier;
    this.compare = null;
    this.selectedKey = this.visibleGroups[0]?.key ?? null;
  }

  select(key: string): void {
    if (!this.visibleGroups.some((g) => g.key === key)) return;
    this.selectedKey = key;
    this.#selectAfterLoad = null;
  }

  /** Moves the selection by `delta` groups, stopping at either end. */
  moveSelection(delta: number): void {
    const groups = this.visibleGroups;
    if (groups.length === 0) return;
    this.#selectAfterLoad = null;
    const from = this.selectedIndex < 0 ? (delta > 0 ? -1 : groups.length) : this.selectedIndex;
    this.selectedKey = groups[Math.min(groups.length - 1, Math.max(0, from + delta))].key;
  }

  chooseKeeper(group: DuplicateGroup, photoId: number): void {
    if (!group.members.some((m) => m.photoId === photoId)) return;
    if (photoId === group.keeper) this.keeperChoices.delete(group.key);
    else this.keeperChoices.set(group.key, photoId);
  }

  /** Moves the selected group's keeper to the previous / next member, or copy in the exact tier (wrapping). */
  stepKeeper(delta: number): void {
    const group = this.selectedGroup;
    if (!group) return;
    if (isCopiesGroup(group)) {
      const files = group.files;
      if (files.length < 2) return;
      const at = Math.max(0, files.indexOf(this.keepFileOf(group) ?? files[0]));
      this.chooseKeepFile(group, files[(((at + delta) % files.length) + files.length) % files.length]);
      return;
    }
    if (group.members.length < 2) return;
    const count = group.members.length;
    const next = (((this.keeperIndex(group) + delta) % count) + count) % count;
    this.chooseKeeper(group, group.members[next].photoId);
  }

  openCompare(): void {
    const group = this.selectedGroup;
    if (!group || !this.canCompare(group)) return;
    const left = this.keeperIndex(group);
    this.compare = { groupKey: group.key, left, right: left === 0 ? 1 : 0 };
  }

  closeCompare(): void {
    this.compare = null;
  }

  /** Shows the previous / next member on one side of the comparison, skipping the other side's. */
  stepCompare(side: 'left' | 'right', delta: number): void {
    const compare = this.compare;
    const group = this.compareGroup;
    if (!compare || !group) return;
    const count = group.members.length;
    const other = side === 'left' ? compare.right : compare.left;
    let index = compare[side];
    do index = (((index + delta) % count) + count) % count;
    while (index === other);
    this.compare = { ...compare, [side]: index };
  }

  swapCompare(): void {
    if (this.compare) this.compare = { ...this.compare, left: this.compare.right, right: this.compare.left };
  }

  keepFromCompare(side: 'left' | 'right'): void {
    const group = this.compareGroup;
    if (!this.compare || !group) return;
    this.chooseKeeper(group, group.members[this.compare[side]].photoId);
  }

  /**
   * Records the user's decision on the selected group; true when the core took it. Between photos
   * it is decideDuplicates; on one photo's copies (exact tier) decideCopies, keeping the chosen copy.
   */
  async decide(action: DuplicateAction): Promise<boolean> {
    const group = this.selectedGroup;
    if (!group || this.busy || !this.canDo(group, action)) return false;
    const copies = isCopiesGroup(group);
    const keeper = this.keeperOf(group);
    const keepPath = copies ? this.keepFileOf(group) : null;
    const label = copies ? group.members[0].name : this.keeperMember(group).name;
    const previousIndex = this.selectedIndex;
    this.#selectAfterLoad = null;
    this.busy = true;
    try {
      const result = copies
        ? await this.#client.call('decideCopies', {
            photoId: group.members[0].photoId,
            action: action as CopiesAction,
            ...(action === 'trash_others' && keepPath !== null ? { keepPath } : {}),
          })
        : await this.#client.call('decideDuplicates', {
            action,
            members: group.members.map((m) => m.photoId),
            ...(action === 'not_duplicates' ? {} : { keeper }),
          });
      this.#decidedLocally.set(group.key, this.#loadSeq);
      this.keeperChoices.delete(group.key);
      this.fileChoices.delete(group.key);
      if (this.compare?.groupKey === group.key) this.compare = null;
      this.#reconcileSelection(previousIndex);
      this.#history.push({
        decisionId: result.decisionId,
        action,
        groupKey: group.key,
        tier: group.tier,
        label,
        memberCount: copies ? group.files.length : group.members.length,
        ...(copies ? { copies: true } : {}),
      });
      this.undoable = this.#history.entries;
      this.notice = copies
        ? this.#describeCopiesDecision(action as CopiesAction, group, keepPath, result)
        : this.#describeDecision(action, group, label, result);
      return true;
    } catch (error) {
      this.#onError(error);
      return false;
    } finally {
      this.busy = false;
    }
  }

  #describeCopiesDecision(action: CopiesAction, group: DuplicateGroup, keepPath: string | null, result: DecisionResult): DecisionNotice {
    const details = result.trashFailures.map((f) => `Not moved: ${f.path} — ${f.reason}`);
    const name = group.members[0].name;
    if (action === 'keep_all') return { message: `Kept all ${group.files.length} copies of ${name}.`, details, tone: 'ok' };
    const moved = `moved ${plural(result.trashed.length, 'copy', 'copies')} to ${trashDestination(this.trashKind)}`;
    const kept = keepPath ? shortPath(keepPath) : name;
    return {
      message: `Kept ${kept}, ${moved}.${details.length ? ` ${plural(details.length, 'copy', 'copies')} could not be moved.` : ''}`,
      details,
      tone: details.length ? 'warning' : 'ok',
    };
  }

  #describeDecision(action: DuplicateAction, group: DuplicateGroup, keeperName: string, result: DecisionResult): DecisionNotice {
    const details = result.trashFailures.map((f) => `Not moved: ${f.path} — ${f.reason}`);
    switch (action) {
      case 'keep_all':
        return { message: `Kept all ${group.members.length} photos of the ${keeperName} group.`, details, tone: 'ok' };
      case 'not_duplicates':
        return { message: `Marked the ${keeperName} group as not duplicates; they will not be grouped again.`, details, tone: 'ok' };
      case 'trash_others': {
        const moved = `moved ${plural(result.trashed.length, 'file')} to ${trashDestination(this.trashKind)}`;
        return {
          message: `Kept ${keeperName}, ${moved}.${details.length ? ` ${plural(details.length, 'file')} could not be moved.` : ''}`,
          details,
          tone: details.length ? 'warning' : 'ok',
        };
      }
    }
  }

  /** Undoes the newest decision made here; true when the core undid it. */
  async undo(): Promise<boolean> {
    const entry = this.latestUndoable;
    if (!entry || this.busy) return false;
    this.busy = true;
    let result: UndoResult;
    try {
      result = await this.#client.call('undoDecision', { decisionId: entry.decisionId });
    } catch (error) {
      this.#onError(error);
      return false;
    } finally {
      this.busy = false;
    }
    this.#history.remove(entry.decisionId);
    this.undoable = this.#history.entries;
    this.notice = this.#describeUndo(entry, result);
    this.#decidedLocally.delete(entry.groupKey);
    this.#selectAfterLoad = entry.groupKey;
    this.compare = null;
    await this.load();
    return result.undone;
  }

  #describeUndo(entry: UndoableDecision, result: UndoResult): DecisionNotice {
    if (!result.undone) return { message: `${describeDecisionEntry(entry)} was already undone.`, details: [], tone: 'warning' };
    const details = [
      ...result.restored.map((path) => `Put back: ${path}`),
      ...result.notRestored.map((f) => `Not put back: ${f.path} — ${f.reason}`),
    ];
    let message = `Undid ${describeDecisionEntry(entry)}.`;
    if (result.restored.length) message += ` ${plural(result.restored.length, 'file')} put back.`;
    if (result.notRestored.length) message += ` ${plural(result.notRestored.length, 'file')} must be restored by hand.`;
    return { message, details, tone: result.notRestored.length ? 'warning' : 'ok' };
  }
}
