// The decisions the user can still undo, newest last. The core keeps every decision; this list
// only remembers which ones this window made, so that Undo survives a page reload (Electron and
// the browser keep sessionStorage across reloads of one window, not across windows).
import type { DuplicateTier } from '../../../app/api/contract.js';

export type DuplicateAction = 'keep_all' | 'trash_others' | 'not_duplicates';

export interface UndoableDecision {
  decisionId: number;
  action: DuplicateAction;
  groupKey: string;
  tier: DuplicateTier;
  /** The keeper's file name, to say which group the decision was about. */
  label: string;
  /** Photos in the group, or files for a decision on copies. */
  memberCount: number;
  /** A decision on one photo's byte-identical copies (the exact tier), not between photos. */
  copies?: boolean;
}

/** The part of the Web Storage API the history needs. */
export interface HistoryStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export const DECISION_HISTORY_STORAGE_KEY = 'sightline.duplicates.undoable';
/** Older decisions stay in the core; only Undo of these many is offered. */
export const DECISION_HISTORY_LIMIT = 50;

const ACTIONS: readonly DuplicateAction[] = ['keep_all', 'trash_others', 'not_duplicates'];
const TIERS: readonly DuplicateTier[] = ['exact', 'near', 'similar'];

function isUndoableDecision(value: unknown): value is UndoableDecision {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Number.isInteger(v.decisionId) &&
    (v.decisionId as number) > 0 &&
    ACTIONS.includes(v.action as DuplicateAction) &&
    typeof v.groupKey === 'string' &&
    TIERS.includes(v.tier as DuplicateTier) &&
    typeof v.label === 'string' &&
    Number.isInteger(v.memberCount) &&
    (v.copies === undefined || typeof v.copies === 'boolean')
  );
}

export class DecisionHistory {
  #entries: UndoableDecision[];

  constructor(private readonly storage: HistoryStorage | null = null) {
    this.#entries = this.#read();
  }

  get entries(): readonly UndoableDecision[] {
    return this.#entries;
  }

  get latest(): UndoableDecision | null {
    return this.#entries.at(-1) ?? null;
  }

  push(entry: UndoableDecision): void {
    this.#entries = [...this.#entries, entry].slice(-DECISION_HISTORY_LIMIT);
    this.#write();
  }

  remove(decisionId: number): void {
    this.#entries = this.#entries.filter((e) => e.decisionId !== decisionId);
    this.#write();
  }

  #read(): UndoableDecision[] {
    if (!this.storage) return [];
    try {
      const parsed: unknown = JSON.parse(this.storage.getItem(DECISION_HISTORY_STORAGE_KEY) ?? '[]');
      return Array.isArray(parsed) ? parsed.filter(isUndoableDecision).slice(-DECISION_HISTORY_LIMIT) : [];
    } catch {
      // A corrupt entry only costs the ability to undo old decisions; the decisions stay in the core.
      return [];
    }
  }

  #write(): void {
    try {
      this.storage?.setItem(DECISION_HISTORY_STORAGE_KEY, JSON.stringify(this.#entries));
    } catch {
      // Storage full or disabled: Undo still works until the page reloads.
    }
  }
}
