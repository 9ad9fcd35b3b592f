// One photo through the backbone at one or more scales, pooled into raw region vectors: over the
// rigid R-MAC grid, or for an RPN model over its head's proposals (regionProposals.ts). Runs
// wherever an onnxruntime session lives: in the engine's worker threads, or inline in tests.
import fs from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { InputNormalisation } from '../convert/convertedModel.js';
import { quantisedIoGraph, type TensorQuantisation } from '../convert/quantisedIoGraph.js';
import { ImageInputError } from './imageErrors.js';
import { loadNetworkPixels, toNormalisedNCHW, type ImageSource, type PixelBox } from './imageInput.js';
import { quantisationTables, quantisedInputDims, writeQuantisedInput, type QuantisedInputSpec } from './quantisedInput.js';
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
  /** The session runs the model rewritten to take and give bytes (quantisedIoGraph.ts). */
  quantisedIo?: { input: QuantisedInputSpec; output: TensorQuantisation };
}

/**
 * The session for a backbone on the given providers: on the CPU, an int8 model is run rewritten to
 * take and give bytes (quantisedIoGraph.ts), which computes the same features for less. Set
 * `floatIo` where the caller needs the float feature map itself (an RPN head reads it).
 */
export async function createBackboneSession(
  onnxPath: string,
  threads: number,
  executionProviders: string[],
  options: { inputName: string; outputName: string; normalisation: InputNormalisation; floatIo?: boolean },
): Promise<Pick<ExtractorModel, 'session' | 'inputName' | 'outputName' | 'quantisedIo'>> {
  const cpuOnly = executionProviders.every((p) => p === 'cpu');
  const rewritten = cpuOnly && !options.floatIo ? quantisedIoGraph(await fs.readFile(onnxPath)) : undefined;
  if (rewritten && rewritten.input.name === options.inputName && rewritten.output.name === options.outputName) {
    const [session, tables] = await Promise.all([
      createSession(rewritten.onnx, threads, executionProviders),
      quantisationTables(options.normalisation, rewritten.input),
    ]);
    return {
      session,
      inputName: options.inputName,
      outputName: options.outputName,
      quantisedIo: { input: { layout: rewritten.input.layout, zeroPoint: rewritten.input.zeroPoint, tables }, output: rewritten.output },
    };
  }
  return { session: await createSession(onnxPath, threads, executionProviders), inputName: options.inputName, outputName: options.outputName };
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
class InputBuffer<T extends Float32Array | Uint8Array> {
  private buffer: T;
  private busy = false;

  constructor(private readonly allocate: (length: number) => T) {
    this.buffer = allocate(0);
  }

  take(length: number): T {
    if (this.busy) return this.allocate(length);
    this.busy = true;
    if (this.buffer.length < length) this.buffer = this.allocate(length);
    return this.buffer.subarray(0, length) as T;
  }

  release(view: T | undefined): void {
    if (view && view.buffer === this.buffer.buffer) this.busy = false;
  }
}

const floatInput = new InputBuffer<Float32Array>((n) => new Float32Array(n));
const byteInput = new InputBuffer<Uint8Array>((n) => new Uint8Array(n));

export async function describeRaw(model: ExtractorModel, source: ImageSource, options: DescribeOptions = {}): Promise<RawDescription> {
  const scales = options.scales ?? [512];
  const timings = { decodeMs: 0, networkMs: 0, poolMs: 0 };
  const out: ScaleDescription[] = [];
  let originalWidth = 0;
  let originalHeight = 0;
  for (const longSide of scales) {
    let t = performance.now();
    let takenFloats: Float32Array | undefined;
    let takenBytes: Uint8Array | undefined;
    let result: ort.InferenceSession.OnnxValueMapType;
    let input: Awaited<ReturnType<typeof loadNetworkPixels>>;
    try {
      input = await loadNetworkPixels(source, {
        longSide,
        box: options.box,
        boxMode: options.boxMode,
        maxPixels: options.maxPixels,
      });
      originalWidth = input.originalWidth;
      originalHeight = input.originalHeight;
      if (input.width < model.stride || input.height < model.stride) {
        throw new ImageInputError('too-small', `${input.width}×${input.height} network input is smaller than one ${model.stride}-px feature cell`, typeof source === 'string' ? source : undefined);
      }
      let tensor: ort.Tensor;
      const io = model.quantisedIo;
      if (io) {
        const dims = quantisedInputDims(input.width, input.height, io.input.layout);
        takenBytes = byteInput.take(dims.reduce((a, b) => a * b, 1));
        tensor = new ort.Tensor('uint8', writeQuantisedInput(input.pixels, input.width, input.height, input.channels, io.input, takenBytes), dims);
      } else {
        takenFloats = floatInput.take(3 * input.width * input.height);
        tensor = new ort.Tensor('float32', toNormalisedNCHW(input.pixels, input.width, input.height, input.channels, model.normalisation, takenFloats), [1, 3, input.height, input.width]);
      }
      timings.decodeMs += performance.now() - t;
      t = performance.now();
      result = await model.session.run({ [model.inputName]: tensor });
      tensor.dispose?.();
    } finally {
      floatInput.release(takenFloats);
      byteInput.release(takenBytes);
    }
    const features = result[model.outputName];
    timings.networkMs += performance.now() - t;
    t = performance.now();
    const geometry = { scale: input.scale, offsetX: input.offsetX, offsetY: input.offsetY, stride: model.stride };
    const [, d1, d2, d3] = features.dims as number[];
    if (model.quantisedIo) {
      if (model.rpn) throw new Error('an RPN head reads the float feature map: its backbone session must be created with floatIo');
      out.push(poolScale({ data: features.data as Uint8Array, height: d1, width: d2, channels: d3, ...model.quantisedIo.output }, geometry, longSide, options.grid));
    } else {
      const map = { data: features.data as Float32Array, channels: d1, height: d2, width: d3 };
      // The head's time counts as pooling: it decides the regions, and the backbone's time stays comparable across kinds.
      out.push(model.rpn
        ? await poolScaleOverProposals(model.rpn, map, geometry, longSide, input, options.grid)
        : poolScale(map, geometry, longSide, options.grid));
    }
    timings.poolMs += performance.now() - t;
    features.dispose?.();
  }
  return { originalWidth, originalHeight, scales: out, timings };
}
