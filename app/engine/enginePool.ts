// A pool of inference workers with a shared job queue. A worker that dies (native crash,
// out-of-memory, killed) is replaced and its job retried once; image errors are not retried.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { executionProvidersFor } from './executionProviders.js';
import { ImageInputError, type ImageErrorCode } from './imageErrors.js';
import type { DescribeOptions, RawDescription } from './featureExtractor.js';
import type { ImageSource } from './imageInput.js';
import type { RegisteredModel } from './modelRegistry.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './workerProtocol.js';

export interface EnginePoolOptions {
  /** Worker threads (default: one per core, at most 4). */
  workers?: number;
  /** onnxruntime intra-op threads per worker (default: cores / workers, at least 1). */
  threadsPerWorker?: number;
  executionProviders?: string[];
}

export class EngineWorkerCrashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineWorkerCrashError';
  }
}

interface Job {
  id: number;
  source: ImageSource;
  options: DescribeOptions;
  attempts: number;
  resolve: (r: RawDescription) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  ready: boolean;
}

const workerUrl = (() => {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './inferenceWorker.ts' : './inferenceWorker.js', here);
})();

export class EnginePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private readonly init: WorkerInit;
  /** How many workers have been replaced after dying. */
  respawns = 0;
  private failedStarts = 0;
  /** Why the pool stopped by itself (the model cannot load, workers cannot start): later jobs get this reason. */
  private failure?: Error;

  constructor(readonly model: RegisteredModel, options: EnginePoolOptions = {}) {
    const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
    const workers = Math.max(1, options.workers ?? Math.min(cores, 4));
    this.init = {
      onnxPath: model.onnxPath,
      inputName: model.meta.inputName,
      outputName: model.meta.outputName,
      stride: model.meta.stride,
      normalisation: model.meta.normalisation,
      rpn: model.meta.rpn && model.rpnHeadPath ? { headPath: model.rpnHeadPath, anchors: model.meta.rpn.anchors, proposals: model.meta.rpn.proposals } : undefined,
      threads: Math.max(1, options.threadsPerWorker ?? Math.floor(cores / workers)),
      executionProviders: options.executionProviders ?? executionProvidersFor('auto'),
    };
    for (let i = 0; i < workers; i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  describe(source: ImageSource, options: DescribeOptions = {}): Promise<RawDescription> {
    if (this.closed) return Promise.reject(this.failure ?? new Error('the engine pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, source, options, attempts: 0, resolve, reject });
      this.pump();
    });
  }

  /** Ends a worker as a crash would (tests use it to check recovery). */
  async terminateWorker(index: number): Promise<void> {
    await this.slots[index]?.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the engine pool was closed'));
    // Jobs in flight too: their workers are terminated below and onDeath ignores a closed pool,
    // so nothing else would ever settle them.
    for (const slot of this.slots) {
      slot.job?.reject(new Error('the engine pool was closed'));
      slot.job = undefined;
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    // From TypeScript source (tests, `npx sightline`), the worker registers tsx itself: loader
    // flags in execArgv do not reach worker threads on Node 20.
    const worker = workerUrl.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`, { eval: true, workerData: this.init })
      : new Worker(workerUrl, { workerData: this.init });
    const slot: Slot = { worker, ready: false };
    worker.on('message', (msg: WorkerReply) => this.onMessage(slot, msg));
    worker.on('error', (e) => this.onDeath(slot, `inference worker failed: ${e.message}`));
    worker.on('exit', (code) => this.onDeath(slot, `inference worker exited (code ${code})`));
    return slot;
  }

  private onMessage(slot: Slot, msg: WorkerReply): void {
    if (msg.type === 'ready') {
      slot.ready = true;
      this.pump();
      return;
    }
    if (msg.type === 'fatal') {
      // The model itself cannot load: every job would fail the same way.
      this.closed = true;
      const err = new Error(msg.message);
      this.failure = err;
      for (const job of this.queue.splice(0)) job.reject(err);
      slot.job?.reject(err);
      slot.job = undefined;
      return;
    }
    const job = slot.job;
    if (!job || job.id !== msg.id) return;
    slot.job = undefined;
    if (msg.type === 'result') job.resolve(msg.result);
    else job.reject(msg.error.name === 'ImageInputError' ? new ImageInputError(msg.error.code as ImageErrorCode, msg.error.message) : Object.assign(new Error(msg.error.message), { name: msg.error.name }));
    this.pump();
  }

  private onDeath(slot: Slot, reason: string): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    const job = slot.job;
    slot.job = undefined;
    if (this.closed) return;
    // A worker that dies before it ever loaded the model will die again: stop instead of looping.
    this.failedStarts = slot.ready ? 0 : this.failedStarts + 1;
    if (this.failedStarts >= 3) {
      this.closed = true;
      const err = new EngineWorkerCrashError(`inference workers cannot start (${reason})`);
      this.failure = err;
      job?.reject(err);
      for (const queued of this.queue.splice(0)) queued.reject(err);
      return;
    }
    this.respawns++;
    this.slots[index] = this.spawn();
    if (job) {
      job.attempts++;
      if (job.attempts >= 2) job.reject(new EngineWorkerCrashError(`${reason}; the photo failed twice and is skipped`));
      else this.queue.unshift(job);
    }
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      const req: WorkerRequest = { id: job.id, source: job.source, options: job.options };
      slot.worker.postMessage(req);
    }
  }
}
