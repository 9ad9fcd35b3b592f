// When a view that shows computed groupings (duplicates, places) reloads after core events. The
// core recomputes a grouping from scratch after any library change, which takes seconds on a big
// library, while indexing reports a change with every batch: reloading on each would keep the core
// busy regrouping half-indexed photos. So: changes reload after a short pause (one reload per
// burst), indexing's changes at most every INDEXING_RELOAD_MS, and once more when indexing ends.
import type { ApiEvent } from '../../../app/api/contract.js';

export const RELOAD_PAUSE_MS = 800;
export const INDEXING_RELOAD_MS = 15_000;

export interface ReloadTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: ReloadTimers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class ReloadScheduler {
  #indexing = false;
  #handle: unknown = null;
  #due = Infinity;

  constructor(
    private readonly reload: () => void,
    private readonly timers: ReloadTimers = realTimers,
  ) {}

  /** Feed every core event here. */
  handle(event: ApiEvent): void {
    if (event.type === 'indexing') {
      const running = event.indexing.state !== 'idle';
      if (this.#indexing && !running) this.#schedule(0);
      this.#indexing = running;
    } else if (event.type === 'libraryChanged') {
      this.#schedule(event.reason === 'indexed' && this.#indexing ? INDEXING_RELOAD_MS : RELOAD_PAUSE_MS);
    }
  }

  /** A reload due sooner than the one pending replaces it; a later one joins it. */
  #schedule(delayMs: number): void {
    const due = this.timers.now() + delayMs;
    if (this.#handle !== null) {
      if (due >= this.#due) return;
      this.timers.clearTimeout(this.#handle);
    }
    this.#due = due;
    this.#handle = this.timers.setTimeout(() => {
      this.#handle = null;
      this.#due = Infinity;
      this.reload();
    }, delayMs);
  }

  dispose(): void {
    if (this.#handle !== null) this.timers.clearTimeout(this.#handle);
    this.#handle = null;
    this.#due = Infinity;
  }
}
