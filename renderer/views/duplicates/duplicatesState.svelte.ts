// The Duplicates view's state: the groups the core found, the tier and group being looked at, the
// keeper the user prefers, the side-by-side comparison, and decisions with their undo.
import { SvelteMap } from 'svelte/reactivity';
import type { DecisionResult, DuplicateGroup, DuplicateMember, DuplicateTier, PhotoDetail, UndoResult } from '../../../app/api/contract.js';
import type { ApiClient } from '../../lib/apiClient.js';
import { DecisionHistory, type DuplicateAction, type UndoableDecision } from './decisionHistory.js';

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
  onError: (message: string) => void;
  history?: DecisionHistory;
}

export type PhotoFile = PhotoDetail['files'][number];

/** Photos in a group: exact-tier groups are one photo stored in several files. */
export function distinctPhotoCount(group: DuplicateGroup): number {
  return new Set(group.members.map((m) => m.photoId)).size;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
  readonly #onError: (message: string) => void;
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
  /**
   * Groups decided here whose disappearance the core has not confirmed yet, with the load number
   * current at the decision: a load started before the decision may still list them.
   */
  readonly #decidedLocally = new SvelteMap<string, number>();
  /** Present files of single-photo groups, by photo id; null while being fetched. */
  readonly photoFiles = new SvelteMap<number, PhotoFile[] | null>();
  #loadSeq = 0;
  /** A reload was asked for while one was running: run one more when it ends. */
  #reloadPending = false;
  #tierChosenByUser = false;
  /** After an undo, the group to select once the core lists it again. */
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
      // Until the user picks a tab, open the first one with something in it.
      if (!this.#tierChosenByUser && (!this.loaded || this.visibleGroups.length === 0)) {
        const firstWithGroups = DUPLICATE_TIERS.find((t) => this.groupsByTier[t].length > 0);
        if (firstWithGroups) this.tier = firstWithGroups;
      }
      const restored = this.#selectAfterLoad ? this.groups.find((g) => g.key === this.#selectAfterLoad) : undefined;
      this.#selectAfterLoad = null;
      if (restored) {
        this.tier = restored.tier;
        this.selectedKey = restored.key;
      } else {
        this.#reconcileSelection(previousIndex);
      }
      if (this.compare && !this.compareGroup) this.compare = null;
    } catch (error) {
      if (seq === this.#loadSeq) this.#onError(errorMessage(error));
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

  /** Fetches the files of a one-photo group's photo, once. */
  async loadPhotoFiles(photoId: number): Promise<void> {
    if (this.photoFiles.has(photoId)) return;
    this.photoFiles.set(photoId, null);
    try {
      const detail = await this.#client.call('getPhoto', { photoId });
      this.photoFiles.set(photoId, detail.files.filter((f) => f.present));
    } catch (error) {
      this.photoFiles.delete(photoId);
      this.#onError(errorMessage(error));
    }
  }

  /** The core decides between photos: a group of one photo's copies has nothing to decide. */
  canDecide(group: DuplicateGroup): boolean {
    return distinctPhotoCount(group) >= 2;
  }

  async #loadTrashKind(): Promise<void> {
    try {
      this.trashKind = (await this.#client.call('getStatus', {})).trash;
    } catch (error) {
      this.#onError(errorMessage(error));
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
    if (tier === this.tier) return;
    this.tier = tier;
    this.compare = null;
    this.selectedKey = this.visibleGroups[0]?.key ?? null;
  }

  select(key: string): void {
    if (this.visibleGroups.some((g) => g.key === key)) this.selectedKey = key;
  }

  /** Moves the selection by `delta` groups, stopping at either end. */
  moveSelection(delta: number): void {
    const groups = this.visibleGroups;
    if (groups.length === 0) return;
    const from = this.selectedIndex < 0 ? (delta > 0 ? -1 : groups.length) : this.selectedIndex;
    this.selectedKey = groups[Math.min(groups.length - 1, Math.max(0, from + delta))].key;
  }

  chooseKeeper(group: DuplicateGroup, photoId: number): void {
    if (!group.members.some((m) => m.photoId === photoId)) return;
    if (photoId === group.keeper) this.keeperChoices.delete(group.key);
    else this.keeperChoices.set(group.key, photoId);
  }

  /** Moves the selected group's keeper to the previous / next member (wrapping). */
  stepKeeper(delta: number): void {
    const group = this.selectedGroup;
    if (!group || group.members.length < 2) return;
    const count = group.members.length;
    const next = (((this.keeperIndex(group) + delta) % count) + count) % count;
    this.chooseKeeper(group, group.members[next].photoId);
  }

  openCompare(): void {
    const group = this.selectedGroup;
    if (!group || !this.canDecide(group)) return;
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

  /** Records the user's decision on the selected group; true when the core took it. */
  async decide(action: DuplicateAction): Promise<boolean> {
    const group = this.selectedGroup;
    if (!group || this.busy || !this.canDecide(group)) return false;
    const keeper = this.keeperOf(group);
    const keeperName = this.keeperMember(group).name;
    const previousIndex = this.selectedIndex;
    this.busy = true;
    try {
      const result = await this.#client.call('decideDuplicates', {
        action,
        members: group.members.map((m) => m.photoId),
        ...(action === 'not_duplicates' ? {} : { keeper }),
      });
      this.#decidedLocally.set(group.key, this.#loadSeq);
      this.keeperChoices.delete(group.key);
      if (this.compare?.groupKey === group.key) this.compare = null;
      this.#reconcileSelection(previousIndex);
      this.#history.push({
        decisionId: result.decisionId,
        action,
        groupKey: group.key,
        tier: group.tier,
        label: keeperName,
        memberCount: group.members.length,
      });
      this.undoable = this.#history.entries;
      this.notice = this.#describeDecision(action, group, keeperName, result);
      return true;
    } catch (error) {
      this.#onError(errorMessage(error));
      return false;
    } finally {
      this.busy = false;
    }
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
      this.#onError(errorMessage(error));
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
    if (!result.undone) {
      return { message: `“${ACTION_LABELS[entry.action]}” on the ${entry.label} group was already undone.`, details: [], tone: 'warning' };
    }
    const details = [
      ...result.restored.map((path) => `Put back: ${path}`),
      ...result.notRestored.map((f) => `Not put back: ${f.path} — ${f.reason}`),
    ];
    let message = `Undid “${ACTION_LABELS[entry.action]}” on the ${entry.label} group.`;
    if (result.restored.length) message += ` ${plural(result.restored.length, 'file')} put back.`;
    if (result.notRestored.length) message += ` ${plural(result.notRestored.length, 'file')} must be restored by hand.`;
    return { message, details, tone: result.notRestored.length ? 'warning' : 'ok' };
  }
}
