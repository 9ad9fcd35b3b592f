// Local-feature extraction and pair verification in worker threads, with each photo's features
// computed once: kept in memory (most recently used first) and, given a cache folder, on disk.
import os from 'node:os';
import path from 'node:path';
import { isImageInputError, type ImageInputError } from '../engine/imageErrors.js';
import { WorkerPool, type WorkerStatusReply } from '../engine/workerPool.js';
import { FeatureDiskCache } from './featureDiskCache.js';
import { notVerified, type PairVerification, type VerifyOptions } from './geometricVerification.js';
import { DEFAULT_FEATURE_LONG_SIDE, DEFAULT_MAX_KEYPOINTS, type LocalFeatureOptions, type LocalFeatures } from './localFeatures.js';
import type { MatchWorkerInit, MatchWorkerReply } from './matchWorkerProtocol.js';

export interface MatchPoolOptions extends LocalFeatureOptions {
  /** Worker threads (default: one per core, at most 4). */
  workers?: number;
  /** Keep features on disk here, one file per photo. */
  cacheDir?: string;
  /** Photos whose features stay in memory (default 1024, about 150 KB each). */
  memoryCacheSize?: number;
  /** Defaults for every verify() call. */
  verify?: VerifyOptions;
}

export class MatchWorkerCrashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MatchWorkerCrashError';
  }
}

type Payload = { kind: 'features'; source: string | Uint8Array; options: LocalFeatureOptions } | { kind: 'verify'; a: LocalFeatures; b: LocalFeatures; options: VerifyOptions };

const workerUrl = (() => {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './matchWorker.ts' : './matchWorker.js', here);
})();

type ResultReply = Exclude<MatchWorkerReply, WorkerStatusReply>;

export class MatchPool {
  private readonly workers: WorkerPool<Payload, ResultReply, LocalFeatures | PairVerification>;
  private readonly memory = new Map<string, LocalFeatures>();
  private readonly pending = new Map<string, Promise<LocalFeatures>>();
  /** Photos that cannot be read, with the reason: every pair they are in fails the same way. */
  private readonly unusable = new Map<string, ImageInputError>();
  private readonly disk?: FeatureDiskCache;
  private readonly featureOptions: Required<LocalFeatureOptions>;
  private readonly memoryCacheSize: number;
  private readonly verifyDefaults: VerifyOptions;
  /** Features computed by the workers (not found in either cache). */
  extracted = 0;

  private constructor(options: MatchPoolOptions) {
    const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
    const workers = Math.max(1, options.workers ?? Math.min(cores, 4));
    this.featureOptions = { longSide: options.longSide ?? DEFAULT_FEATURE_LONG_SIDE, maxKeypoints: options.maxKeypoints ?? DEFAULT_MAX_KEYPOINTS };
    this.memoryCacheSize = options.memoryCacheSize ?? 1024;
    this.verifyDefaults = options.verify ?? {};
    if (options.cacheDir) this.disk = new FeatureDiskCache(options.cacheDir, JSON.stringify(this.featureOptions));
    const init: MatchWorkerInit = { threads: 1 };
    this.workers = new WorkerPool({
      workerUrl,
      workerData: init,
      workers,
      name: 'match',
      what: 'matching',
      jobNoun: 'job',
      crashError: (message) => new MatchWorkerCrashError(message),
      resultOf: (reply) => (reply.type === 'features' ? reply.features : reply.verification),
    });
  }

  /** Starts the workers and waits until each has loaded OpenCV and its matcher. */
  static async open(options: MatchPoolOptions = {}): Promise<MatchPool> {
    const pool = new MatchPool(options);
    await pool.workers.whenReady();
    return pool;
  }

  get size(): number {
    return this.workers.size;
  }

  /** How many workers have been replaced after dying. */
  get respawns(): number {
    return this.workers.respawns;
  }

  /** A photo's local features (original pixels). Unusable photos throw `ImageInputError`. */
  features(photo: string): Promise<LocalFeatures> {
    const key = path.resolve(photo);
    const known = this.memory.get(key);
    if (known) {
      this.memory.delete(key);
      this.memory.set(key, known);
      return Promise.resolve(known);
    }
    const failed = this.unusable.get(key);
    if (failed) return Promise.reject(failed);
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.load(key).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  /** Features of image bytes (no caching: bytes have no identity to key them by). */
  featuresOf(bytes: Uint8Array): Promise<LocalFeatures> {
    return this.workers.run({ kind: 'features', source: bytes, options: this.featureOptions }) as Promise<LocalFeatures>;
  }

  /**
   * Verifies two photos. A photo that cannot be read or has no texture makes the pair "not
   * verified" with the reason; only a closed or broken pool rejects.
   */
  async verify(photoA: string, photoB: string, opts: VerifyOptions = {}): Promise<PairVerification> {
    const [a, b] = await Promise.allSettled([this.features(photoA), this.features(photoB)]);
    for (const [name, r] of [['A', a], ['B', b]] as const) {
      if (r.status === 'rejected') {
        if (isImageInputError(r.reason)) return notVerified(`photo ${name} cannot be used: ${r.reason.message}`);
        throw r.reason;
      }
    }
    return this.verifyFeatures((a as PromiseFulfilledResult<LocalFeatures>).value, (b as PromiseFulfilledResult<LocalFeatures>).value, opts);
  }

  verifyFeatures(a: LocalFeatures, b: LocalFeatures, opts: VerifyOptions = {}): Promise<PairVerification> {
    return this.workers.run({ kind: 'verify', a, b, options: { ...this.verifyDefaults, ...opts } }) as Promise<PairVerification>;
  }

  close(): Promise<void> {
    return this.workers.close();
  }

  private async load(key: string): Promise<LocalFeatures> {
    let features = await this.disk?.get(key);
    if (!features) {
      try {
        features = (await this.workers.run({ kind: 'features', source: key, options: this.featureOptions })) as LocalFeatures;
      } catch (e) {
        if (isImageInputError(e)) this.unusable.set(key, e);
        throw e;
      }
      this.extracted++;
      await this.disk?.put(key, features);
    }
    this.memory.set(key, features);
    while (this.memory.size > this.memoryCacheSize) this.memory.delete(this.memory.keys().next().value as string);
    return features;
  }
}
