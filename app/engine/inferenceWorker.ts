// A worker thread owning one onnxruntime session (two for an RPN model: backbone, then the head on
// its feature map): onnxruntime's run() blocks its thread, so inference never runs on the thread
// that serves the UI or the CLI's progress.
import { parentPort, workerData } from 'node:worker_threads';
import { isImageInputError } from './imageErrors.js';
import { isRawPixels } from './imageInput.js';
import { createBackboneSession, createSession, describeRaw, type DescribeOptions, type ExtractorModel } from './featureExtractor.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './workerProtocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;

const modelReady: Promise<ExtractorModel> = Promise.all([
  createBackboneSession(init.onnxPath, init.threads, init.executionProviders, { ...init, floatIo: Boolean(init.rpn) }),
  init.rpn ? createSession(init.rpn.headPath, init.threads, init.executionProviders) : undefined,
]).then(([backbone, head]) => ({
  ...backbone,
  stride: init.stride,
  normalisation: init.normalisation,
  rpn: head && init.rpn ? { session: head, anchors: init.rpn.anchors, proposals: init.rpn.proposals } : undefined,
}));

modelReady.then(
  () => port.postMessage({ type: 'ready' } satisfies WorkerReply),
  (e: Error) => port.postMessage({ type: 'fatal', message: `could not load the model: ${e.message}` } satisfies WorkerReply),
);

port.on('message', async (req: WorkerRequest) => {
  try {
    const model = await modelReady;
    const source = typeof req.source === 'string' || isRawPixels(req.source) ? req.source : Buffer.from(req.source);
    const result = await describeRaw(model, source, req.options as DescribeOptions);
    port.postMessage({ type: 'result', id: req.id, result } satisfies WorkerReply);
  } catch (e) {
    const err = e as Error & { code?: string };
    port.postMessage({
      type: 'error',
      id: req.id,
      error: { name: err.name ?? 'Error', message: err.message ?? String(e), code: isImageInputError(e) ? err.code : undefined },
    } satisfies WorkerReply);
  }
});
