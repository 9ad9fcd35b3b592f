// The inference workers (inferenceWorker.ts), each with its own onnxruntime session, behind one
// queue (WorkerPool: a dead worker is replaced and its photo retried once; image errors are not).
import os from 'node:os';
import { executionProvidersFor } from './executionProviders.js';
import type { DescribeOptions, RawDescription } from './featureExtractor.js';
import type { ImageSource } from './imageInput.js';
import type { RegisteredModel } from './modelRegistry.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './workerProtocol.js';
import { WorkerPool } from './workerPool.js';

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

const workerUrl = (() => {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './inferenceWorker.ts' : './inferenceWorker.js', here);
})();

type ResultReply = Extract<WorkerReply, { type: 'result' }>;

export class EnginePool {
  private readonly workers: WorkerPool<Omit<WorkerRequest, 'id'>, ResultReply, RawDescription>;

  constructor(readonly model: RegisteredModel, options: EnginePoolOptions = {}) {
    const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
    const workers = Math.max(1, options.workers ?? Math.min(cores, 4));
    const init: WorkerInit = {
      onnxPath: model.onnxPath,
      inputName: model.meta.inputName,
      outputName: model.meta.outputName,
      stride: model.meta.stride,
      normalisation: model.meta.normalisation,
      rpn: model.meta.rpn && model.rpnHeadPath ? { headPath: model.rpnHeadPath, anchors: model.meta.rpn.anchors, proposals: model.meta.rpn.proposals } : undefined,
      threads: Math.max(1, options.threadsPerWorker ?? Math.floor(cores / workers)),
      executionProviders: options.executionProviders ?? executionProvidersFor('auto'),
    };
    this.workers = new WorkerPool({
      workerUrl,
      workerData: init,
      workers,
      name: 'engine',
      what: 'inference',
      jobNoun: 'photo',
      crashError: (message) => new EngineWorkerCrashError(message),
      resultOf: (reply) => reply.result,
    });
  }

  get size(): number {
    return this.workers.size;
  }

  /** How many workers have been replaced after dying. */
  get respawns(): number {
    return this.workers.respawns;
  }

  describe(source: ImageSource, options: DescribeOptions = {}): Promise<RawDescription> {
    return this.workers.run({ source, options });
  }

  /** Ends a worker as a crash would (tests use it to check recovery). */
  terminateWorker(index: number): Promise<void> {
    return this.workers.terminateWorker(index);
  }

  close(): Promise<void> {
    return this.workers.close();
  }
}
