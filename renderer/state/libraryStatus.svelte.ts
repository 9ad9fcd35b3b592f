// The library's status as the shell shows it, kept current by the core's events. Views that list
// photos or folders watch `revision`, which moves when the library changed (at most every
// `reloadEveryMs`, because indexing reports changes far more often than a grid can redraw).
import type { ApiEvent, IndexingState, Status } from '../../app/api/contract.js';
import type { ApiClient } from '../lib/apiClient.js';

type StatusSource = Pick<ApiClient, 'call' | 'onEvent'>;

export class LibraryStatus {
  status = $state.raw<Status | null>(null);
  /** The latest indexing state: from events, which arrive between status reads. */
  indexing = $state.raw<IndexingState | null>(null);
  revision = $state(0);
  /** Why the library could not be read, while it cannot. */
  unavailable = $state<string | null>(null);

  readonly isIndexing = $derived(this.indexing !== null && this.indexing.state !== 'idle');

  readonly #source: StatusSource;
  readonly #reloadEveryMs: number;
  #reloadTimer: ReturnType<typeof setTimeout> | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #connected = false;
  #lastReload = 0;
  #refreshing: Promise<void> | null = null;
  #refreshAgain = false;
  /** Counts indexing events, so a status read that raced one does not undo it. */
  #indexingEvents = 0;

  readonly #retryEveryMs: number;

  constructor(source: StatusSource, reloadEveryMs = 1500, retryEveryMs = 5000) {
    this.#source = source;
    this.#reloadEveryMs = reloadEveryMs;
    this.#retryEveryMs = retryEveryMs;
  }

  /** Starts listening; returns the function that stops. */
  connect(): () => void {
    const off = this.#source.onEvent((event) => this.handleEvent(event));
    this.#connected = true;
    void this.refresh();
    return () => {
      off();
      this.#connected = false;
      for (const timer of [this.#reloadTimer, this.#retryTimer]) if (timer) clearTimeout(timer);
      this.#reloadTimer = null;
      this.#retryTimer = null;
    };
  }

  handleEvent(event: ApiEvent): void {
    if (event.type === 'indexing') {
      const wasRunning = this.indexing !== null && this.indexing.state !== 'idle';
      this.indexing = event.indexing;
      this.#indexingEvents += 1;
      // Counts and failures change when a run ends; the events carry only the run's progress.
      if (wasRunning && event.indexing.state === 'idle') {
        void this.refresh();
        this.#scheduleReload();
      }
      return;
    }
    // Learning's progress changes nothing the views list; a switch it makes arrives as libraryChanged.
    if (event.type === 'learning') return;
    void this.refresh();
    this.#scheduleReload();
  }

  /** Reads the status again; calls that overlap one in flight are folded into one more read. */
  async refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#refreshAgain = false;
        const eventsBefore = this.#indexingEvents;
        try {
          const status = await this.#source.call('getStatus', {});
          this.status = status;
          if (this.#indexingEvents === eventsBefore) this.indexing = status.indexing;
          this.unavailable = null;
        } catch (e) {
          this.unavailable = e instanceof Error ? e.message : String(e);
          // No event tells us when the core is back (its socket reconnects silently): ask again.
          if (this.#connected && !this.#retryTimer) {
            this.#retryTimer = setTimeout(() => {
              this.#retryTimer = null;
              void this.refresh();
            }, this.#retryEveryMs);
          }
        }
      } while (this.#refreshAgain);
    })();
    try {
      await this.#refreshing;
    } finally {
      this.#refreshing = null;
    }
  }

  /** Makes the views reload now (after the user changed something themselves). */
  reloadViews(): void {
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
    this.#reloadTimer = null;
    this.#lastReload = Date.now();
    this.revision += 1;
  }

  #scheduleReload(): void {
    if (this.#reloadTimer) return;
    const wait = Math.max(0, this.#lastReload + this.#reloadEveryMs - Date.now());
    this.#reloadTimer = setTimeout(() => {
      this.#reloadTimer = null;
      this.#lastReload = Date.now();
      this.revision += 1;
    }, wait);
  }
}
