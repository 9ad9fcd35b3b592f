// The core behind app/api's contract: one Library (database, engine, indexer) serving every call
// of the UI, whichever transport carries it. Calls arrive validated (apiDispatcher); what the user
// can get wrong (a missing folder, an unknown photo) comes back as an ApiError with a clear message.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { executionProvidersFor } from '../engine/executionProviders.js';
import type { PhotoDescriptor } from '../engine/descriptorEngine.js';
import { dot } from '../engine/vectorMath.js';
import { writeTransaction } from '../library/database/libraryDatabase.js';
import type { PhotoRow } from '../library/database/photoRepository.js';
import { TrashRepository } from '../library/database/trashRepository.js';
import { watchFolders, type FolderWatch } from '../library/folderWatcher.js';
import { Library, type LibraryOptions } from '../library/library.js';
import { ThumbnailCache } from '../library/thumbnailCache.js';
import { PhotoTrash, type OsTrash } from '../library/photoTrash.js';
import { rankWithExpansion } from '../search/searchRanking.js';
import type { LocalFeatures } from '../match/localFeatures.js';
import type { MatchPool } from '../match/matchPool.js';
import { featuresInBox } from '../match/regionFeatures.js';
import { LearningController } from './learningController.js';
import {
  ApiError,
  VIEWER_IMAGE_LONG_SIDE,
  type ApiEvent,
  type ApiParsedInput,
  type DuplicateGroup,
  type DuplicateMember,
  type Folder,
  type IndexingState,
  type IndexProgress,
  type MatchHeatmap,
  type MatchVerification,
  type MediaKind,
  type PhotoDetail,
  type PhotoSummary,
  type PixelBox,
  type Query,
  type SightlineApiHandlers,
  type Status,
} from './contract.js';

export interface SightlineServiceOptions extends LibraryOptions {
  /** The OS trash (Electron); without it, files go to a .sightline-trash folder. */
  osTrash?: OsTrash;
  /** Watch the library's folders and re-index on changes (default true). */
  watch?: boolean;
  /** Index every folder once at start, to catch what changed while the app was closed (default true). */
  reconcileOnStart?: boolean;
  /** Settings of "Learn from my library" besides those a call gives (tests lower the switch margin). */
  learning?: ConstructorParameters<typeof LearningController>[1];
}

export interface MediaBytes {
  bytes: Uint8Array;
  contentType: string;
}

const MAX_UPLOADS = 8;
const MAX_CACHED_DESCRIPTIONS = 32;
const PROGRESS_EVENT_INTERVAL_MS = 150;

export const GRID_OVERLAY_LABEL = 'Rigid R-MAC grid — the regions every photo is pooled over (this model has no trained Region Proposal Network)';
export const rpnOverlayLabel = (topK: number): string => `RPN proposals (top ${topK}) — the regions the trained Region Proposal Network chose for this photo, shaded by their share of the descriptor`;
export const RPN_FALLBACK_OVERLAY_LABEL = 'Rigid R-MAC grid — the RPN proposed no usable region for this photo, so it was pooled over the grid';

interface Upload {
  bytes: Buffer;
  name: string;
  width: number;
  height: number;
}

export class SightlineService implements SightlineApiHandlers {
  private readonly listeners = new Set<(event: ApiEvent) => void>();
  private readonly uploads = new Map<string, Upload>();
  private readonly descriptions = new Map<string, Promise<PhotoDescriptor>>();
  private readonly trashService: PhotoTrash;
  private indexing: IndexingState = { state: 'idle', progress: null, lastSummary: null, lastError: null };
  private indexRun: Promise<void> | null = null;
  private rerunRequested = false;
  private lastProgressEventAt = 0;
  private groupsCache: Promise<{ rule: string; groups: DuplicateGroup[] }> | null = null;
  private placesCache: ReturnType<Library['places']> | null = null;
  private watcher: FolderWatch | null = null;
  private readonly uploadFeatures = new Map<string, Promise<LocalFeatures>>();
  private closed = false;
  private readonly learning: LearningController;
  /** Set while the engine switches whitening: indexing waits (see LearningHost.holdIndexing). */
  private indexingHeld = false;

  private constructor(
    readonly library: Library,
    private readonly options: SightlineServiceOptions,
  ) {
    this.trashService = new PhotoTrash(new TrashRepository(library.db), library.photos, library.folders, options.osTrash);
    this.learning = new LearningController({
      library,
      emit: (event) => this.emit(event),
      isIndexing: () => this.indexRun !== null,
      holdIndexing: async () => {
        this.indexingHeld = true;
        this.rerunRequested = false;
        if (this.indexRun) {
          this.library.cancelIndexing();
          await this.indexRun.catch(() => undefined);
        }
      },
      releaseIndexing: (whiteningChanged) => {
        this.indexingHeld = false;
        if (whiteningChanged) this.emit({ type: 'libraryChanged', reason: 'whitening' });
        this.requestIndexing();
      },
    }, options.learning);
  }

  static async open(options: SightlineServiceOptions = {}): Promise<SightlineService> {
    const service = new SightlineService(await Library.open(options), options);
    if (options.watch !== false) service.rewatch();
    if (options.reconcileOnStart !== false && service.library.folders.list().length > 0) service.requestIndexing();
    return service;
  }

  onEvent(listener: (event: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ApiEvent): void {
    if (event.type === 'libraryChanged') {
      this.groupsCache = null;
      this.placesCache = null;
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener that throws (a closed socket) must not stop the others.
      }
    }
  }

  private setIndexing(next: Partial<IndexingState>, force = true): void {
    this.indexing = { ...this.indexing, ...next };
    const now = Date.now();
    if (!force && now - this.lastProgressEventAt < PROGRESS_EVENT_INTERVAL_MS) return;
    this.lastProgressEventAt = now;
    this.emit({ type: 'indexing', indexing: this.indexing });
  }

  /** Runs the indexer over every folder; a request during a run queues exactly one more run. */
  private requestIndexing(): void {
    if (this.closed) return;
    if (this.indexRun || this.indexingHeld) {
      this.rerunRequested = true;
      return;
    }
    this.indexRun = (async () => {
      do {
        this.rerunRequested = false;
        const folders = this.library.folders.list().map((f) => f.path);
        if (!folders.length) break;
        this.setIndexing({ state: 'running', progress: null, lastError: null });
        try {
          const summary = await this.library.index(folders, (p) => this.onProgress(p));
          this.setIndexing({ state: 'idle', progress: null, lastSummary: summary });
          if (summary.cancelled) this.rerunRequested = false;
        } catch (e) {
          this.setIndexing({ state: 'idle', progress: null, lastError: (e as Error).message });
          this.rerunRequested = false;
        }
        this.emit({ type: 'libraryChanged', reason: 'indexed' });
      } while (this.rerunRequested && !this.closed);
    })().finally(() => {
      this.indexRun = null;
    });
  }

  private onProgress(p: IndexProgress): void {
    const state = this.indexing.state === 'paused' || this.indexing.state === 'cancelling' ? this.indexing.state : 'running';
    this.setIndexing({ state, progress: { ...p, eta: p.eta !== null && Number.isFinite(p.eta) ? p.eta : null, rate: Number.isFinite(p.rate) ? p.rate : 0 } }, false);
  }

  private rewatch(): void {
    const old = this.watcher;
    this.watcher = null;
    void old?.close();
    const folders = this.library.folders.list().filter((f) => f.status === 'ok').map((f) => f.path);
    if (!folders.length || this.closed) return;
    this.watcher = watchFolders(folders, () => this.requestIndexing(), {
      skipDirs: [path.dirname(this.library.dbPath)],
      onError: () => undefined,
    });
  }

  // ---- status, folders, indexing -------------------------------------------------------------

  async getStatus(): Promise<Status> {
    const s = this.library.status();
    const engine = this.library.engine;
    return {
      database: s.database,
      model: {
        id: engine.descriptorVersion,
        name: engine.model.meta.name,
        dimension: engine.dimension,
        whitened: !!engine.whitening,
        regions: engine.model.meta.kind,
        executionProviders: executionProvidersFor('auto'),
      },
      photos: s.photos,
      failures: s.failures,
      folders: s.folders,
      indexing: this.indexing,
      trash: this.trashService.kind,
    };
  }

  async listFolders(): Promise<Folder[]> {
    return this.library.folders.list();
  }

  async addFolder({ path: requested }: ApiParsedInput<'addFolder'>): Promise<Folder> {
    if (!path.isAbsolute(requested)) throw new ApiError('bad_request', `Give the folder's full path (got "${requested}").`);
    const folder = path.resolve(requested);
    const stat = await fs.stat(folder).catch((e: NodeJS.ErrnoException) => {
      throw new ApiError('bad_request', e.code === 'ENOENT' ? `There is no folder at ${folder}.` : `Cannot open ${folder}: ${e.message}`);
    });
    if (!stat.isDirectory()) throw new ApiError('bad_request', `${folder} is a file, not a folder.`);
    await fs.access(folder, fs.constants.R_OK | fs.constants.X_OK).catch(() => {
      throw new ApiError('bad_request', `${folder} cannot be read (permission denied).`);
    });
    // A folder that contains the data folder is fine (the scanner skips it); one inside it is not photos.
    const dataDir = path.dirname(this.library.dbPath);
    if (folder === dataDir || folder.startsWith(dataDir + path.sep)) throw new ApiError('bad_request', `${folder} is Sightline's own data folder.`);
    const row = this.library.folders.add(folder);
    this.emit({ type: 'libraryChanged', reason: 'folders' });
    this.rewatch();
    this.requestIndexing();
    return row;
  }

  async removeFolder({ folderId }: ApiParsedInput<'removeFolder'>): Promise<{ removed: boolean }> {
    if (!this.library.folders.get(folderId)) throw new ApiError('not_found', `There is no folder ${folderId} in the library.`);
    if (this.indexRun) {
      this.library.cancelIndexing();
      await this.indexRun;
    }
    const removed = writeTransaction(this.library.db, () => {
      const done = this.library.folders.remove(folderId);
      this.library.photos.markOrphansGone();
      return done;
    });
    this.library.syncSearchMatrix();
    this.rewatch();
    this.emit({ type: 'libraryChanged', reason: 'folders' });
    return { removed };
  }

  async startIndexing(): Promise<IndexingState> {
    if (!this.library.folders.list().length) throw new ApiError('bad_request', 'Add a folder first: the library has none.');
    this.requestIndexing();
    return this.indexing;
  }

  async pauseIndexing(): Promise<IndexingState> {
    if (this.indexing.state === 'running') {
      this.library.pauseIndexing();
      this.setIndexing({ state: 'paused' });
    }
    return this.indexing;
  }

  async resumeIndexing(): Promise<IndexingState> {
    if (this.indexing.state === 'paused') {
      this.library.resumeIndexing();
      this.setIndexing({ state: 'running' });
    }
    return this.indexing;
  }

  async cancelIndexing(): Promise<IndexingState> {
    if (this.indexing.state === 'running' || this.indexing.state === 'paused') {
      this.rerunRequested = false;
      this.library.cancelIndexing();
      this.setIndexing({ state: 'cancelling' });
    }
    return this.indexing;
  }

  async listFailures({ offset, limit }: ApiParsedInput<'listFailures'>) {
    const all = this.library.failures.list();
    return {
      total: all.length,
      items: all.slice(offset, offset + limit).map((f) => ({ path: f.displayPath, code: f.code, message: f.message, at: f.at })),
    };
  }

  // ---- photos ---------------------------------------------------------------------------------

  private summary(row: PhotoRow): PhotoSummary {
    const file = this.library.photos.filesOf(row.id).find((f) => f.present);
    const shown = file?.displayPath ?? '';
    return { id: row.id, width: row.width, height: row.height, takenAt: row.takenAt, path: shown, name: shown ? path.basename(shown) : '', status: row.status };
  }

  private photoOrThrow(photoId: number): PhotoRow {
    const row = this.library.photos.get(photoId);
    if (!row) throw new ApiError('not_found', `There is no photo ${photoId} in the library.`);
    return row;
  }

  async listPhotos({ offset, limit, sort, direction }: ApiParsedInput<'listPhotos'>) {
    const total = this.library.photos.countByStatus().indexed;
    const rows = this.library.photos.list({ status: 'indexed', offset, limit, orderBy: sort === 'date' ? 'taken_at' : 'path', direction });
    return { total, offset, items: rows.map((r) => this.summary(r)) };
  }

  async getPhoto({ photoId }: ApiParsedInput<'getPhoto'>): Promise<PhotoDetail> {
    const row = this.photoOrThrow(photoId);
    return {
      ...this.summary(row),
      contentHash: row.contentHash,
      size: row.size,
      format: row.format,
      cameraMake: row.cameraMake,
      cameraModel: row.cameraModel,
      gpsLat: row.gpsLat,
      gpsLon: row.gpsLon,
      sharpness: row.sharpness,
      errorCode: row.errorCode,
      errorMessage: row.errorMessage,
      files: this.library.photos.filesOf(photoId).map((f) => ({ path: f.displayPath, present: f.present, size: f.size })),
    };
  }

  // ---- search and heatmaps ----------------------------------------------------------------------

  private async presentFileOf(photoId: number): Promise<Buffer> {
    this.photoOrThrow(photoId);
    const file = this.library.photos.filesOf(photoId).find((f) => f.present);
    if (!file) throw new ApiError('not_found', `Photo ${photoId} has no file on disk any more.`);
    return fs.readFile(file.path).catch((e: Error) => {
      throw new ApiError('unavailable', `Cannot read ${file.displayPath}: ${e.message}`);
    });
  }

  private uploadOrThrow(uploadId: string): Upload {
    const upload = this.uploads.get(uploadId);
    if (!upload) throw new ApiError('not_found', 'That dropped image is no longer held; drop it again.');
    return upload;
  }

  /** Region descriptors of a photo or an upload (a region of it with `box`), cached: heatmaps ask repeatedly. */
  private describeQuery(query: Query): Promise<PhotoDescriptor> {
    const key = `${this.library.modelId}|${query.kind === 'photo' ? `p${query.photoId}` : `u${query.uploadId}`}|${query.box ? boxKey(query.box) : ''}`;
    let cached = this.descriptions.get(key);
    if (!cached) {
      const box = query.box;
      cached = (async () => {
        const bytes = query.kind === 'photo' ? await this.presentFileOf(query.photoId) : this.uploadOrThrow(query.uploadId).bytes;
        try {
          return await this.library.engine.describe(bytes, { box });
        } catch (e) {
          throw new ApiError('bad_request', `Cannot describe that image: ${(e as Error).message}`);
        }
      })();
      cached.catch(() => this.descriptions.delete(key));
      this.descriptions.set(key, cached);
      while (this.descriptions.size > MAX_CACHED_DESCRIPTIONS) this.descriptions.delete(this.descriptions.keys().next().value as string);
    }
    return cached;
  }

  async search({ query, top, qe }: ApiParsedInput<'search'>) {
    const started = performance.now();
    let vector: Float32Array | undefined;
    if (query.kind === 'photo' && !query.box) {
      this.photoOrThrow(query.photoId);
      vector = this.library.descriptors.get(query.photoId, this.library.modelId)?.vector;
    }
    vector ??= (await this.describeQuery(query)).global;
    const exclude = query.kind === 'photo' ? new Set([query.photoId]) : undefined;
    const matrix = this.library.descriptorMatrix();
    const ranked = matrix.size ? rankWithExpansion(matrix, vector, { k: top, qe, exclude }) : [];
    const hits = ranked.map(({ id, score }) => {
      const row = this.library.photos.get(id);
      const s = row ? this.summary(row) : { path: '', name: '', width: null, height: null };
      return { photoId: id, score, path: s.path, name: s.name, width: s.width, height: s.height };
    });
    return { query, hits, ms: performance.now() - started };
  }

  async uploadImage({ name, dataBase64 }: ApiParsedInput<'uploadImage'>) {
    const bytes = Buffer.from(dataBase64, 'base64');
    if (!bytes.length) throw new ApiError('bad_request', `${name || 'The image'} is empty.`);
    const meta = await sharp(bytes, { limitInputPixels: 100_000_000 })
      .metadata()
      .catch((e: Error) => {
        throw new ApiError('bad_request', `${name || 'That file'} is not an image Sightline can read (${e.message}).`);
      });
    const width = meta.autoOrient?.width ?? meta.width;
    const height = meta.autoOrient?.height ?? meta.height;
    if (!width || !height) throw new ApiError('bad_request', `${name || 'That file'} has no readable size.`);
    const uploadId = crypto.randomBytes(16).toString('hex');
    this.uploads.set(uploadId, { bytes, name, width, height });
    while (this.uploads.size > MAX_UPLOADS) this.uploads.delete(this.uploads.keys().next().value as string);
    return { uploadId, width, height };
  }

  /**
   * Where the score comes from. The score is G_q · G_r with G = Σ regions / ‖Σ regions‖, so it splits
   * exactly into region pairs (r_i · s_j) / (‖Σr‖ ‖Σs‖), and a query region's heat is r_i · G_r / ‖Σr‖
   * (the heats of either side sum to the score).
   */
  async matchHeatmap({ query, resultPhotoId, pairs: pairCount }: ApiParsedInput<'matchHeatmap'>): Promise<MatchHeatmap> {
    const [q, r] = await Promise.all([this.describeQuery(query), this.describeQuery({ kind: 'photo', photoId: resultPhotoId })]);
    const qNorm = sumNorm(q);
    const rNorm = sumNorm(r);
    const pairs: MatchHeatmap['pairs'] = [];
    q.regions.forEach((qr, i) => r.regions.forEach((rr, j) => pairs.push({ query: i, result: j, contribution: dot(qr.vector, rr.vector) / (qNorm * rNorm) })));
    pairs.sort((a, b) => b.contribution - a.contribution);
    return {
      score: dot(q.global, r.global),
      query: { width: q.originalWidth, height: q.originalHeight, regions: q.regions.map((x) => ({ box: x.box, heat: dot(x.vector, r.global) / qNorm })) },
      result: { width: r.originalWidth, height: r.originalHeight, regions: r.regions.map((x) => ({ box: x.box, heat: dot(x.vector, q.global) / rNorm })) },
      pairs: pairs.slice(0, pairCount),
    };
  }

  private matcher(): Promise<MatchPool> {
    return this.library.matcher();
  }

  private async localFeatures(query: Query): Promise<LocalFeatures> {
    const pool = await this.matcher();
    let features: LocalFeatures;
    if (query.kind === 'photo') {
      this.photoOrThrow(query.photoId);
      const file = this.library.photos.filesOf(query.photoId).find((f) => f.present);
      if (!file) throw new ApiError('not_found', `Photo ${query.photoId} has no file on disk any more.`);
      features = await pool.features(file.displayPath).catch((e: Error) => {
        throw new ApiError('bad_request', `Cannot find local features in ${file.displayPath}: ${e.message}`);
      });
    } else {
      const upload = this.uploadOrThrow(query.uploadId);
      let pending = this.uploadFeatures.get(query.uploadId);
      if (!pending) {
        pending = pool.featuresOf(upload.bytes);
        pending.catch(() => this.uploadFeatures.delete(query.uploadId));
        this.uploadFeatures.set(query.uploadId, pending);
        while (this.uploadFeatures.size > MAX_UPLOADS) this.uploadFeatures.delete(this.uploadFeatures.keys().next().value as string);
      }
      features = await pending.catch((e: Error) => {
        throw new ApiError('bad_request', `Cannot find local features in ${upload.name || 'that image'}: ${e.message}`);
      });
    }
    return query.box ? featuresInBox(features, query.box) : features;
  }

  async verifyMatch({ query, resultPhotoId, maxLines }: ApiParsedInput<'verifyMatch'>): Promise<MatchVerification> {
    const [a, b] = await Promise.all([this.localFeatures(query), this.localFeatures({ kind: 'photo', photoId: resultPhotoId })]);
    const v = await (await this.matcher()).verifyFeatures(a, b);
    // The strongest evidence first would need per-match scores; an even spread shows the extent.
    const step = Math.max(1, v.inlierPairs.length / Math.max(1, maxLines));
    const lines = maxLines === 0 ? [] : Array.from({ length: Math.min(maxLines, v.inlierPairs.length) }, (_, i) => v.inlierPairs[Math.floor(i * step)]);
    return {
      verified: v.verified,
      reason: v.reason ?? null,
      matches: v.matches,
      inliers: v.inliers,
      inlierRatio: v.inlierRatio,
      model: v.model,
      queryBox: v.boxA,
      resultBox: v.boxB,
      lines,
      query: { width: a.width, height: a.height },
      result: { width: b.width, height: b.height },
    };
  }

  async regionOverlay({ photoId }: ApiParsedInput<'regionOverlay'>) {
    const d = await this.describeQuery({ kind: 'photo', photoId });
    // What this photo actually pooled: an RPN model falls back to the grid where its head proposes nothing.
    const rpn = this.library.engine.model.meta.rpn;
    const label = d.regionSource === 'rpn' && rpn ? rpnOverlayLabel(rpn.proposals.topK) : d.regionSource === 'grid-fallback' ? RPN_FALLBACK_OVERLAY_LABEL : GRID_OVERLAY_LABEL;
    return {
      kind: d.regionSource === 'rpn' ? 'rpn' as const : 'grid' as const,
      label,
      width: d.originalWidth,
      height: d.originalHeight,
      regions: d.regions.map((x) => ({ box: x.box, weight: x.weight, objectness: x.objectness ?? null })),
    };
  }

  // ---- duplicates and places ------------------------------------------------------------------------

  private member(photoId: number, score: number): DuplicateMember {
    const row = this.photoOrThrow(photoId);
    const s = this.summary(row);
    return { photoId, score, path: s.path, name: s.name, width: row.width, height: row.height, size: row.size, format: row.format, sharpness: row.sharpness, takenAt: row.takenAt };
  }

  async duplicateGroups({ tier }: ApiParsedInput<'duplicateGroups'>) {
    // Grouping a big library takes seconds to a minute: compute once per library change, and let
    // decisions drop the groups they settle from the cached answer.
    this.groupsCache ??= this.library.duplicateGroups().then(({ rule, groups }) => ({
      rule,
      groups: groups.map((g) => ({
        key: g.key,
        tier: g.tier,
        keeper: g.keeper,
        keeperReason: g.keeperReason,
        members: g.members.map((id, i) => this.member(id, g.scores[i])),
        files: g.files ?? [],
        keeperFile: g.keeperFile ?? null,
      })),
    }));
    const cache = this.groupsCache;
    cache.catch(() => {
      if (this.groupsCache === cache) this.groupsCache = null;
    });
    const { rule, groups } = await cache;
    return { rule, groups: tier ? groups.filter((g) => g.tier === tier) : groups };
  }

  async decideDuplicates({ action, members, keeper }: ApiParsedInput<'decideDuplicates'>) {
    const rows = [...new Set(members)].map((id) => this.photoOrThrow(id));
    if (rows.length < 2) throw new ApiError('bad_request', 'A decision needs at least two different photos.');
    const keeperHash = keeper === undefined ? undefined : this.photoOrThrow(keeper).contentHash;
    const hashes = rows.map((r) => r.contentHash);
    if (new Set(hashes).size < 2) throw new ApiError('bad_request', 'These are the same photo (same content).');
    const decision = this.library.decisions.addGroup(action === 'not_duplicates' ? 'not_duplicates' : 'resolved', hashes, keeperHash);
    const trashed: string[] = [];
    const trashFailures: { path: string; reason: string }[] = [];
    if (action === 'trash_others') {
      for (const row of rows) {
        if (row.id === keeper) continue;
        const outcome = await this.trashService.trashPhoto(decision.id, row.id);
        trashed.push(...outcome.trashed);
        trashFailures.push(...outcome.failures);
      }
      this.library.syncSearchMatrix();
    }
    // Every change clears the caches (libraryChanged), but the groups need not be recomputed for a
    // decision: the ones it settles are dropped from the cached answer.
    const settled = new Set(members);
    const remaining = this.groupsCache?.then(({ rule, groups }) => ({ rule, groups: groups.filter((g) => !g.members.some((m) => settled.has(m.photoId))) }));
    this.emit({ type: 'libraryChanged', reason: trashed.length ? 'trash' : 'decisions' });
    this.groupsCache = remaining ?? null;
    return { decisionId: decision.id, trashed, trashFailures };
  }

  async decideCopies({ photoId, action, keepPath }: ApiParsedInput<'decideCopies'>) {
    const row = this.photoOrThrow(photoId);
    const present = this.library.photos.filesOf(photoId).filter((f) => f.present).map((f) => f.displayPath);
    if (present.length < 2) throw new ApiError('conflict', `Photo ${photoId} has ${present.length} file on disk now: there are no copies to decide about.`);
    if (keepPath !== undefined && !present.includes(keepPath)) throw new ApiError('bad_request', `${keepPath} is not one of this photo's files.`);
    const decision = this.library.decisions.addCopiesResolved(row.contentHash);
    const outcome = action === 'trash_others' ? await this.trashService.trashFiles(decision.id, photoId, (p) => p !== keepPath) : { trashed: [], failures: [] };
    const remaining = this.groupsCache?.then(({ rule, groups }) => ({ rule, groups: groups.filter((g) => !(g.tier === 'exact' && g.keeper === photoId)) }));
    this.emit({ type: 'libraryChanged', reason: outcome.trashed.length ? 'trash' : 'decisions' });
    this.groupsCache = remaining ?? null;
    return { decisionId: decision.id, trashed: outcome.trashed, trashFailures: outcome.failures };
  }

  async undoDecision({ decisionId }: ApiParsedInput<'undoDecision'>) {
    const decision = this.library.decisions.get(decisionId);
    if (!decision) throw new ApiError('not_found', `There is no decision ${decisionId}.`);
    const undone = this.library.decisions.undo(decisionId);
    const { restored, notRestored } = undone ? await this.trashService.restoreDecision(decisionId) : { restored: [], notRestored: [] };
    this.groupsCache = null;
    this.emit({ type: 'libraryChanged', reason: 'decisions' });
    // Restored files are found again by a reconciliation pass (cheap: unchanged files cost a stat).
    if (restored.length) this.requestIndexing();
    return { undone, restored, notRestored };
  }

  async places() {
    this.placesCache ??= this.library.places();
    const cache = this.placesCache;
    cache.catch(() => {
      if (this.placesCache === cache) this.placesCache = null;
    });
    return { places: (await cache).map((p) => ({ representative: p.representative, count: p.count, members: p.members, cohesion: p.cohesion })) };
  }

  // ---- learn from my library ------------------------------------------------------------------------

  learningStatus() {
    return this.learning.status();
  }

  learnFromLibrary(input: ApiParsedInput<'learnFromLibrary'>) {
    return this.learning.start(input);
  }

  cancelLearning() {
    return this.learning.cancel();
  }

  revertLearning() {
    return this.learning.revert();
  }

  // ---- media by photo id ----------------------------------------------------------------------------

  /** Thumbnails and viewer images by photo id only: null for ids the library does not hold. */
  async readMedia(kind: MediaKind, photoId: number): Promise<MediaBytes | null> {
    if (!Number.isSafeInteger(photoId) || photoId <= 0) return null;
    const row = this.library.photos.get(photoId);
    if (!row || row.status === 'gone') return null;
    if (kind === 'thumb') {
      if (!row.thumbnail) return null;
      const bytes = await fs.readFile(path.join(this.library.thumbnails.dir, ...row.thumbnail.split('/'))).catch(() => null);
      return bytes && { bytes, contentType: ThumbnailCache.contentTypeOf(row.thumbnail) };
    }
    const file = this.library.photos.filesOf(photoId).find((f) => f.present);
    if (!file) return null;
    try {
      const bytes = await sharp(await fs.readFile(file.path), { limitInputPixels: 100_000_000 })
        .rotate()
        .resize(VIEWER_IMAGE_LONG_SIDE, VIEWER_IMAGE_LONG_SIDE, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: 88 })
        .toBuffer();
      return { bytes, contentType: 'image/jpeg' };
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.learning.close();
    await this.watcher?.close();
    if (this.indexRun) {
      this.library.cancelIndexing();
      await this.indexRun.catch(() => undefined);
    }
    this.listeners.clear();
    await this.library.close();
  }
}

function boxKey(b: PixelBox): string {
  return `${b.x},${b.y},${b.width},${b.height}`;
}

/** ‖Σ regions‖, which is Σ weights since each weight is the region's dot product with G = Σr/‖Σr‖. */
function sumNorm(d: PhotoDescriptor): number {
  const n = d.regions.reduce((s, r) => s + r.weight, 0);
  return n > 0 ? n : 1;
}
