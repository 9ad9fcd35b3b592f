// One photo through the backbone at one or more scales, pooled into raw region vectors: over the
// rigid R-MAC grid, or for an RPN model over its head's proposals (regionProposals.ts). Runs
// wherever an onnxruntime session lives: in the engine's worker threads, or inline in tests.
import * as ort from 'onnxruntime-node';
import type { InputNormalisation } from '../convert/convertedModel.js';
import { ImageInputError } from './imageErrors.js';
import { loadNetworkInput, type ImageSource, type PixelBox } from './imageInput.js';
import { poolScaleOverProposals, type RegionProposer } from './regionProposals.js';
import { poolScale, type ScaleDescription } from './rmacDescriptor.js';
import type { RmacGridOptions } from './rmacRegions.js';

export interface DescribeOptions {
  /** Long sides S to run at; several = multi-resolution (default [512]). */
  scales?: number[];
  box?: PixelBox;
  boxMode?: 'crop' | 'context';
  grid?: RmacGridOptions;
  maxPixels?: number;
}

export interface RawDescription {
  originalWidth: number;
  originalHeight: number;
  scales: ScaleDescription[];
  /** Milliseconds spent decoding and in the network + pooling. */
  timings: { decodeMs: number; networkMs: number; poolMs: number };
}

export interface ExtractorModel {
  session: ort.InferenceSession;
  inputName: string;
  outputName: string;
  stride: number;
  normalisation: InputNormalisation;
  /** An RPN model's head: its proposals are pooled instead of the grid. */
  rpn?: RegionProposer;
}

export async function createSession(onnxPath: string | Uint8Array, threads = 1, executionProviders: string[] = ['cpu']): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders,
  };
  return typeof onnxPath === 'string' ? ort.InferenceSession.create(onnxPath, options) : ort.InferenceSession.create(onnxPath, options);
}

/**
 * One reusable buffer for the network input of the photo being described. A fresh 2.4 MB array
 * per 512-px photo made the inference workers' collector run a full mark-compact every ~10
 * photos (external memory pressure). A second call while one is in flight gets a fresh array.
 */
class InputBuffer {
  private buffer = new Float32Array(0);
  private busy = false;

  take(length: number): Float32Array {
    if (this.busy) return new Float32Array(length);
    this.busy = true;
    if (this.buffer.length < length) this.buffer = new Float32Array(length);
    return this.buffer.subarray(0, length);
  }

  release(view: Float32Array | undefined): void {
    if (view && view.buffer === this.buffer.buffer) this.busy = false;
  }
}

const inputBuffer = new InputBuffer();

export async function describeRaw(model: ExtractorModel, source: ImageSource, options: DescribeOptions = {}): Promise<RawDescription> {
  const scales = options.scales ?? [512];
  const timings = { decodeMs: 0, networkMs: 0, poolMs: 0 };
  const out: ScaleDescription[] = [];
  let originalWidth = 0;
  let originalHeight = 0;
  for (const longSide of scales) {
    let t = performance.now();
    let taken: Float32Array | undefined;
    let result: ort.InferenceSession.OnnxValueMapType;
    let input: Awaited<ReturnType<typeof loadNetworkInput>>;
    try {
      input = await loadNetworkInput(source, {
        longSide,
        normalisation: model.normalisation,
        box: options.box,
        boxMode: options.boxMode,
        maxPixels: options.maxPixels,
        into: (length) => (taken = inputBuffer.take(length)),
      });
      originalWidth = input.originalWidth;
      originalHeight = input.originalHeight;
      timings.decodeMs += performance.now() - t;
      if (input.width < model.stride || input.height < model.stride) {
        throw new ImageInputError('too-small', `${input.width}×${input.height} network input is smaller than one ${model.stride}-px feature cell`, typeof source === 'string' ? source : undefined);
      }
      t = performance.now();
      const tensor = new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]);
      result = await model.session.run({ [model.inputName]: tensor });
      tensor.dispose?.();
    } finally {
      inputBuffer.release(taken);
    }
    const features = result[model.outputName];
    const [, channels, height, width] = features.dims as number[];
    timings.networkMs += performance.now() - t;
    t = performance.now();
    const map = { data: features.data as Float32Array, channels, height, width };
    const geometry = { scale: input.scale, offsetX: input.offsetX, offsetY: input.offsetY, stride: model.stride };
    // The head's time counts as pooling: it decides the regions, and the backbone's time stays comparable across kinds.
    out.push(model.rpn
      ? await poolScaleOverProposals(model.rpn, map, geometry, longSide, input, options.grid)
      : poolScale(map, geometry, longSide, options.grid));
    timings.poolMs += performance.now() - t;
    features.dispose?.();
  }
  return { originalWidth, originalHeight, scales: out, timings };
}
