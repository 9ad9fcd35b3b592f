// OpenCV's WebAssembly build (@techstark/opencv-js), loaded once per thread. The package ships
// no typings for AKAZE and loose ones for the rest, so the few calls this module set makes are
// typed here; anything else stays out of reach on purpose.
import { createRequire } from 'node:module';

export interface CvMat {
  readonly rows: number;
  readonly cols: number;
  readonly data: Uint8Array;
  readonly data32F: Float32Array;
  readonly data64F: Float64Array;
  empty(): boolean;
  delete(): void;
}

export interface CvKeyPoint {
  pt: { x: number; y: number };
  size: number;
  angle: number;
  response: number;
  octave: number;
  class_id: number;
}

export interface CvKeyPointVector {
  size(): number;
  get(i: number): CvKeyPoint;
  delete(): void;
}

export interface CvDMatch {
  queryIdx: number;
  trainIdx: number;
  distance: number;
}

export interface CvDMatchVector {
  size(): number;
  get(i: number): CvDMatch;
  delete(): void;
}

export interface CvDMatchVectorVector {
  size(): number;
  get(i: number): CvDMatchVector;
  delete(): void;
}

export interface CvAkaze {
  setThreshold(threshold: number): void;
  detectAndCompute(image: CvMat, mask: CvMat, keypoints: CvKeyPointVector, descriptors: CvMat): void;
  delete(): void;
}

export interface CvBfMatcher {
  knnMatch(query: CvMat, train: CvMat, matches: CvDMatchVectorVector, k: number): void;
  delete(): void;
}

export interface OpenCv {
  Mat: { new (): CvMat; new (rows: number, cols: number, type: number): CvMat };
  KeyPointVector: new () => CvKeyPointVector;
  DMatchVectorVector: new () => CvDMatchVectorVector;
  AKAZE: new () => CvAkaze;
  BFMatcher: new (normType: number, crossCheck: boolean) => CvBfMatcher;
  matFromArray(rows: number, cols: number, type: number, values: ArrayLike<number>): CvMat;
  findHomography(src: CvMat, dst: CvMat, method: number, ransacReprojThreshold: number, mask: CvMat, maxIters: number, confidence: number): CvMat;
  estimateAffine2D(from: CvMat, to: CvMat, inliers: CvMat, method: number, ransacReprojThreshold: number, maxIters: number, confidence: number, refineIters: number): CvMat;
  getBuildInformation(): string;
  CV_8UC1: number;
  CV_32FC2: number;
  NORM_HAMMING: number;
  RANSAC: number;
  USAC_MAGSAC: number;
}

let loaded: OpenCv | undefined;
let loading: Promise<OpenCv> | undefined;

/**
 * The OpenCV module of this thread, initialised. Emscripten makes the module object a thenable
 * whose then() hands back the module itself, so any promise resolved with it would recurse
 * forever; that then() is deleted once the runtime is up, and the module travels wrapped until then.
 */
export function loadOpenCv(): Promise<OpenCv> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= new Promise<{ cv: OpenCv & { then?: unknown } }>((resolve, reject) => {
    // Emscripten's Node glue adds process-wide handlers: one that aborts on any unhandled
    // rejection and one that rethrows uncaught exceptions. Sightline has its own error handling,
    // so the ones this load adds are taken off again.
    const before = {
      unhandledRejection: new Set(process.listeners('unhandledRejection')),
      uncaughtException: new Set(process.listeners('uncaughtException')),
    };
    let module: OpenCv & { onRuntimeInitialized?: () => void; Mat?: unknown; then?: unknown };
    try {
      module = createRequire(import.meta.url)('@techstark/opencv-js') as typeof module;
    } catch (e) {
      reject(new Error(`OpenCV (@techstark/opencv-js) could not be loaded: ${(e as Error).message}`));
      return;
    } finally {
      for (const listener of process.listeners('unhandledRejection')) {
        if (!before.unhandledRejection.has(listener)) process.removeListener('unhandledRejection', listener);
      }
      for (const listener of process.listeners('uncaughtException')) {
        if (!before.uncaughtException.has(listener)) process.removeListener('uncaughtException', listener);
      }
    }
    const ready = () => resolve({ cv: module });
    // The runtime may have finished synchronously (the wasm is embedded in the script).
    if (typeof module.getBuildInformation === 'function' && module.Mat) ready();
    else module.onRuntimeInitialized = ready;
  }).then(({ cv }) => {
    delete cv.then;
    loaded = cv;
    return cv;
  });
  return loading;
}

/** The OpenCV module when this thread has already loaded it (synchronous callers need it ready). */
export function loadedOpenCv(): OpenCv | undefined {
  return loaded;
}
