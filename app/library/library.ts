// The library as the CLI (and later the app/api layer) uses it: one SQLite database, one
// descriptor engine, the indexer, and search over every descriptor held in memory.
import fs from 'node:fs/promises';
import path from 'node:path';
import { DescriptorEngine, whiteningPathFor } from '../engine/descriptorEngine.js';
import { fitWhiteningOnVectors, saveWhitening, type Whitening } from '../engine/whitening.js';
import { neighbourGraphAbove } from '../search/neighbourGraph.js';
import { nearIdenticalScore } from '../search/pixelVerification.js';
import { runLimited } from '../eval/retrievalEvaluation.js';
import type { PixelBox } from '../engine/imageInput.js';
import { resolveModel } from '../engine/modelResolver.js';
import { appDataDir } from '../paths.js';
import { DescriptorMatrix, type NeighbourGraph } from '../search/descriptorMatrix.js';
import { duplicateGroupKey, duplicateThresholds, findDuplicateGroups, KEEPER_RULE, type DuplicateGroup, type DuplicateTier } from '../search/duplicateGroups.js';
import { findPlaceClusters, type PlaceCluster } from '../search/placeClusters.js';
import { rankWithExpansion } from '../search/searchRanking.js';
import type { MatchPool } from '../match/matchPool.js';
import type { PairVerification } from '../match/geometricVerification.js';
import { openLibraryDatabase, type LibraryDatabase } from './database/libraryDatabase.js';
import { DecisionRepository } from './database/decisionRepository.js';
import { DescriptorRepository } from './database/descriptorRepository.js';
import { FailureRepository } from './database/failureRepository.js';
import { FolderRepository } from './database/folderRepository.js';
import { PhotoRepository } from './database/photoRepository.js';
import { watchFolders, type FolderWatch } from './folderWatcher.js';
import { Indexer, type IndexProgress, type IndexSummary } from './indexer.js';
import { ThumbnailCache } from './thumbnailCache.js';

export interface LibraryOptions {
  /** SQLite file (default: `<app data>/library.db`). */
  dbPath?: string;
  /** Model id, name or path (default: the model in use). */
  model?: string;
  longSide?: number;
  workers?: number;
  /**
   * Fit PCA-whitening on the library's own photos once it holds AUTO_WHITEN_MIN_PHOTOS, then
   * re-embed (default false). Whitened scores separate places far better, but a whitening fitted
   * on a library full of copies learns to ignore what copies share: on near-dup it pushed
   * resized/grey/flipped variants from ≥ 0.98 down to 0.24–0.41 against their originals.
   */
  autoWhiten?: boolean;
  /**
   * Near-identical candidates that the pixel check cannot settle (a crop, a small turn) are
   * verified with local features and a fitted transform (default true).
   */
  geometricNearCheck?: boolean;
}

export const AUTO_WHITEN_MIN_PHOTOS = 200;

/**
 * A near-identical pair must also match pixel for pixel (nearIdenticalScore of the tiny grey
 * signatures). Measured: copies re-encoded, resized, grey or mirrored 0.98–1.00, turned by ~200°
 * 0.955; different shots of one Paris landmark up to 0.93 (two frontal Invalides facades, one grey),
 * different UKBench objects at most 0.72. A 10 % crop scores 0.90 and is left to the similar tier
 * until geometric verification (issue 5) can tell crops from look-alikes.
 */
export const NEAR_PIXEL_CORRELATION = 0.94;

/**
 * Pairs whose signatures correlate at least this much but below NEAR_PIXEL_CORRELATION go to
 * geometric verification: crops by 5–10 % score 0.85–0.93 here. Lower ones are other shots; not
 * verifying them keeps a big library's grouping from matching thousands of landmark pairs.
 */
export const NEAR_GEOMETRIC_MIN_PIXEL = 0.8;

/**
 * A geometrically verified pair is near-identical only when nearly all of its ratio-test matches
 * agree on the transform: crops and turns of one shot kept 0.91–1.00 (bench/nearDuplicateVerification.ts),
 * other shots of a landmark from another spot 0.11–0.81. Shots of a flat facade from the same spot
 * (bursts, or another day) also reach 0.9–0.99: those are grouped, as burst neighbours are.
 */
export const NEAR_INLIER_RATIO = 0.85;

/** Candidate neighbours per photo for the duplicate tiers, and for place clusters (see placeClusters.ts on k). */
const DUPLICATE_NEIGHBOURS = 20;
const PLACE_NEIGHBOURS = 5;
const AUTO_WHITEN_SAMPLE = 400;

export interface SearchHit {
  photoId: number;
  score: number;
  path: string;
  thumbnail: string | null;
}

export interface SearchOptions {
  top?: number;
  box?: PixelBox;
  /** Average query expansion over the top n (0 = off). */
  qe?: number;
}

/** Pairs that are in each other's neighbour lists, once each. */
function mutualEdges(graph: NeighbourGraph): Array<[number, number]> {
  const lists = new Map<number, Set<number>>();
  for (let r = 0; r < graph.ids.length; r++) lists.set(graph.ids[r], new Set(graph.neighbours.subarray(r * graph.k, r * graph.k + graph.counts[r])));
  const edges: Array<[number, number]> = [];
  for (const [a, near] of lists) for (const b of near) if (a < b && lists.get(b)?.has(a)) edges.push([a, b]);
  return edges;
}

/** How verifiedPairs names an unordered pair of photo ids. */
export function pairKey(a: number, b: number): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

export function defaultLibraryPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(appDataDir(env), 'library.db');
}

export class Library {
  readonly photos: PhotoRepository;
  readonly folders: FolderRepository;
  readonly descriptors: DescriptorRepository;
  readonly failures: FailureRepository;
  readonly decisions: DecisionRepository;
  private matrix: DescriptorMatrix | undefined;
  private indexer: Indexer | undefined;
  private matchPool: Promise<MatchPool> | undefined;

  private constructor(
    readonly db: LibraryDatabase,
    readonly dbPath: string,
    private engineInUse: DescriptorEngine,
    readonly thumbnails: ThumbnailCache,
    private readonly options: LibraryOptions,
  ) {
    this.photos = new PhotoRepository(db);
    this.folders = new FolderRepository(db);
    this.descriptors = new DescriptorRepository(db);
    this.failures = new FailureRepository(db);
    this.decisions = new DecisionRepository(db);
  }

  static async open(options: LibraryOptions = {}): Promise<Library> {
    const dbPath = path.resolve(options.dbPath ?? defaultLibraryPath());
    await fs.mkdir(path.dirname(dbPath), { recursive: true });
    const db = openLibraryDatabase(dbPath);
    try {
      const model = await resolveModel(options.model);
      const longSide = options.longSide ?? 512;
      const engine = await DescriptorEngine.open(model, { workers: options.workers, scales: [longSide] });
      const thumbnails = new ThumbnailCache(path.join(path.dirname(dbPath), 'thumbnails'));
      return new Library(db, dbPath, engine, thumbnails, { ...options, longSide });
    } catch (e) {
      db.close();
      throw e;
    }
  }

  get engine(): DescriptorEngine {
    return this.engineInUse;
  }

  get modelId(): string {
    return this.engine.descriptorVersion;
  }

  async index(folders: string[], onProgress?: (p: IndexProgress) => void): Promise<IndexSummary> {
    let summary = await this.runIndexer(folders, onProgress);
    if (this.options.autoWhiten === true && !this.engine.whitening && !summary.cancelled && this.photos.countByStatus().indexed >= AUTO_WHITEN_MIN_PHOTOS) {
      await this.whitenOnLibrary(onProgress);
      const again = await this.runIndexer(folders, onProgress);
      summary = { ...summary, seconds: summary.seconds + again.seconds, failed: again.failed, cancelled: again.cancelled };
    }
    return summary;
  }

  private async runIndexer(folders: string[], onProgress?: (p: IndexProgress) => void): Promise<IndexSummary> {
    const matrix = this.matrix;
    this.indexer = new Indexer(this.db, this.engine, this.thumbnails, {
      longSide: this.options.longSide,
      skipDirs: [path.dirname(this.dbPath)],
      onProgress,
      onDescribed: (id, vector) => matrix?.upsert(id, vector),
    });
    try {
      return await this.indexer.index(folders);
    } finally {
      this.indexer = undefined;
      this.syncSearchMatrix();
    }
  }

  /**
   * The search matrix follows the library incrementally (the indexer upserts each new descriptor).
   * Here photos that stopped being 'indexed' (gone, failed on re-index, trashed) leave it, and
   * indexed photos it lacks (a trashed file put back: unchanged, so never re-described) return.
   */
  syncSearchMatrix(): void {
    const matrix = this.matrix;
    if (!matrix) return;
    for (const id of this.photos.idsNotIndexed()) matrix.remove(id);
    if (matrix.size >= this.descriptors.countIndexed(this.modelId)) return;
    for (const id of this.photos.indexedIds()) {
      if (matrix.has(id)) continue;
      const row = this.descriptors.get(id, this.modelId);
      if (row) matrix.upsert(id, row.vector);
    }
  }

  /**
   * Fits whitening on region vectors of an even sample of the library's photos (DESIGN.md §1.1
   * step 5: "in the product, on the user's own library"), saves it for the model, and switches
   * the engine to it: every descriptor becomes stale and the next indexer pass re-embeds it.
   */
  async whitenOnLibrary(onProgress?: (p: IndexProgress) => void): Promise<void> {
    const indexed = this.photos.list({ status: 'indexed', limit: Number.MAX_SAFE_INTEGER, orderBy: 'id' });
    const step = Math.max(1, indexed.length / AUTO_WHITEN_SAMPLE);
    const sample = Array.from({ length: Math.min(AUTO_WHITEN_SAMPLE, indexed.length) }, (_, i) => indexed[Math.floor(i * step)]);
    const vectors: Float32Array[] = [];
    let done = 0;
    const started = Date.now();
    await runLimited(sample, this.engine.pool.size * 2, async (photo) => {
      const file = this.photos.filesOf(photo.id).find((f) => f.present);
      if (file) {
        const raw = await this.engine.pool.describe(await fs.readFile(file.path), { scales: [this.options.longSide ?? 512] }).catch(() => undefined);
        for (const s of raw?.scales ?? []) for (const r of s.regions) vectors.push(r.vector);
      }
      done++;
      const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
      onProgress?.({ phase: 'whiten', done, total: sample.length, rate, eta: (sample.length - done) / rate, current: file?.displayPath });
    });
    if (vectors.length < 2) return;
    const whitening = await fitWhiteningOnVectors(vectors, { fittedOn: `${sample.length} photos of the library ${this.dbPath}` });
    await this.switchWhitening(whitening);
  }

  /**
   * Makes `whitening` the model's whitening (saved where the engine looks first) and reopens the
   * engine with it; with 'saved', the engine takes whatever the model's files hold now (after
   * they were restored or removed). Every descriptor becomes stale and the next indexer pass
   * re-embeds it. The previous whitening's descriptors are deleted unless `keepPrevious`: learning
   * keeps them so that switching back to it costs no re-embedding.
   */
  async switchWhitening(whitening: Whitening | 'saved', options: { keepPrevious?: boolean } = {}): Promise<void> {
    if (whitening !== 'saved') await saveWhitening(whitening, whiteningPathFor(this.engine.model));
    const previous = this.engine;
    this.engineInUse = await DescriptorEngine.open(previous.model, { workers: this.options.workers, scales: [this.options.longSide ?? 512], whitening: whitening === 'saved' ? undefined : whitening });
    await previous.close();
    if (!options.keepPrevious && previous.descriptorVersion !== this.modelId) this.descriptors.deleteForModel(previous.descriptorVersion);
    this.matrix = undefined;
  }

  /**
   * Watches the folders and re-indexes them when files settle after a change. Re-indexing is a
   * reconciliation (unchanged files cost a stat), so one code path serves start-up and changes.
   */
  watch(folders: string[], events: { onIndexed?: (s: IndexSummary) => void; onError?: (e: Error) => void; onProgress?: (p: IndexProgress) => void } = {}, opts: { debounceMs?: number; settleMs?: number } = {}): FolderWatch {
    let running: Promise<void> = Promise.resolve();
    let queued = false;
    const reindex = () => {
      if (queued) return;
      queued = true;
      running = running.then(async () => {
        queued = false;
        try {
          events.onIndexed?.(await this.index(folders, events.onProgress));
        } catch (e) {
          events.onError?.(e as Error);
        }
      });
    };
    const watch = watchFolders(folders, reindex, { ...opts, skipDirs: [path.dirname(this.dbPath)], onError: (e) => events.onError?.(e) });
    return {
      ready: watch.ready,
      close: async () => {
        await watch.close();
        await running;
      },
    };
  }

  pauseIndexing(): void {
    this.indexer?.pause();
  }

  resumeIndexing(): void {
    this.indexer?.resume();
  }

  cancelIndexing(): void {
    this.indexer?.cancel();
  }

  status() {
    return {
      database: this.dbPath,
      model: this.modelId,
      whitened: !!this.engine.whitening,
      folders: this.folders.list(),
      photos: this.photos.countByStatus(),
      descriptors: this.descriptors.count(this.modelId),
      failures: this.failures.count(),
    };
  }

  /** Every descriptor of the current model in one contiguous matrix, loaded once. */
  descriptorMatrix(): DescriptorMatrix {
    if (!this.matrix) {
      const all = this.descriptors.loadAll(this.modelId);
      this.matrix = DescriptorMatrix.from(all.ids, all.matrix, all.dim || this.engine.dimension, { adopt: true });
    }
    return this.matrix;
  }

  private hits(ranked: { id: number; score: number }[]): SearchHit[] {
    return ranked.map(({ id, score }) => {
      const photo = this.photos.get(id);
      const file = this.photos.filesOf(id).find((f) => f.present);
      return { photoId: id, score, path: file?.displayPath ?? '', thumbnail: photo?.thumbnail ?? null };
    });
  }

  /** Photos like an indexed photo, or like a region of it. */
  async searchByPhoto(photoId: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    let query: Float32Array | undefined;
    if (!options.box) query = this.descriptors.get(photoId, this.modelId)?.vector;
    if (!query) {
      const file = this.photos.filesOf(photoId).find((f) => f.present);
      if (!file) throw new Error(`photo ${photoId} has no file on disk to describe`);
      query = (await this.engine.describe(await fs.readFile(file.path), { box: options.box })).global;
    }
    return this.rank(query, options, options.box ? undefined : photoId);
  }

  /** Photos like an outside image file (or a region of it). */
  async searchByFile(file: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    const { global } = await this.engine.describe(file, { box: options.box });
    return this.rank(global, options);
  }

  private rank(query: Float32Array, options: SearchOptions, exclude?: number): SearchHit[] {
    const ranked = rankWithExpansion(this.descriptorMatrix(), query, { k: options.top ?? 20, qe: options.qe, exclude: exclude === undefined ? undefined : new Set([exclude]) });
    return this.hits(ranked);
  }

  async duplicateGroups(tier?: DuplicateTier): Promise<{ rule: string; groups: DuplicateGroup[] }> {
    // Lean rows, copies in one query, tiny signatures only for the photos a near candidate pair
    // touches: at 100k photos the full rows, a files query per photo and every signature in
    // memory cost ~400 MB and ~10 s before grouping began.
    const photos = this.photos.keeperFacts();
    const filesByPhoto = this.photos.presentCopies();
    const matrix = this.descriptorMatrix();
    const thresholds = duplicateThresholds(!!this.engine.whitening);
    const graph = await neighbourGraphAbove(matrix, thresholds.similarMember, DUPLICATE_NEIGHBOURS);
    const tiny = new Map<number, Uint8Array | undefined>();
    const tinyOf = (id: number) => {
      if (!tiny.has(id)) tiny.set(id, this.photos.tinyOf(id));
      return tiny.get(id);
    };
    const pixelScore = (a: number, b: number) => {
      const ta = tinyOf(a);
      const tb = tinyOf(b);
      return ta && tb ? nearIdenticalScore(ta, tb) : 1;
    };
    const verified = this.options.geometricNearCheck === false ? new Set<string>() : await this.verifyNearCandidates(graph, thresholds.nearMember, pixelScore);
    const groups = findDuplicateGroups({
      matrix,
      graph,
      nearVerifier: (a, b) => pixelScore(a, b) >= NEAR_PIXEL_CORRELATION || verified.has(pairKey(a, b)),
      photos,
      filesByPhoto,
      thresholds,
      dismissedPairs: (a, b) => this.decisions.isPairDismissed(a, b),
      resolvedGroups: this.decisions.resolvedGroups().map((g) => duplicateGroupKey(g.hashes)),
    });
    return { rule: KEEPER_RULE, groups: tier ? groups.filter((g) => g.tier === tier) : groups };
  }

  /**
   * Geometric verification of the near-identical candidates the pixel check leaves open: pairs
   * close enough by descriptor, whose signatures correlate between NEAR_GEOMETRIC_MIN_PIXEL and
   * NEAR_PIXEL_CORRELATION. Returns the pairs that verify with a high inlier ratio.
   */
  private async verifyNearCandidates(graph: NeighbourGraph, nearMember: number, pixelScore: (a: number, b: number) => number): Promise<Set<string>> {
    const candidates: Array<[number, number]> = [];
    for (let r = 0; r < graph.ids.length; r++) {
      const a = graph.ids[r];
      for (let j = 0; j < graph.counts[r]; j++) {
        const b = graph.neighbours[r * graph.k + j];
        if (a >= b || graph.scores[r * graph.k + j] < nearMember) continue;
        const px = pixelScore(a, b);
        if (px >= NEAR_GEOMETRIC_MIN_PIXEL && px < NEAR_PIXEL_CORRELATION) candidates.push([a, b]);
      }
    }
    return this.verifiedPairs(candidates, (v) => v.inlierRatio >= NEAR_INLIER_RATIO);
  }

  /**
   * The pairs (keyed by pairKey) whose photos' present files verify geometrically and pass
   * `accept`. A photo with no file on disk, or one that cannot be read, verifies nothing. Once
   * `signal` aborts, the pairs not started yet are skipped (the caller decides what that means).
   */
  async verifiedPairs(pairs: Array<[number, number]>, accept: (v: PairVerification) => boolean = () => true, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<Set<string>> {
    const verified = new Set<string>();
    if (!pairs.length) return verified;
    const pool = await this.matcher();
    const fileOf = (id: number) => this.photos.filesOf(id).find((f) => f.present)?.displayPath;
    let done = 0;
    await runLimited(pairs, pool.size * 2, async ([a, b]) => {
      if (signal?.aborted) return;
      const fa = fileOf(a);
      const fb = fileOf(b);
      const v = fa && fb ? await pool.verify(fa, fb).catch(() => undefined) : undefined;
      if (v?.verified && accept(v)) verified.add(pairKey(a, b));
      onProgress?.(++done, pairs.length);
    });
    return verified;
  }

  /** Local features and verification (OpenCV's wasm build loads in a second or two): opened on first use. */
  matcher(): Promise<MatchPool> {
    if (!this.matchPool) {
      const opening = import('../match/matchPool.js').then(({ MatchPool }) =>
        MatchPool.open({ workers: this.engine.pool.size, cacheDir: path.join(path.dirname(this.dbPath), 'features') }),
      );
      opening.catch(() => {
        if (this.matchPool === opening) this.matchPool = undefined;
      });
      this.matchPool = opening;
    }
    return this.matchPool;
  }

  /**
   * Same-place clusters. With `verified`, a mutual-neighbour edge joins two photos only when their
   * local features verify geometrically (DESIGN.md §1.5), so one look-alike cannot merge two places.
   */
  async places(options: { verified?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<PlaceCluster[]> {
    const threshold = duplicateThresholds(!!this.engine.whitening).similar;
    const matrix = this.descriptorMatrix();
    const graph = await neighbourGraphAbove(matrix, threshold, PLACE_NEIGHBOURS);
    let verifiedEdge: ((a: number, b: number) => boolean) | undefined;
    if (options.verified) {
      const verified = await this.verifiedPairs(mutualEdges(graph), undefined, options.onProgress);
      verifiedEdge = (a, b) => verified.has(pairKey(a, b));
    }
    return findPlaceClusters(matrix, { threshold, k: PLACE_NEIGHBOURS, graph, verifiedEdge });
  }

  async close(): Promise<void> {
    await (await this.matchPool?.catch(() => undefined))?.close();
    await this.engine.close();
    this.db.close();
  }
}
