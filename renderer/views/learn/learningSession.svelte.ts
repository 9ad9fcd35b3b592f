// The Learn view's state: the core's learning state (kept current by its events), the options of
// the next run, and the call in flight. A run can finish before the call that started it answers;
// an answer that arrives after a newer event is therefore older news and is dropped.
import type { ApiEvent, LearningState } from '../../../app/api/contract.js';
import type { ApiClient } from '../../lib/apiClient.js';

export interface LearningSessionOptions {
  client: Pick<ApiClient, 'call' | 'onEvent'>;
  /** Failures as thrown (the shell's client has already reported its own). */
  onError: (error: unknown) => void;
}

export const DEFAULT_EPOCHS = 10;

export class LearningSession {
  readonly #client: LearningSessionOptions['client'];
  readonly #onError: (error: unknown) => void;
  /** Counts learning events, so that a call's answer never undoes a newer event. */
  #events = 0;

  learning = $state.raw<LearningState | null>(null);
  /** The call in flight. */
  busy = $state<'start' | 'cancel' | 'revert' | null>(null);
  /** What the last undo did, until the next run starts. */
  notice = $state<string | null>(null);
  /** Options of the next run. */
  epochs = $state(DEFAULT_EPOCHS);
  dryRun = $state(false);

  constructor(options: LearningSessionOptions) {
    this.#client = options.client;
    this.#onError = options.onError;
  }

  readonly running = $derived(this.learning?.state === 'running' || this.learning?.state === 'cancelling');
  readonly progress = $derived(this.learning?.progress ?? null);
  readonly lastRun = $derived(this.learning?.lastRun ?? null);
  readonly report = $derived(this.learning?.lastRun?.report ?? null);
  readonly canStart = $derived(this.learning !== null && !this.running && this.busy === null);
  readonly canUndo = $derived(this.learning?.undo != null && !this.running && this.busy === null);

  /** Listens to the core; returns the function that stops. */
  connect(): () => void {
    const off = this.#client.onEvent((event) => this.handleEvent(event));
    void this.load();
    return off;
  }

  handleEvent(event: ApiEvent): void {
    if (event.type === 'learning') {
      this.#events++;
      this.learning = event.learning;
    } else if (event.type === 'libraryChanged' && event.reason === 'whitening') {
      // The whitening in use (and whether an undo is possible) changed: read them again.
      void this.load();
    }
  }

  async load(): Promise<void> {
    await this.#call(() => this.#client.call('learningStatus', {}));
  }

  async start(): Promise<void> {
    if (!this.canStart) return;
    this.notice = null;
    this.busy = 'start';
    try {
      await this.#call(() => this.#client.call('learnFromLibrary', { dryRun: this.dryRun, epochs: clampEpochs(this.epochs) }));
    } finally {
      this.busy = null;
    }
  }

  async cancel(): Promise<void> {
    if (!this.running || this.busy === 'cancel') return;
    this.busy = 'cancel';
    try {
      await this.#call(() => this.#client.call('cancelLearning', {}));
    } finally {
      this.busy = null;
    }
  }

  async revert(): Promise<void> {
    const undo = this.learning?.undo;
    if (!undo || !this.canUndo) return;
    this.busy = 'revert';
    try {
      const done = await this.#call(() => this.#client.call('revertLearning', {}));
      if (done) this.notice = `Back to the previous whitening: ${undo.previous}. Search works at once; photos added since are being described.`;
    } finally {
      this.busy = null;
    }
  }

  /** Runs a call that answers with the learning state; false when it failed. */
  async #call(call: () => Promise<LearningState>): Promise<boolean> {
    const eventsBefore = this.#events;
    try {
      const state = await call();
      if (this.#events === eventsBefore) this.learning = state;
      return true;
    } catch (error) {
      this.#onError(error);
      return false;
    }
  }
}

export function clampEpochs(value: number): number {
  return Number.isFinite(value) ? Math.min(100, Math.max(1, Math.round(value))) : DEFAULT_EPOCHS;
}
