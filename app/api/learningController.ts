// "Learn from my library" behind the API: one run at a time, its progress as events, cancel and
// undo, and the report in the contract's shape. The learning itself is app/learn's; the service
// lends this class its library and its say over indexing, which must stand still while the
// engine switches whitening (a photo described half with the old engine would be stored as new).
import type { Library } from '../library/library.js';
import { DEFAULT_PLACE_SPLIT } from '../learn/placeSplit.js';
import { LearningCancelledError, LibraryLearning, MIN_PHOTOS_PER_PLACE, MIN_PLACES, NotEnoughMaterialError, type LearningOptions, type LearningReport as CoreReport } from '../learn/libraryLearning.js';
import type { WhiteningUndoRecord } from '../learn/whiteningUndo.js';
import { ApiError, type ApiEvent, type ApiParsedInput, type LearningProgress, type LearningReport, type LearningState } from './contract.js';

export interface LearningHost {
  readonly library: Library;
  emit(event: ApiEvent): void;
  isIndexing(): boolean;
  /** Stops indexing and keeps it from starting until releaseIndexing. */
  holdIndexing(): Promise<void>;
  /** Lets indexing run again; after a switch it re-embeds what the new whitening made stale. */
  releaseIndexing(whiteningChanged: boolean): void;
}

const PROGRESS_EVENT_INTERVAL_MS = 150;

type RunState = Pick<LearningState, 'state' | 'progress' | 'lastRun'>;

export class LearningController {
  private run: RunState = { state: 'idle', progress: null, lastRun: null };
  private running: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private undo: LearningState['undo'] | undefined;
  private lastEventAt = 0;
  private readonly learning: LibraryLearning;

  /** `defaults`: settings every run uses besides the call's own (the switch margin, mining caps). */
  constructor(
    private readonly host: LearningHost,
    private readonly defaults: Omit<LearningOptions, 'dryRun' | 'epochs'> = {},
  ) {
    this.learning = new LibraryLearning(host.library);
  }

  async status(): Promise<LearningState> {
    // Read afresh: the whitening can change under the library (a `sightline whiten`, an auto-whiten).
    this.undo = undefined;
    await this.loadUndo();
    return this.snapshot();
  }

  async start({ dryRun, epochs }: ApiParsedInput<'learnFromLibrary'>): Promise<LearningState> {
    if (this.running) throw new ApiError('conflict', 'Learning is already running.');
    if (this.host.isIndexing()) throw new ApiError('conflict', 'Indexing is still running. Learn once every photo is described, so that the places cover the whole library.');
    if (this.host.library.photos.countByStatus().indexed === 0) throw new ApiError('bad_request', 'The library has no indexed photos yet: add a folder in the Library first.');
    await this.loadUndo();
    const abort = new AbortController();
    this.abort = abort;
    this.set({ state: 'running', progress: null });
    this.running = this.learn({ dryRun, epochs }, abort.signal).finally(() => {
      this.running = null;
      this.abort = null;
    });
    return this.snapshot();
  }

  private async learn(options: { dryRun: boolean; epochs?: number }, signal: AbortSignal): Promise<void> {
    let held = false;
    let switched = false;
    try {
      const report = await this.learning.learn({ ...this.defaults, ...options }, {
        signal,
        // A new phase goes out at once, so that no step is skipped on screen; counts within it are throttled.
        onProgress: (p) => this.set({ progress: progressOf(p) }, p.phase !== this.run.progress?.phase),
        beforeSwitch: async () => {
          held = true;
          await this.host.holdIndexing();
        },
      });
      switched = report.decision.switched;
      if (switched) this.undo = undoOf(await this.learning.undoRecord());
      this.set({ state: 'idle', progress: null, lastRun: { outcome: 'finished', at: new Date().toISOString(), report: reportOf(report), error: null, notEnoughPlaces: false } });
    } catch (e) {
      const cancelled = e instanceof LearningCancelledError;
      this.set({
        state: 'idle',
        progress: null,
        lastRun: { outcome: cancelled ? 'cancelled' : 'failed', at: new Date().toISOString(), report: null, error: (e as Error).message, notEnoughPlaces: e instanceof NotEnoughMaterialError },
      });
    } finally {
      if (held) this.host.releaseIndexing(switched);
    }
  }

  async cancel(): Promise<LearningState> {
    if (this.abort && this.run.state === 'running') {
      this.abort.abort();
      this.set({ state: 'cancelling' });
    }
    return this.status();
  }

  async revert(): Promise<LearningState> {
    if (this.running) throw new ApiError('conflict', 'Learning is running: cancel it or wait for it to finish before undoing.');
    if (!(await this.learning.undoRecord())) throw new ApiError('conflict', 'There is no learned whitening to undo: the whitening in use is not one that learning switched to.');
    await this.host.holdIndexing();
    try {
      await this.learning.revert();
    } catch (e) {
      throw new ApiError('internal', `Could not go back to the previous whitening: ${(e as Error).message}`);
    } finally {
      this.undo = undoOf(await this.learning.undoRecord().catch(() => undefined));
      this.host.releaseIndexing(true);
    }
    this.set({});
    return this.snapshot();
  }

  async close(): Promise<void> {
    this.abort?.abort();
    await this.running;
  }

  private async loadUndo(): Promise<void> {
    if (this.undo === undefined) this.undo = undoOf(await this.learning.undoRecord().catch(() => undefined));
  }

  private snapshot(): LearningState {
    return {
      ...this.run,
      current: this.learning.describeCurrent(),
      undo: this.undo ?? null,
      requirements: { minPlaces: MIN_PLACES, minPhotosPerPlace: MIN_PHOTOS_PER_PLACE, heldOutShare: DEFAULT_PLACE_SPLIT.heldOutShare },
    };
  }

  /** Progress goes out at most every PROGRESS_EVENT_INTERVAL_MS; every change of state at once. */
  private set(next: Partial<RunState>, force = true): void {
    this.run = { ...this.run, ...next };
    const now = Date.now();
    if (!force && now - this.lastEventAt < PROGRESS_EVENT_INTERVAL_MS) return;
    this.lastEventAt = now;
    this.host.emit({ type: 'learning', learning: this.snapshot() });
  }
}

function finiteOr<T>(value: number, fallback: T): number | T {
  return Number.isFinite(value) ? value : fallback;
}

/** A share the contract can carry: JSON has no NaN, and "nothing measured" is null. */
function shareOf(value: number | null): number | null {
  return value === null || !Number.isFinite(value) ? null : Math.min(1, Math.max(0, value));
}

function progressOf(p: { phase: LearningProgress['phase']; done: number; total: number; rate: number; eta: number | null }): LearningProgress {
  return { phase: p.phase, done: Math.round(p.done), total: Math.round(p.total), rate: finiteOr(p.rate, 0), eta: p.eta === null ? null : finiteOr(p.eta, null) };
}

function reportOf(r: CoreReport): LearningReport {
  return {
    ...r,
    training: { ...r.training, trainingMAP: { before: shareOf(r.training.trainingMAP.before), after: shareOf(r.training.trainingMAP.after) } },
    evaluation: r.evaluation.map((s) => ({ ...s, mAP: shareOf(s.mAP), recallAt1: shareOf(s.recallAt1) })),
  };
}

function undoOf(record: WhiteningUndoRecord | undefined): LearningState['undo'] {
  return record ? { switchedAt: record.switchedAt, previous: record.previousDescription, heldOutMAP: record.heldOutMAP } : null;
}
