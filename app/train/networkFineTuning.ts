// Triplet fine-tuning of the whole R-MAC network (DESIGN.md §1.3): the chosen backbone units, the
// pooling (no weights) and the whitening, end to end, from a PCA initialisation fitted on the
// training photos' regions under the initial backbone.
import type { ConvertedModel } from '../convert/convertedModel.js';
import type { RmacGridOptions } from '../engine/rmacRegions.js';
import { fitWhiteningOnVectors, type Whitening } from '../engine/whitening.js';
import { BackboneTripletModel, cachePhotos, regionVectorsOf, type CacheOptions } from './backboneTripletModel.js';
import { LearnableWhitening, type WhiteningForm } from './learnableWhitening.js';
import { selectUnits, type TrainableBackbone, type TrainedLayers } from './trainableBackbone.js';
import type { TripletRelations } from './trainingSet.js';
import { relationsMeanAveragePrecision } from './tripletMining.js';
import { trainTriplets, type TrainingHistory, type TrainingHooks, type TripletTrainingOptions } from './tripletTrainer.js';

export interface NetworkFineTuningOptions {
  layers: TrainedLayers;
  /** Long side S the photos are fed at (the engine's default is 512). */
  longSide: number;
  whiteningDim: number;
  whiteningEpsilon: number;
  training: TripletTrainingOptions;
  /** Train the whitening along with the backbone (default true, as in the paper). */
  trainWhitening?: boolean;
  whiteningForm?: WhiteningForm;
  grid?: RmacGridOptions;
  runtime?: CacheOptions['runtime'];
  validation?: { files: string[]; relations: TripletRelations };
  label: string;
}

export interface NetworkFineTuningResult {
  whitening: Whitening;
  /** The PCA-whitening it started from. */
  initialWhitening: Whitening;
  /** The trained backbone as ONNX; undefined when no backbone unit was trained. */
  backbone?: ConvertedModel;
  history: TrainingHistory;
  /** Seconds spent running the frozen part of the backbone over the photos. */
  cacheSeconds: number;
  trainedUnits: string[];
}

export async function fineTuneNetwork(
  backbone: TrainableBackbone,
  files: readonly string[],
  relations: TripletRelations,
  options: NetworkFineTuningOptions,
  hooks: TrainingHooks & { onCache?: (done: number, total: number) => void } = {},
): Promise<NetworkFineTuningResult> {
  const units = selectUnits(backbone, options.layers);
  const split = backbone.split(units);
  const t = performance.now();
  const photos = await cachePhotos(split, backbone, files, { longSide: options.longSide, runtime: options.runtime, onProgress: hooks.onCache });
  const validationPhotos = options.validation ? await cachePhotos(split, backbone, options.validation.files, { longSide: options.longSide, runtime: options.runtime }) : undefined;
  const cacheSeconds = (performance.now() - t) / 1000;
  const initialWhitening = await fitWhiteningOnVectors(await regionVectorsOf(photos, split, options.grid), {
    dim: options.whiteningDim,
    epsilon: options.whiteningEpsilon,
    fittedOn: `PCA on the regions of ${files.length} training photos at ${options.longSide} px`,
  });
  const layer = LearnableWhitening.fromWhitening(initialWhitening, options.whiteningForm);
  try {
    const model = new BackboneTripletModel(photos, split, layer, { trainWhitening: options.trainWhitening ?? true, grid: options.grid });
    const validation = options.validation;
    const validate = validation && validationPhotos
      ? async () => relationsMeanAveragePrecision(await new BackboneTripletModel(validationPhotos, split, layer, { trainWhitening: false, grid: options.grid }).describeAll(), layer.dim, validation.relations)
      : hooks.validate;
    const history = await trainTriplets(model, relations, options.training, { ...hooks, validate });
    return {
      whitening: await layer.toWhitening(options.label),
      initialWhitening,
      backbone: units.size ? backbone.exportOnnx() : undefined,
      history,
      cacheSeconds,
      trainedUnits: [...units],
    };
  } finally {
    layer.dispose();
  }
}
