// "Learn from my library" (DESIGN.md §1.3 on the user's own photos): mine verified places from
// the library, hold a quarter of them out, learn the whitening on the rest with the triplet loss
// (from a PCA fitted on the same training photos), and measure the whitening in use, the PCA and
// the learned one on the held-out places. Only a learned whitening that ranks them better replaces
// the one in use, and the switch can be undone. Nothing changes until the very last step, so a
// cancelled or failed run leaves the library exactly as it was.
import fs from 'node:fs/promises';
import type { Whitening } from '../engine/whitening.js';
import type { RawDescriber } from '../eval/retrievalEvaluation.js';
import type { Library } from '../library/library.js';
import { DEFAULT_LEARNING } from '../train/learningDefaults.js';
import { selectTrainingBackend, type BackendPreference, type TrainingBackend } from '../train/trainingBackend.js';
import { TripletRelations } from '../train/trainingSet.js';
import { DEFAULT_TRIPLET_OPTIONS } from '../train/tripletTrainer.js';
import { describeRegions, fitPcaOnRegions, learnWhitening } from '../train/whiteningTraining.js';
import { describeWith, rankingQuality, type RankingQuality } from './heldOutRanking.js';
import { DEFAULT_PLACE_SPLIT, NotEnoughPlacesError, splitByPlace, type PlaceSplitOptions } from './placeSplit.js';
import { decideSwitch, defaultMinGain } from './switchRule.js';
import { candidatePairs, clustersToVerify, DEFAULT_PLACE_MINING, placesFromVerifiedPairs, type PlaceMiningOptions, type VerifiedPlace } from './verifiedPlaces.js';
import { backUpWhitening, clearUndo, readUndoRecord, restoreWhitening, writeUndoRecord, type WhiteningUndoRecord } from './whiteningUndo.js';

export const LEARNING_PHASES = ['mining', 'verifying', 'describing', 'training', 'evaluating', 'switching'] as const;
export type LearningPhase = (typeof LEARNING_PHASES)[number];

export interface LearningProgress {
  phase: LearningPhase;
  done: number;
  /** 0 while unknown. */
  total: number;
  /** Items per second in this phase so far. */
  rate: number;
  /** Seconds left in this phase; null while unknown. */
  eta: number | null;
}

/** A place needs two photos to give a pair; learning needs two places to learn from and two to measure on. */
export const MIN_PHOTOS_PER_PLACE = 2;
export const MIN_PLACES = DEFAULT_PLACE_SPLIT.minHeldOut + DEFAULT_PLACE_SPLIT.minTraining;

export interface LearningOptions {
  /** Measure only: never switch (default false). */
  dryRun?: boolean;
  /** Training epochs (default 10, as `sightline train whitening`). */
  epochs?: number;
  split?: Partial<PlaceSplitOptions>;
  mining?: Partial<PlaceMiningOptions>;
  /** Held-out mAP the learned whitening must gain (default: defaultMinGain()). */
  minGain?: number;
  backend?: BackendPreference;
}

export interface LearningHooks {
  onProgress?: (p: LearningProgress) => void;
  /** Aborting stops at the next photo, pair or training step; nothing is switched. */
  signal?: AbortSignal;
  /** Awaited right before the engine switches: the caller stops whatever describes photos meanwhile. */
  beforeSwitch?: () => Promise<void>;
}

export interface WhiteningScore {
  key: 'current' | 'pca' | 'learned';
  label: string;
  mAP: number;
  recallAt1: number;
}

interface PartSize {
  places: number;
  photos: number;
  pairs: number;
}

export interface LearningReport {
  startedAt: string;
  seconds: number;
  dryRun: boolean;
  mining: { clusters: number; photosChecked: number; candidatePairs: number; verifiedPairs: number; places: number; photos: number };
  split: { seed: number; heldOutShare: number; training: PartSize; heldOut: PartSize; unreadable: number };
  training: { epochs: number; steps: number; seconds: number; backend: string; trainingMAP: { before: number | null; after: number | null } };
  /** On the held-out places: the whitening in use, PCA fitted on the training places, and the learned one. */
  evaluation: WhiteningScore[];
  decision: { switched: boolean; reason: string; minGain: number };
  /** Descriptor versions (model + whitening fingerprint) before and after. */
  whitening: { before: string; after: string };
}

/** The library does not hold enough verified places (yet); the message says what it found and needs. */
export class NotEnoughMaterialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotEnoughMaterialError';
  }
}

export class LearningCancelledError extends Error {
  constructor() {
    super('Learning was cancelled; the whitening in use was left as it was.');
    this.name = 'LearningCancelledError';
  }
}

let backendChoice: Promise<TrainingBackend> | undefined;

/** The TF.js backend is process-wide: chosen once. */
function trainingBackend(prefer?: BackendPreference): Promise<TrainingBackend> {
  if (!backendChoice) {
    backendChoice = selectTrainingBackend({ prefer });
    backendChoice.catch(() => (backendChoice = undefined));
  }
  return backendChoice;
}

/** Progress of one phase with its rate and time left, measured from the phase's first report. */
function phaseReporter(onProgress: LearningHooks['onProgress']) {
  let phase: LearningPhase | undefined;
  let started = 0;
  return (next: LearningPhase, done: number, total: number) => {
    if (next !== phase) {
      phase = next;
      started = Date.now();
    }
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = total > 0 && done > 0 && rate > 0 ? Math.max(0, (total - done) / rate) : null;
    onProgress?.({ phase: next, done, total, rate, eta });
  };
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LearningCancelledError();
}

function size(places: readonly VerifiedPlace[]): PartSize {
  return { places: places.length, photos: places.reduce((n, p) => n + p.photos.length, 0), pairs: places.reduce((n, p) => n + p.pairs.length, 0) };
}

function tooFew(found: string): NotEnoughMaterialError {
  return new NotEnoughMaterialError(
    `Not enough verified places to learn from: ${found}. Learning needs at least ${MIN_PLACES} places with ${MIN_PHOTOS_PER_PLACE} or more photos each that verify as the same place ` +
      `(${DEFAULT_PLACE_SPLIT.minTraining} to learn from, ${DEFAULT_PLACE_SPLIT.minHeldOut} held out to measure on). ` +
      'Add folders with several photos of the same places — landmarks, buildings, rooms — let indexing finish, and try again.',
  );
}

export class LibraryLearning {
  constructor(private readonly library: Library) {}

  /** What the library's descriptors are whitened with now, in words. */
  describeCurrent(): string {
    const w = this.library.engine.whitening;
    return w ? `${w.dim}-d whitening: ${w.fittedOn}` : 'no whitening (plain R-MAC)';
  }

  /** The last switch, while it can still be undone (the learned whitening is still the one in use). */
  async undoRecord(): Promise<WhiteningUndoRecord | undefined> {
    const record = await readUndoRecord(this.library.engine.model);
    return record && record.learnedVersion === this.library.modelId ? record : undefined;
  }

  async learn(options: LearningOptions = {}, hooks: LearningHooks = {}): Promise<LearningReport> {
    const started = Date.now();
    const { signal } = hooks;
    const report = phaseReporter(hooks.onProgress);
    const library = this.library;
    const engine = library.engine;
    const versionBefore = library.modelId;
    const current = engine.whitening;
    const mining = { ...DEFAULT_PLACE_MINING, ...options.mining };
    const splitOptions = { ...DEFAULT_PLACE_SPLIT, ...options.split };
    const epochs = options.epochs ?? DEFAULT_LEARNING.whitening.epochs;

    // 1. Same-place clusters of the current descriptors, the candidates for verification.
    report('mining', 0, 0);
    const clusters = clustersToVerify((await library.places()).map((p) => p.members), mining);
    const matrix = library.descriptorMatrix();
    const candidates = candidatePairs(clusters, (id) => matrix.get(id), mining.shortlist);
    const photosChecked = clusters.reduce((n, c) => n + c.length, 0);
    report('mining', 1, 1);
    checkCancelled(signal);
    if (clusters.length === 0) throw tooFew(`the library has no clusters of similar photos yet (${library.photos.countByStatus().indexed} photos indexed)`);

    // 2. The cleaning step: only pairs whose local features verify join photos into a place.
    report('verifying', 0, candidates.length);
    const verified = await library.verifiedPairs(candidates, undefined, (done, total) => report('verifying', done, total), signal);
    checkCancelled(signal);
    const places = placesFromVerifiedPairs(candidates, verified, MIN_PHOTOS_PER_PLACE);
    const found = `${places.length} ${places.length === 1 ? 'place' : 'places'} (${verified.size} verified pairs among ${candidates.length} candidate pairs in ${clusters.length} clusters of similar photos)`;
    if (places.length < MIN_PLACES) throw tooFew(`found ${found}`);

    // 3. Whole places held out; region vectors of every photo, computed once for every whitening.
    let split;
    try {
      split = splitByPlace(places, splitOptions);
    } catch (e) {
      if (e instanceof NotEnoughPlacesError) throw tooFew(`found ${found}`);
      throw e;
    }
    const fileOf = new Map<string, Buffer>();
    const images = [...split.training, ...split.heldOut].flatMap((place) => place.photos.flatMap((photoId) => {
      const file = library.photos.filesOf(photoId).find((f) => f.present);
      if (!file) return [];
      const key = `#${photoId}`;
      fileOf.set(key, file.path);
      return [{ photoId, place, path: key }];
    }));
    const describer: RawDescriber = {
      describe: async (key, opts) => {
        if (signal?.aborted) throw new LearningCancelledError();
        return engine.pool.describe(await fs.readFile(fileOf.get(key)!), opts);
      },
    };
    report('describing', 0, images.length);
    const described = await describeRegions(describer, images, engine.defaultScales, (done, total) => report('describing', done, total));
    checkCancelled(signal);
    const regionsOf = new Map(described.images.map((img, i) => [img.photoId, described.regions[i]]));
    // A photo that could not be read leaves its place; a place left with one photo leaves the set.
    const usable = (part: VerifiedPlace[]) => part
      .map((p) => ({ photos: p.photos.filter((id) => regionsOf.has(id)), pairs: p.pairs.filter(([a, b]) => regionsOf.has(a) && regionsOf.has(b)) }))
      .filter((p) => p.photos.length >= MIN_PHOTOS_PER_PLACE);
    const training = usable(split.training);
    const heldOut = usable(split.heldOut);
    if (training.length < splitOptions.minTraining || heldOut.length < splitOptions.minHeldOut) {
      throw tooFew(`found ${found}, but too few of their photos could be read (${described.skipped.length} could not)`);
    }

    // 4. PCA on the training places' regions, then the triplet loss from it (hard negatives are
    // the other training places' photos the current layer ranks highest, re-mined as it learns).
    const backend = await trainingBackend(options.backend);
    checkCancelled(signal);
    const trainingPhotos = training.flatMap((p, place) => p.photos.map((photoId) => ({ photoId, classes: [String(place)], unsure: [] as string[] })));
    const trainingRegions = trainingPhotos.map((p) => regionsOf.get(p.photoId)!);
    const trainingSize = size(training);
    const where = `${trainingSize.places} verified places (${trainingSize.photos} photos) of the library ${library.dbPath}`;
    report('training', 0, 0);
    const pca = await fitPcaOnRegions(trainingRegions, { dim: current?.dim ?? 512, epsilon: 0.1, fittedOn: `PCA on ${where}` });
    const trainStarted = Date.now();
    const { whitening: learned, history } = await learnWhitening(trainingRegions, new TripletRelations(trainingPhotos), {
      initial: pca,
      training: { ...DEFAULT_TRIPLET_OPTIONS, ...DEFAULT_LEARNING.whitening, epochs, seed: splitOptions.seed, checkpointDir: undefined },
      label: `learned with the triplet loss on ${where}`,
      form: 'full',
    }, {
      signal,
      onProgress: (p) => {
        if (p.phase === 'step') report('training', p.step, p.totalSteps);
      },
    });
    if (history.interrupted) throw new LearningCancelledError();
    const trainingSeconds = (Date.now() - trainStarted) / 1000;

    // 5. The same held-out regions under each whitening: only the whitening differs.
    report('evaluating', 0, 3);
    const heldOutPhotos = heldOut.flatMap((p, place) => p.photos.map((photoId) => ({ photoId, place })));
    const heldOutRegions = heldOutPhotos.map((p) => regionsOf.get(p.photoId)!);
    const placeOf = heldOutPhotos.map((p) => p.place);
    const score = async (w: Whitening | undefined): Promise<RankingQuality> => rankingQuality(await describeWith(heldOutRegions, w), placeOf);
    const scores = { current: await score(current), pca: await score(pca), learned: await score(learned) };
    report('evaluating', 3, 3);
    checkCancelled(signal);
    const minGain = options.minGain ?? defaultMinGain();
    const dryRun = !!options.dryRun;
    const decision = decideSwitch(scores.current, scores.learned, { minGain, dryRun });

    // 6. The switch, last: everything before it only read the library.
    if (decision.switch) {
      report('switching', 0, 1);
      await hooks.beforeSwitch?.();
      if (library.modelId !== versionBefore) throw new Error(`The library's whitening changed while learning (${versionBefore} → ${library.modelId}); nothing was switched.`);
      await this.switchTo(learned, { previousVersion: versionBefore, previousDescription: this.describeCurrent(), heldOutMAP: { before: scores.current.mAP, after: scores.learned.mAP } });
      report('switching', 1, 1);
    }

    const first = history.mining[0];
    const last = history.mining[history.mining.length - 1];
    return {
      startedAt: new Date(started).toISOString(),
      seconds: (Date.now() - started) / 1000,
      dryRun,
      mining: { clusters: clusters.length, photosChecked, candidatePairs: candidates.length, verifiedPairs: verified.size, places: places.length, photos: size(places).photos },
      split: { seed: splitOptions.seed, heldOutShare: splitOptions.heldOutShare, training: trainingSize, heldOut: size(heldOut), unreadable: described.skipped.length },
      training: { epochs, steps: history.totalSteps, seconds: trainingSeconds, backend: backend.name, trainingMAP: { before: first?.trainingMAP ?? null, after: last?.trainingMAP ?? null } },
      evaluation: [
        { key: 'current', label: current ? 'Whitening in use now' : 'In use now: no whitening', ...pick(scores.current) },
        { key: 'pca', label: 'PCA-whitening fitted on the training places', ...pick(scores.pca) },
        { key: 'learned', label: 'Learned whitening (triplet loss, from that PCA)', ...pick(scores.learned) },
      ],
      decision: { switched: decision.switch, reason: decision.reason, minGain },
      whitening: { before: versionBefore, after: library.modelId },
    };
  }

  /**
   * Saves the learned whitening as the model's and switches the engine to it, keeping a copy of
   * what was there and the previous descriptors for an undo. A failure puts the files back.
   */
  private async switchTo(learned: Whitening, record: Pick<WhiteningUndoRecord, 'previousVersion' | 'previousDescription' | 'heldOutMAP'>): Promise<void> {
    const library = this.library;
    const model = library.engine.model;
    const older = await readUndoRecord(model);
    const hadUserWhitening = await backUpWhitening(model);
    try {
      await library.switchWhitening(learned, { keepPrevious: true });
    } catch (e) {
      await restoreWhitening(model, hadUserWhitening);
      throw e;
    }
    // Only one step back is kept: the descriptors an older undo kept are not needed any more.
    if (older && older.previousVersion !== record.previousVersion && older.previousVersion !== library.modelId) library.descriptors.deleteForModel(older.previousVersion);
    await writeUndoRecord(model, { ...record, learnedVersion: library.modelId, hadUserWhitening, switchedAt: new Date().toISOString() });
  }

  /**
   * Goes back to the whitening in use before the last switch. Its descriptors were kept, so
   * search works again at once; photos added since are described by the next indexer pass.
   */
  async revert(hooks: Pick<LearningHooks, 'beforeSwitch'> = {}): Promise<WhiteningUndoRecord> {
    const library = this.library;
    const model = library.engine.model;
    const record = await readUndoRecord(model);
    if (!record) throw new Error('There is no learned whitening to undo.');
    if (record.learnedVersion !== library.modelId) throw new Error('The whitening has changed since it was learned (another whitening or model is in use now); there is nothing to undo.');
    await hooks.beforeSwitch?.();
    await restoreWhitening(model, record.hadUserWhitening);
    await library.switchWhitening('saved');
    await clearUndo(model);
    return record;
  }
}

function pick(q: RankingQuality): { mAP: number; recallAt1: number } {
  return { mAP: q.mAP, recallAt1: q.recallAt1 };
}
