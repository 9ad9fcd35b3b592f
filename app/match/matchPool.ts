// Local-feature extraction and pair verification in worker threads, with each photo's features
// computed once: kept in memory (most recently used first) and, given a cache folder, on disk.
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ImageInputError, isImageInputError, type ImageErrorCode } from '../engine/imageErrors.js';
import { FeatureDiskCache } from './featureDiskCache.js';
import { notVerified, type PairVerification, type VerifyOptions } from './geometricVerification.js';
import { DEFAULT_FEATURE_LONG_SIDE, DEFAULT_MAX_KEYPOINTS, type LocalFeatureOptions, type LocalFeatures } from './localFeatures.js';
import type { MatchWorkerInit, MatchWorkerReply, MatchWorkerRequest } from './matchWorkerProtocol.js';

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

interface Job {
  id: number;
  payload: Payload;
  attempts: number;
  resolve: (r: LocalFeatures | PairVerification) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  ready: boolean;
}

const workerUrl = (() => {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './matchWorker.ts' : './matchWorker.js', here);
})();

export class MatchPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private failure?: Error;
  private failedStarts = 0;
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
  respawns = 0;

  private constructor(options: MatchPoolOptions) {
    const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
    const workers = Math.max(1, options.workers ?? Math.min(cores, 4));
    this.featureOptions = { longSide: options.longSide ?? DEFAULT_FEATURE_LONG_SIDE, maxKeypoints: options.maxKeypoints ?? DEFAULT_MAX_KEYPOINTS };
    this.memoryCacheSize = options.memoryCacheSize ?? 1024;
    this.verifyDefaults = options.verify ?? {};
    if (options.cacheDir) this.disk = new FeatureDiskCache(options.cacheDir, JSON.stringify(this.featureOptions));
    for (let i = 0; i < workers; i++) this.slots.push(this.spawn());
  }

  /** Starts the workers and waits until each has loaded OpenCV and its matcher. */
  static async open(options: MatchPoolOptions = {}): Promise<MatchPool> {
    const pool = new MatchPool(options);
    await pool.whenReady();
    return pool;
  }

  get size(): number {
    return this.slots.length;
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
    return this.submit({ kind: 'features', source: bytes, options: this.featureOptions }) as Promise<LocalFeatures>;
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
    return this.submit({ kind: 'verify', a, b, options: { ...this.verifyDefaults, ...opts } }) as Promise<PairVerification>;
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('the match pool was closed');
    for (const job of this.queue.splice(0)) job.reject(err);
    for (const slot of this.slots) {
      slot.job?.reject(err);
      slot.job = undefined;
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private async load(key: string): Promise<LocalFeatures> {
    let features = await this.disk?.get(key);
    if (!features) {
      try {
        features = (await this.submit({ kind: 'features', source: key, options: this.featureOptions })) as LocalFeatures;
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

  private whenReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failure) reject(this.failure);
        else if (this.slots.every((s) => s.ready)) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
  }

  private submit(payload: Payload): Promise<LocalFeatures | PairVerification> {
    if (this.closed) return Promise.reject(this.failure ?? new Error('the match pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, payload, attempts: 0, resolve, reject });
      this.pump();
    });
  }

  private spawn(): Slot {
    const init: MatchWorkerInit = { threads: 1 };
    // From TypeScript source the worker registers tsx itself: loader flags in execArgv do not
    // reach worker threads on Node 20 (the engine pool does the same).
    const worker = workerUrl.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`, { eval: true, workerData: init })
      : new Worker(workerUrl, { workerData: init });
    const slot: Slot = { worker, ready: false };
    worker.on('message', (msg: MatchWorkerReply) => this.onMessage(slot, msg));
    worker.on('error', (e) => this.onDeath(slot, `matching worker failed: ${e.message}`));
    worker.on('exit', (code) => this.onDeath(slot, `matching worker exited (code ${code})`));
    return slot;
  }

  private onMessage(slot: Slot, msg: MatchWorkerReply): void {
    if (msg.type === 'ready') {
      slot.ready = true;
      this.pump();
      return;
    }
    if (msg.type === 'fatal') {
      this.fail(new Error(msg.message));
      return;
    }
    const job = slot.job;
    if (!job || job.id !== msg.id) return;
    slot.job = undefined;
    if (msg.type === 'features') job.resolve(msg.features);
    else if (msg.type === 'verification') job.resolve(msg.verification);
    else if (msg.error.name === 'ImageInputError') job.reject(new ImageInputError(msg.error.code as ImageErrorCode, msg.error.message));
    else job.reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
    this.pump();
  }

  private fail(err: Error): void {
    this.closed = true;
    this.failure = err;
    for (const job of this.queue.splice(0)) job.reject(err);
    for (const slot of this.slots) {
      slot.job?.reject(err);
      slot.job = undefined;
    }
  }

  /** A dead worker is replaced and its job tried once more; one that dies before it is ever ready will again. */
  private onDeath(slot: Slot, reason: string): void {
    const index = this.slots.indexOf(slot);
    if (index < 0 || this.closed) return;
    const job = slot.job;
    slot.job = undefined;
    this.failedStarts = slot.ready ? 0 : this.failedStarts + 1;
    if (this.failedStarts >= 3) {
      job?.reject(new MatchWorkerCrashError(`matching workers cannot start (${reason})`));
      this.fail(new MatchWorkerCrashError(`matching workers cannot start (${reason})`));
      return;
    }
    this.respawns++;
    this.slots[index] = this.spawn();
    if (job) {
      job.attempts++;
      if (job.attempts >= 2) job.reject(new MatchWorkerCrashError(`${reason}; the job failed twice and is skipped`));
      else this.queue.unshift(job);
    }
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.postMessage({ id: job.id, ...job.payload } as MatchWorkerRequest);
    }
  }
}
