// The indexing service: folders → scan → content hash → decode once (thumbnail, EXIF, network
// pixels) → descriptor → SQLite. Every photo is committed on its own, so a crash loses at most
// the photos in flight, and a restart picks up whatever is still pending or stale.
import fs from 'node:fs/promises';
import path from 'node:path';
import { isImageInputError } from '../engine/imageErrors.js';
import type { DescriptorEngine } from '../engine/descriptorEngine.js';
import { fullHash, quickHash } from './contentHash.js';
import { writeTransaction, type LibraryDatabase } from './database/libraryDatabase.js';
import { DescriptorRepository } from './database/descriptorRepository.js';
import { FailureRepository } from './database/failureRepository.js';
import { FolderRepository } from './database/folderRepository.js';
import { PhotoRepository, type PhotoFileRow } from './database/photoRepository.js';
import { readExif } from './exifReader.js';
import { scanFolder } from './folderScanner.js';
import { decodePhoto } from './photoDecoder.js';
import type { ThumbnailCache } from './thumbnailCache.js';

export type IndexPhase = 'scan' | 'hash' | 'describe' | 'whiten' | 'done';

export interface IndexProgress {
  phase: IndexPhase;
  done: number;
  total: number;
  /** The file being worked on. */
  current?: string;
  /** Photos per second over the phase so far. */
  rate: number;
  /** Seconds left in this phase at the current rate. */
  eta: number | null;
}

export interface IndexSummary {
  scanned: number;
  added: number;
  reindexed: number;
  unchanged: number;
  moved: number;
  failed: number;
  skipped: number;
  gone: number;
  cancelled: boolean;
  seconds: number;
}

export interface IndexerOptions {
  /** Long side of the network input (matches the engine's scale). */
  longSide?: number;
  /** Photos decoded ahead of the engine, so decode overlaps inference. */
  concurrency?: number;
  /** Our own data dir, never indexed even if it sits inside a library folder. */
  skipDirs?: string[];
  onProgress?: (p: IndexProgress) => void;
  /** Each descriptor as it is committed, so an in-memory search matrix can follow without a reload. */
  onDescribed?: (photoId: number, vector: Float32Array) => void;
}

interface HashJob {
  folderId: number;
  path: Buffer;
  displayPath: string;
  size: number;
  mtimeMs: number;
}

/** Files whose quick hash is read ahead of the one being recorded. */
const HASH_READ_AHEAD = 8;

export class IndexCancelledError extends Error {
  constructor() {
    super('indexing was cancelled');
    this.name = 'IndexCancelledError';
  }
}

export class Indexer {
  private readonly folders: FolderRepository;
  private readonly photos: PhotoRepository;
  private readonly descriptors: DescriptorRepository;
  private readonly failures: FailureRepository;
  private paused: { promise: Promise<void>; resume: () => void } | undefined;
  private cancelled = false;

  constructor(
    private readonly db: LibraryDatabase,
    private readonly engine: DescriptorEngine,
    private readonly thumbnails: ThumbnailCache,
    private readonly options: IndexerOptions = {},
  ) {
    this.folders = new FolderRepository(db);
    this.photos = new PhotoRepository(db);
    this.descriptors = new DescriptorRepository(db);
    this.failures = new FailureRepository(db);
  }

  /** The id descriptors are stored under: the model and, when one is in use, its whitening. */
  get descriptorModelId(): string {
    return this.engine.descriptorVersion;
  }

  pause(): void {
    if (this.paused) return;
    let resume!: () => void;
    const promise = new Promise<void>((r) => (resume = r));
    this.paused = { promise, resume };
  }

  resume(): void {
    const p = this.paused;
    this.paused = undefined;
    p?.resume();
  }

  get isPaused(): boolean {
    return !!this.paused;
  }

  cancel(): void {
    this.cancelled = true;
    this.resume();
  }

  /** Adds the folders (if new), reconciles them with the disk, and indexes what is new or stale. */
  async index(folderPaths: string[]): Promise<IndexSummary> {
    const started = Date.now();
    this.cancelled = false;
    const summary: IndexSummary = { scanned: 0, added: 0, reindexed: 0, unchanged: 0, moved: 0, failed: 0, skipped: 0, gone: 0, cancelled: false, seconds: 0 };
    const scanStartedAt = new Date().toISOString();
    const roots = folderPaths.map((p) => path.resolve(p));
    const completedFolders: number[] = [];
    const toHash: HashJob[] = [];
    try {
      // Scan: only file metadata is read; files whose size and mtime are unchanged are not reopened.
      let scanned = 0;
      const scanProgress = this.progress('scan');
      for (const root of roots) {
        const folder = this.folders.add(root);
        let rootMissing = false;
        for await (const entry of scanFolder(root, { skipDirs: this.options.skipDirs })) {
          await this.checkpoint();
          if (entry.kind === 'folder-error') {
            if (entry.displayPath === root && entry.code === 'missing') rootMissing = true;
            if (entry.displayPath === root) this.folders.setStatus(folder.id, entry.code === 'missing' ? 'missing' : 'unreadable', entry.reason);
            else this.failures.record(entry.path, entry.displayPath, folder.id, entry.code, entry.reason);
            continue;
          }
          scanProgress(++scanned, scanned, entry.displayPath);
          if (entry.kind === 'skipped') {
            summary.skipped++;
            this.failures.record(entry.path, entry.displayPath, folder.id, entry.code, entry.reason);
            continue;
          }
          summary.scanned++;
          const known = this.photos.fileByPath(entry.path);
          if (known && known.size === entry.size && known.mtimeMs === Math.round(entry.mtimeMs)) {
            this.photos.touchFile(known.id, scanStartedAt);
            summary.unchanged++;
            continue;
          }
          toHash.push({ folderId: folder.id, path: entry.path, displayPath: entry.displayPath, size: entry.size, mtimeMs: Math.round(entry.mtimeMs) });
        }
        if (!rootMissing) {
          this.folders.setStatus(folder.id, 'ok');
          completedFolders.push(folder.id);
        }
      }

      // Hash: content identity, so moved and renamed files keep their descriptors and decisions.
      const hashProgress = this.progress('hash');
      let hashed = 0;
      // Quick hashes are read a few files ahead (they wait on the disk, not the CPU), while the
      // decisions and writes below stay in order: two files with one quick hash must meet in
      // sequence, or neither would see the other and compare full hashes.
      const quick: Array<Promise<string> | undefined> = [];
      const readAhead = (i: number) => {
        if (i >= toHash.length || quick[i]) return;
        quick[i] = quickHash(toHash[i].path, toHash[i].size);
        quick[i]!.catch(() => undefined);
      };
      for (let i = 0; i < HASH_READ_AHEAD; i++) readAhead(i);
      for (const [i, job] of toHash.entries()) {
        await this.checkpoint();
        readAhead(i + HASH_READ_AHEAD);
        hashProgress(++hashed, toHash.length, job.displayPath);
        try {
          const hash = await this.identify(job, await quick[i]!);
          const previous = this.photos.fileByPath(job.path);
          // A photo and its first file are written together: a photo with no file would be marked gone.
          const { id, created } = writeTransaction(this.db, () => {
            const photo = this.photos.upsertByHash({ contentHash: hash, size: job.size });
            this.photos.upsertFile({ photoId: photo.id, folderId: job.folderId, path: job.path, displayPath: job.displayPath, size: job.size, mtimeMs: job.mtimeMs, seenAt: scanStartedAt });
            this.failures.clear(job.path);
            return photo;
          });
          if (created) summary.added++;
          else if (previous && previous.photoId !== id) summary.reindexed++;
          else if (!previous) summary.moved++;
          else summary.unchanged++;
        } catch (e) {
          summary.failed++;
          this.failures.record(job.path, job.displayPath, job.folderId, 'unreadable', (e as Error).message, job.size, job.mtimeMs);
        }
      }
      // Only a folder that was scanned to the end marks its unseen files gone: a vanished folder
      // (an unplugged disk) keeps its photos.
      for (const id of completedFolders) {
        summary.gone += this.photos.markMissingFilesGone(id, scanStartedAt).photosGone;
        this.folders.markScanned(id, scanStartedAt);
      }

      // Describe: everything pending, plus indexed photos whose descriptor is missing or stale.
      const work = [...new Set([
        ...this.photos.pendingPhotos(Number.MAX_SAFE_INTEGER).map((p) => p.id),
        ...this.descriptors.staleOrMissing(this.descriptorModelId, Number.MAX_SAFE_INTEGER),
      ])];
      const describeProgress = this.progress('describe');
      let described = 0;
      let next = 0;
      const concurrency = Math.max(1, this.options.concurrency ?? this.engine.pool.size * 2);
      const worker = async () => {
        while (next < work.length && !this.cancelled) {
          await this.checkpoint().catch(() => undefined);
          if (this.cancelled) break;
          const photoId = work[next++];
          const ok = await this.describePhoto(photoId, (current) => describeProgress(described, work.length, current));
          if (!ok) summary.failed++;
          describeProgress(++described, work.length);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, work.length)) }, worker));
    } catch (e) {
      if (!(e instanceof IndexCancelledError)) throw e;
    }
    summary.cancelled = this.cancelled;
    summary.seconds = (Date.now() - started) / 1000;
    this.options.onProgress?.({ phase: 'done', done: summary.scanned, total: summary.scanned, rate: 0, eta: 0 });
    return summary;
  }

  private async identify(job: HashJob, quick: string): Promise<string> {
    const existing = this.photos.getByHash(quick);
    if (!existing) return quick;
    // Same quick hash as a photo whose file is still present elsewhere: a copy, or two files
    // that share size, head and tail. Only a full comparison can tell.
    const other = this.photos.filesOf(existing.id).find((f) => f.present && !f.path.equals(job.path));
    if (!other) return quick;
    const [mine, theirs] = await Promise.all([fullHash(job.path), fullHash(other.path).catch(() => undefined)]);
    return theirs === undefined || mine === theirs ? quick : mine;
  }

  /** Decodes once, stores thumbnail, EXIF and descriptor; records the reason if anything fails. */
  private async describePhoto(photoId: number, onCurrent: (file: string) => void): Promise<boolean> {
    const file = this.photos.filesOf(photoId).find((f) => f.present);
    if (!file) return true;
    onCurrent(file.displayPath);
    const photo = this.photos.get(photoId)!;
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'vanished' : 'unreadable';
      this.fail(photoId, file, code, (e as Error).message);
      return false;
    }
    try {
      const decoded = await decodePhoto(bytes, { networkLongSide: this.options.longSide ?? 512 });
      const [exif, thumbnail] = await Promise.all([readExif(bytes), this.thumbnails.put(photo.contentHash, decoded.thumbnail)]);
      const descriptor = await this.engine.describe({ raw: decoded.network.data, width: decoded.network.width, height: decoded.network.height, channels: 3 });
      writeTransaction(this.db, () => {
        this.descriptors.put(photoId, this.descriptorModelId, descriptor.global);
        this.photos.setIndexed(photoId, {
          width: decoded.width,
          height: decoded.height,
          format: decoded.format,
          takenAt: exif.takenAt ?? null,
          cameraMake: exif.cameraMake ?? null,
          cameraModel: exif.cameraModel ?? null,
          gpsLat: exif.gpsLat ?? null,
          gpsLon: exif.gpsLon ?? null,
          orientation: exif.orientation ?? null,
          sharpness: decoded.sharpness,
          thumbnail,
          tiny: decoded.tiny,
        });
        this.failures.clear(file.path);
      });
      // A thumbnail made in an older format (WebP before JPEG) is replaced, not kept beside the new one.
      if (photo.thumbnail && photo.thumbnail !== thumbnail) await this.thumbnails.deleteStored(photo.thumbnail).catch(() => undefined);
      this.options.onDescribed?.(photoId, descriptor.global);
      return true;
    } catch (e) {
      const code = isImageInputError(e) ? e.code : (e as Error).name === 'EngineWorkerCrashError' ? 'engine-crash' : 'error';
      this.fail(photoId, file, code, (e as Error).message);
      return false;
    }
  }

  private fail(photoId: number, file: PhotoFileRow, code: string, message: string): void {
    writeTransaction(this.db, () => {
      this.photos.setFailed(photoId, code, message);
      this.failures.record(file.path, file.displayPath, file.folderId, code, message, file.size, file.mtimeMs);
    });
  }

  private async checkpoint(): Promise<void> {
    if (this.paused) await this.paused.promise;
    if (this.cancelled) throw new IndexCancelledError();
  }

  private progress(phase: IndexPhase) {
    const started = Date.now();
    let last = 0;
    return (done: number, total: number, current?: string) => {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const seconds = (now - started) / 1000;
      const rate = seconds > 0 ? done / seconds : 0;
      this.options.onProgress?.({ phase, done, total, current, rate, eta: rate > 0 ? Math.max(0, (total - done) / rate) : null });
    };
  }
}
