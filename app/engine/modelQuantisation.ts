// int8 variants of registered models: calibrate the float model's activation ranges on photos,
// then register the QDQ-quantised network as a model of its own (its own id, so descriptors made
// with the float model are re-embedded, never mixed with int8 ones). See docs/design-notes.md,
// "Quantisation", for why and for the measured speed and retrieval quality.
import fs from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { RangeCollector, quantizeQdq, quantizedActivations, withCalibrationOutputs, type QuantizeOptions, type TensorRange } from '../convert/quantizeOnnx.js';
import { isImageInputError } from './imageErrors.js';
import { loadNetworkInput, type ImageSource, type PixelBox } from './imageInput.js';
import { rpnHeadInfoOf, type ModelRegistry, type RegisteredModel } from './modelRegistry.js';

/** Activation ranges of one float model, measured on photos: all that quantising it needs. */
export interface CalibrationTable {
  /** The float model they were measured on; they describe no other network. */
  sourceModelId: string;
  /** Which photos, in words (recorded in the int8 model's metadata). */
  fittedOn: string;
  photos: number;
  longSide: number;
  method: 'minmax';
  ranges: Record<string, TensorRange>;
}

export interface CalibrateOptions {
  /** Long side the photos are fed at (default 512, the engine's default scale). */
  longSide?: number;
  /**
   * Also feed a centred crop of half the photo's size, scaled up to the long side: region
   * queries are crops like that, and their activations run hotter than whole photos'.
   */
  crops?: boolean;
  /** Where the photos come from, for the record (e.g. "under ~/Pictures/2019"). */
  photosFrom?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface CalibrationReport {
  table: CalibrationTable;
  skipped: { file: string; reason: string }[];
}

/** Runs the float model over the photos with every tensor to be quantised exposed, keeping each one's range. */
export async function calibrateModel(model: RegisteredModel, photos: ImageSource[], options: CalibrateOptions = {}): Promise<CalibrationReport> {
  const longSide = options.longSide ?? 512;
  const onnx = new Uint8Array(await fs.readFile(model.onnxPath));
  const tensors = quantizedActivations(onnx);
  if (tensors.length === 0) throw new Error(`${model.meta.name} has no Conv with constant weights to quantise`);
  const session = await ort.InferenceSession.create(withCalibrationOutputs(onnx, tensors));
  const collector = new RangeCollector();
  const skipped: CalibrationReport['skipped'] = [];
  let used = 0;
  try {
    for (let i = 0; i < photos.length; i++) {
      const photo = photos[i];
      const label = typeof photo === 'string' ? photo : `photo ${i + 1}`;
      try {
        const whole = await loadNetworkInput(photo, { longSide, normalisation: model.meta.normalisation });
        const inputs = [whole];
        if (options.crops) {
          const box: PixelBox = { x: Math.round(whole.originalWidth / 4), y: Math.round(whole.originalHeight / 4), width: Math.round(whole.originalWidth / 2), height: Math.round(whole.originalHeight / 2) };
          inputs.push(await loadNetworkInput(photo, { longSide, normalisation: model.meta.normalisation, box, boxMode: 'crop' }));
        }
        for (const input of inputs) {
          const feed = new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]);
          const result = await session.run({ [model.meta.inputName]: feed }, tensors);
          for (const name of tensors) {
            collector.add(name, result[name].data as Float32Array);
            result[name].dispose?.();
          }
        }
        used++;
      } catch (e) {
        if (!isImageInputError(e)) throw e;
        skipped.push({ file: label, reason: e.message });
      }
      options.onProgress?.(i + 1, photos.length);
    }
  } finally {
    await session.release();
  }
  if (used === 0) throw new Error(`none of the ${photos.length} calibration photos could be read`);
  return {
    table: {
      sourceModelId: model.meta.id,
      fittedOn: [`${used} photos`, options.crops ? '(and a centred crop of each)' : '', options.photosFrom ?? ''].filter(Boolean).join(' '),
      photos: used,
      longSide,
      method: 'minmax',
      ranges: collector.toJSON(),
    },
    skipped,
  };
}

export interface QuantizeModelOptions extends QuantizeOptions {
  name?: string;
  where?: 'builtin' | 'user';
}

/** Quantises a registered float model with a calibration table measured on it, and registers the result. */
export async function quantizeRegisteredModel(model: RegisteredModel, table: CalibrationTable, registry: ModelRegistry, options: QuantizeModelOptions = {}): Promise<RegisteredModel> {
  if (model.meta.quantisation) throw new Error(`${model.meta.name} is already an int8 model`);
  if (table.sourceModelId !== model.meta.id) {
    throw new Error(`the calibration was measured on model ${table.sourceModelId}, not on ${model.meta.id} (${model.meta.name})`);
  }
  const weightBits = options.weightBits ?? 7;
  const onnx = quantizeQdq(new Uint8Array(await fs.readFile(model.onnxPath)), table.ranges, { ...options, weightBits });
  return registry.add({
    onnx,
    inputName: model.meta.inputName,
    outputName: model.meta.outputName,
    featureLayer: model.meta.featureLayer,
    channels: model.meta.channels,
    stride: model.meta.stride,
  }, {
    name: options.name ?? `${model.meta.name} int8`,
    source: model.meta.source,
    licence: model.meta.licence,
    normalisation: model.meta.normalisation,
    kind: model.meta.kind,
    // An RPN model stays one: its head reads the quantised backbone's features as it read the float ones.
    rpn: await rpnHeadInfoOf(model),
    quantisation: {
      precision: 'int8',
      from: model.meta.id,
      fromName: model.meta.name,
      weights: `int8 per output channel, symmetric, ${weightBits}-bit range`,
      activations: `uint8 per tensor, ${table.method} over ${table.fittedOn} at long side ${table.longSide}`,
    },
  }, options.where ?? 'user');
}
