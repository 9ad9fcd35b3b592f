// One search: what was asked (a photo, a box in it, or an outside image), the ranked hits, the
// score threshold, the selected hit and its match heatmap, the region overlays shown over it, and
// (in the "Matched points" mode) where its local features match the query's.
import type { MatchHeatmap, MatchVerification, PixelBox, Query, RegionOverlay, SearchHit, SearchResult } from '../../../app/api/contract.js';
import type { ApiClient } from '../../lib/apiClient.js';
import { checkUploadable, readAsBase64 } from './imageUpload.js';

export type QuerySource =
  | { kind: 'photo'; photoId: number; name: string; width: number; height: number; box?: PixelBox }
  | { kind: 'upload'; uploadId: string; name: string; width: number; height: number; objectUrl: string };

type SearchApi = Pick<ApiClient, 'call'>;

/** A library photo as a query: its size in original pixels, which boxes are given in. */
export interface SearchablePhoto {
  id: number;
  name: string;
  width: number;
  height: number;
}

/** How many hits a search asks for; the threshold then hides the weak ones. */
export const SEARCH_TOP = 100;
/** Region pairs the heatmap links across query and result. */
export const HEATMAP_PAIRS = 8;
/** Match lines asked for in the "Matched points" mode (an even spread over the inliers). */
export const MATCH_LINES = 80;
/** Verifications kept for the session, the oldest dropped first. */
export const MAX_VERIFICATIONS = 64;

/** What the side-by-side panel shows: the region heatmap, or the verified local-feature matches. */
export type DetailMode = 'heatmap' | 'points';

/** The verification of one (query, result) pair: asked, answered, or failed (already reported). */
export type VerificationState = { state: 'loading' } | { state: 'done'; value: MatchVerification } | { state: 'failed'; message: string };

/** The cache key of a (query, result) pair: the query as sent, box included, and the result's id. */
export function verificationKey(query: Query, resultPhotoId: number): string {
  const box = query.box ? `@${query.box.x},${query.box.y},${query.box.width},${query.box.height}` : '';
  return `${query.kind === 'photo' ? `photo:${query.photoId}` : `upload:${query.uploadId}`}${box}→${resultPhotoId}`;
}

export function queryOf(source: QuerySource): Query {
  if (source.kind === 'photo') return source.box ? { kind: 'photo', photoId: source.photoId, box: source.box } : { kind: 'photo', photoId: source.photoId };
  return { kind: 'upload', uploadId: source.uploadId };
}

export class SearchSession {
  source = $state.raw<QuerySource | null>(null);
  result = $state.raw<SearchResult | null>(null);
  searching = $state(false);
  /** Hits scoring below it are hidden. */
  threshold = $state(0);
  selectedId = $state<number | null>(null);
  heatmap = $state.raw<MatchHeatmap | null>(null);
  heatmapLoading = $state(false);
  showRegions = $state(false);
  overlays = $state.raw<ReadonlyMap<number, RegionOverlay>>(new Map());
  detailMode = $state<DetailMode>('heatmap');
  /** Verifications by `verificationKey`; a failure stays until retried, so it is reported once. */
  verifications = $state.raw<ReadonlyMap<string, VerificationState>>(new Map());

  readonly hits: SearchHit[] = $derived(this.result?.hits ?? []);
  readonly visibleHits: SearchHit[] = $derived(this.hits.filter((h) => h.score >= this.threshold));
  /** The slider's range: the scores this search produced, widened to whole hundredths. */
  readonly scoreRange = $derived.by(() => {
    if (!this.hits.length) return { min: 0, max: 1 };
    const scores = this.hits.map((h) => h.score);
    const min = Math.floor(Math.min(...scores) * 100) / 100;
    const max = Math.ceil(Math.max(...scores) * 100) / 100;
    return { min, max: max > min ? max : min + 0.01 };
  });
  readonly selectedHit: SearchHit | null = $derived(this.hits.find((h) => h.photoId === this.selectedId) ?? null);
  /** The selected result's verification against the current query; null until asked for. */
  readonly verification: VerificationState | null = $derived(
    this.source && this.selectedId !== null ? (this.verifications.get(verificationKey(queryOf(this.source), this.selectedId)) ?? null) : null,
  );

  readonly #api: SearchApi;
  #searchTicket = 0;
  #heatmapTicket = 0;
  #overlayRequests = new Set<number>();

  constructor(api: SearchApi) {
    this.#api = api;
  }

  async searchPhoto(photo: SearchablePhoto, box?: PixelBox): Promise<void> {
    await this.#run({ kind: 'photo', photoId: photo.id, name: photo.name, width: photo.width, height: photo.height, ...(box ? { box } : {}) });
  }

  /** Sends an outside image to the core, then searches with it. Throws a readable message when it cannot. */
  async searchUpload(file: File): Promise<void> {
    const problem = checkUploadable(file);
    if (problem) throw new Error(problem);
    this.searching = true;
    try {
      const uploaded = await this.#api.call('uploadImage', { name: file.name, dataBase64: await readAsBase64(file) });
      await this.#run({ kind: 'upload', uploadId: uploaded.uploadId, name: file.name, width: uploaded.width, height: uploaded.height, objectUrl: URL.createObjectURL(file) });
    } finally {
      this.searching = false;
    }
  }

  async select(photoId: number | null): Promise<void> {
    this.selectedId = photoId;
    const ticket = ++this.#heatmapTicket;
    if (photoId === null || !this.source) {
      this.heatmap = null;
      return;
    }
    this.heatmapLoading = true;
    if (this.showRegions) void this.#loadOverlays();
    if (this.detailMode === 'points') void this.#verifySelected();
    try {
      const heatmap = await this.#api.call('matchHeatmap', { query: queryOf(this.source), resultPhotoId: photoId, pairs: HEATMAP_PAIRS });
      if (ticket === this.#heatmapTicket) this.heatmap = heatmap;
    } catch {
      if (ticket === this.#heatmapTicket) this.heatmap = null;
    } finally {
      if (ticket === this.#heatmapTicket) this.heatmapLoading = false;
    }
  }

  setShowRegions(on: boolean): void {
    this.showRegions = on;
    if (on) void this.#loadOverlays();
  }

  /** Switches the panel's mode; the matched points are asked for only once the mode is on. */
  setDetailMode(mode: DetailMode): void {
    this.detailMode = mode;
    if (mode === 'points') void this.#verifySelected();
  }

  toggleDetailMode(): void {
    this.setDetailMode(this.detailMode === 'heatmap' ? 'points' : 'heatmap');
  }

  /** Asks again for a verification that failed (the failure was shown once; so is a new one). */
  retryVerification(): void {
    if (this.verification?.state !== 'failed' || !this.source || this.selectedId === null) return;
    const next = new Map(this.verifications);
    next.delete(verificationKey(queryOf(this.source), this.selectedId));
    this.verifications = next;
    void this.#verifySelected();
  }

  setThreshold(value: number): void {
    this.threshold = value;
  }

  /** The region overlay of a library photo, once loaded. */
  overlayFor(photoId: number): RegionOverlay | undefined {
    return this.overlays.get(photoId);
  }

  dispose(): void {
    this.#replaceSource(null);
  }

  async #run(source: QuerySource): Promise<void> {
    const ticket = ++this.#searchTicket;
    this.#replaceSource(source);
    this.result = null;
    this.selectedId = null;
    this.heatmap = null;
    this.threshold = 0;
    this.searching = true;
    try {
      const result = await this.#api.call('search', { query: queryOf(source), top: SEARCH_TOP });
      if (ticket !== this.#searchTicket) return;
      this.result = result;
      this.threshold = this.scoreRange.min;
    } finally {
      if (ticket === this.#searchTicket) this.searching = false;
    }
  }

  #replaceSource(source: QuerySource | null): void {
    const old = this.source;
    if (old?.kind === 'upload' && (source?.kind !== 'upload' || source.objectUrl !== old.objectUrl)) URL.revokeObjectURL(old.objectUrl);
    this.source = source;
  }

  /**
   * Verifies the selected result against the current query, unless that pair is cached, in
   * flight, or failed: a failure was reported by the reporting client and is not asked again by
   * itself (re-selecting the result or switching modes would otherwise report it again).
   */
  async #verifySelected(): Promise<void> {
    if (!this.source || this.selectedId === null) return;
    const query = queryOf(this.source);
    const resultPhotoId = this.selectedId;
    const key = verificationKey(query, resultPhotoId);
    if (this.verifications.has(key)) return;
    this.#setVerification(key, { state: 'loading' });
    try {
      const value = await this.#api.call('verifyMatch', { query, resultPhotoId, maxLines: MATCH_LINES });
      this.#setVerification(key, { state: 'done', value });
    } catch (e) {
      // The reporting client has shown why; the panel says that it could not be checked.
      this.#setVerification(key, { state: 'failed', message: e instanceof Error ? e.message : String(e) });
    }
  }

  #setVerification(key: string, entry: VerificationState): void {
    const next = new Map(this.verifications);
    next.delete(key);
    next.set(key, entry);
    for (const old of next.keys()) {
      if (next.size <= MAX_VERIFICATIONS) break;
      if (next.get(old)?.state !== 'loading') next.delete(old);
    }
    this.verifications = next;
  }

  async #loadOverlays(): Promise<void> {
    const ids = [this.source?.kind === 'photo' ? this.source.photoId : null, this.selectedId].filter((id): id is number => id !== null);
    await Promise.all(
      ids
        .filter((id) => !this.overlays.has(id) && !this.#overlayRequests.has(id))
        .map(async (id) => {
          this.#overlayRequests.add(id);
          try {
            const overlay = await this.#api.call('regionOverlay', { photoId: id });
            this.overlays = new Map(this.overlays).set(id, overlay);
          } catch {
            // The reporting client has shown why; the toggle simply draws nothing for this photo.
          } finally {
            this.#overlayRequests.delete(id);
          }
        }),
    );
  }
}
