// "Learned whitening": the shift + FC layer of R-MAC trained with the triplet loss on top of a
// frozen backbone, starting from PCA (DESIGN.md §1.1 step 5, §1.3). The backbone's region vectors
// are computed once by the engine, so any registered model can be used, ONNX-only ones included.
import type { RawDescriber } from '../eval/retrievalEvaluation.js';
import { runLimited } from '../eval/retrievalEvaluation.js';
import { fitWhitening, type Whitening } from '../engine/whitening.js';
import { LearnableWhitening, type WhiteningForm } from './learnableWhitening.js';
import { RegionWhiteningModel, type ImageRegions } from './regionWhiteningModel.js';
import type { TrainingImage, TripletRelations } from './trainingSet.js';
import { relationsMeanAveragePrecision } from './tripletMining.js';
import { trainTriplets, type TrainingHistory, type TrainingHooks, type TripletTrainingOptions } from './tripletTrainer.js';

export interface DescribedImages<T> {
  images: T[];
  regions: ImageRegions[];
  skipped: Array<{ image: T; reason: string }>;
}

/** Raw region vectors of every photo at the given scales (all scales' regions together). Unreadable photos are skipped. */
export async function describeRegions<T extends Pick<TrainingImage, 'path'>>(engine: RawDescriber, images: readonly T[], scales: number[], onProgress: (done: number, total: number) => void = () => {}): Promise<DescribedImages<T>> {
  const found = new Map<number, ImageRegions>();
  const skipped: DescribedImages<T>['skipped'] = [];
  let done = 0;
  await runLimited(images.map((image, i) => ({ image, i })), 4, async ({ image, i }) => {
    try {
      const raw = await engine.describe(image.path, { scales });
      found.set(i, regionsOf(raw.scales.flatMap((s) => s.regions.map((r) => r.vector))));
    } catch (e) {
      skipped.push({ image, reason: (e as Error).message });
    }
    onProgress(++done, images.length);
  });
  const kept = images.map((image, i) => ({ image, i })).filter(({ i }) => found.has(i));
  return { images: kept.map((k) => k.image), regions: kept.map((k) => found.get(k.i)!), skipped };
}

export function regionsOf(vectors: readonly Float32Array[]): ImageRegions {
  const channels = vectors[0]?.length ?? 0;
  const rows = new Float32Array(vectors.length * channels);
  vectors.forEach((v, r) => rows.set(v, r * channels));
  return { rows, count: vectors.length };
}

/** PCA-whitening fitted on every region of these images: the initialisation and the baseline. */
export async function fitPcaOnRegions(regions: readonly ImageRegions[], options: { dim: number; epsilon: number; fittedOn: string }): Promise<Whitening> {
  const total = regions.reduce((s, r) => s + r.count, 0);
  const channels = regions[0].rows.length / regions[0].count;
  const rows = new Float32Array(total * channels);
  let offset = 0;
  for (const r of regions) {
    rows.set(r.rows, offset);
    offset += r.rows.length;
  }
  return fitWhitening(rows, total, channels, options);
}

export interface LearnedWhiteningOptions {
  training: TripletTrainingOptions;
  /** The PCA-whitening to start from (fitted on the training images' regions). */
  initial: Whitening;
  /** Held-out images for the validation curve (never the evaluated photos). */
  validation?: { regions: ImageRegions[]; relations: TripletRelations };
  label: string;
  form?: WhiteningForm;
}

export interface LearnedWhiteningResult {
  whitening: Whitening;
  history: TrainingHistory;
}

export async function learnWhitening(regions: ImageRegions[], relations: TripletRelations, options: LearnedWhiteningOptions, hooks: TrainingHooks = {}): Promise<LearnedWhiteningResult> {
  const layer = LearnableWhitening.fromWhitening(options.initial, options.form);
  try {
    const model = new RegionWhiteningModel(regions, layer);
    const validation = options.validation;
    const validate = validation
      ? async () => relationsMeanAveragePrecision(await new RegionWhiteningModel(validation.regions, layer).describeAll(), layer.dim, validation.relations)
      : hooks.validate;
    const history = await trainTriplets(model, relations, options.training, { ...hooks, validate });
    return { whitening: await layer.toWhitening(options.label), history };
  } finally {
    layer.dispose();
  }
}
