// Worker threads with one shared job queue, for the inference engine (EnginePool) and local-feature
// matching (MatchPool). A worker that dies (native crash, out-of-memory, killed) is replaced and
// its job tried once more; workers that die before they are ever ready stop the pool instead of
// respawning forever. A job's own failure (an unreadable image) is an answer, never retried.
import { Worker } from 'node:worker_threads';
import { ImageInputError, type ImageErrorCode } from './imageErrors.js';

/** What every worker says besides its results. */
export type WorkerStatusReply =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'error'; id: number; error: { name: string; message: string; code?: string } };

export interface WorkerPoolOptions<Reply, Result> {
  /** The worker module (`.ts` from sources, `.js` when built). */
  workerUrl: URL;
  workerData: unknown;
  workers: number;
  /** Names the pool in errors: "engine", "match". */
  name: string;
  /** Names its workers in errors: "inference", "matching". */
  what: string;
  /** What one job is, in the error of a job that killed its worker twice: "photo", "job". */
  jobNoun: string;
  /** The error a job gets when workers keep dying. */
  crashError: (message: string) => Error;
  /** The result a (non-status) reply carries. */
  resultOf: (reply: Reply) => Result;
}

interface Job<Request, Result> {
  id: number;
  request: Request;
  attempts: number;
  resolve: (r: Result) => void;
  reject: (e: Error) => void;
}

interface Slot<Request, Result> {
  worker: Worker;
  job?: Job<Request, Result>;
  ready: boolean;
}

export class WorkerPool<Request extends object, Reply extends { id: number }, Result> {
  private readonly slots: Slot<Request, Result>[] = [];
  private readonly queue: Job<Request, Result>[] = [];
  private nextId = 1;
  private closed = false;
  private failedStarts = 0;
  /** Why the pool stopped by itself (the worker cannot load, workers cannot start): later jobs get this reason. */
  private failure?: Error;
  /** How many workers have been replaced after dying. */
  respawns = 0;

  constructor(private readonly options: WorkerPoolOptions<Reply, Result>) {
    for (let i = 0; i < options.workers; i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  run(request: Request): Promise<Result> {
    if (this.closed) return Promise.reject(this.failure ?? new Error(`the ${this.options.name} pool is closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, request, attempts: 0, resolve, reject });
      this.pump();
    });
  }

  /** Resolves once every worker is ready; rejects if the pool stops first. */
  whenReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failure) reject(this.failure);
        else if (this.slots.every((s) => s.ready)) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
  }

  /** Ends a worker as a crash would (tests use it to check recovery). */
  async terminateWorker(index: number): Promise<void> {
    await this.slots[index]?.worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = () => new Error(`the ${this.options.name} pool was closed`);
    for (const job of this.queue.splice(0)) job.reject(err());
    // Jobs in flight too: their workers are terminated below and onDeath ignores a closed pool,
    // so nothing else would ever settle them.
    for (const slot of this.slots) {
      slot.job?.reject(err());
      slot.job = undefined;
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot<Request, Result> {
    const { workerUrl, workerData, what } = this.options;
    // From TypeScript source (tests, `npx sightline`), the worker registers tsx itself: loader
    // flags in execArgv do not reach worker threads on Node 20.
    const worker = workerUrl.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`, { eval: true, workerData })
      : new Worker(workerUrl, { workerData });
    const slot: Slot<Request, Result> = { worker, ready: false };
    worker.on('message', (msg: Reply | WorkerStatusReply) => this.onMessage(slot, msg));
    worker.on('error', (e) => this.onDeath(slot, `${what} worker failed: ${e.message}`));
    worker.on('exit', (code) => this.onDeath(slot, `${what} worker exited (code ${code})`));
    return slot;
  }

  private onMessage(slot: Slot<Request, Result>, msg: Reply | WorkerStatusReply): void {
    if ('type' in msg && msg.type === 'ready') {
      slot.ready = true;
      this.pump();
      return;
    }
    if ('type' in msg && msg.type === 'fatal') {
      // The worker cannot load what it runs (the model, OpenCV): every job would fail the same way.
      this.stop(new Error(msg.message), slot.job);
      slot.job = undefined;
      return;
    }
    const job = slot.job;
    if (!job || job.id !== msg.id) return;
    slot.job = undefined;
    if ('type' in msg && msg.type === 'error') {
      const { error } = msg as Extract<WorkerStatusReply, { type: 'error' }>;
      job.reject(error.name === 'ImageInputError' ? new ImageInputError(error.code as ImageErrorCode, error.message) : Object.assign(new Error(error.message), { name: error.name }));
    } else {
      job.resolve(this.options.resultOf(msg as Reply));
    }
    this.pump();
  }

  /** Closes the pool for good: the queue and `job` get `err`, as does every later call. */
  private stop(err: Error, job: Job<Request, Result> | undefined): void {
    this.closed = true;
    this.failure = err;
    job?.reject(err);
    for (const queued of this.queue.splice(0)) queued.reject(err);
  }

  private onDeath(slot: Slot<Request, Result>, reason: string): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    const job = slot.job;
    slot.job = undefined;
    if (this.closed) return;
    // A worker that dies before it was ever ready will die again: stop instead of looping.
    this.failedStarts = slot.ready ? 0 : this.failedStarts + 1;
    if (this.failedStarts >= 3) {
      this.stop(this.options.crashError(`${this.options.what} workers cannot start (${reason})`), job);
      return;
    }
    this.respawns++;
    this.slots[index] = this.spawn();
    if (job) {
      job.attempts++;
      if (job.attempts >= 2) job.reject(this.options.crashError(`${reason}; the ${this.options.jobNoun} failed twice and is skipped`));
      else this.queue.unshift(job);
    }
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.postMessage({ id: job.id, ...job.request });
    }
  }
}
