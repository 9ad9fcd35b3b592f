// A worker thread with its own OpenCV runtime and onnxruntime session: AKAZE, the descriptor
// product and RANSAC all block their thread for tens to hundreds of milliseconds.
import { parentPort, workerData } from 'node:worker_threads';
import { isImageInputError } from '../engine/imageErrors.js';
import { HammingMatcher, ratioTestMatches } from './descriptorMatching.js';
import { featureShortfall, notVerified, verifyMatches } from './geometricVerification.js';
import { DEFAULT_FEATURE_LONG_SIDE, DEFAULT_MAX_KEYPOINTS, detectFeatures, loadGreyImage, type LocalFeatures } from './localFeatures.js';
import { loadOpenCv } from './openCvRuntime.js';
import type { MatchWorkerInit, MatchWorkerReply, MatchWorkerRequest } from './matchWorkerProtocol.js';

const init = workerData as MatchWorkerInit;
const port = parentPort!;

const ready = Promise.all([loadOpenCv(), HammingMatcher.create(61, init.threads)]);
ready.then(
  () => port.postMessage({ type: 'ready' } satisfies MatchWorkerReply),
  (e: Error) => port.postMessage({ type: 'fatal', message: `the matching worker cannot start: ${e.message}` } satisfies MatchWorkerReply),
);

function transferables(f: LocalFeatures): ArrayBuffer[] {
  return [f.points, f.sizes, f.angles, f.responses, f.descriptors].map((a) => a.buffer as ArrayBuffer);
}

port.on('message', async (req: MatchWorkerRequest) => {
  try {
    const [cv, matcher] = await ready;
    if (req.kind === 'features') {
      const source = typeof req.source === 'string' ? req.source : Buffer.from(req.source);
      const image = await loadGreyImage(source, req.options.longSide ?? DEFAULT_FEATURE_LONG_SIDE);
      const features = detectFeatures(cv, image, req.options.maxKeypoints ?? DEFAULT_MAX_KEYPOINTS);
      port.postMessage({ type: 'features', id: req.id, features } satisfies MatchWorkerReply, transferables(features));
      return;
    }
    const shortfall = featureShortfall(req.a, req.b);
    let verification;
    if (shortfall) verification = notVerified(shortfall);
    else {
      const matches = ratioTestMatches(await matcher.nearestTwo(req.a, req.b), req.options.ratio);
      verification = verifyMatches(cv, req.a, req.b, matches, req.options);
    }
    port.postMessage({ type: 'verification', id: req.id, verification } satisfies MatchWorkerReply);
  } catch (e) {
    const err = e as Error & { code?: string };
    port.postMessage({
      type: 'error',
      id: req.id,
      error: { name: err?.name ?? 'Error', message: err?.message ?? String(e), code: isImageInputError(e) ? err.code : undefined },
    } satisfies MatchWorkerReply);
  }
});
