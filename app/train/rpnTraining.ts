// Training the RPN head (DESIGN.md §1.4) from the boxes `sightline clean` writes (§1.5). The
// backbone stays frozen: every photo goes through onnxruntime once and its feature map is kept,
// so an epoch costs only the head's small convolutions (TF.js, the backend trainingBackend.ts
// selected). One photo per step, 256 sampled anchors, Adam; a checkpoint after every epoch.
import fs from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { createSession } from '../engine/featureExtractor.js';
import { loadNetworkInput, type PixelBox } from '../engine/imageInput.js';
import type { RegisteredModel } from '../engine/modelRegistry.js';
import { writeAtomic } from '../engine/modelRegistry.js';
import {
  anchorsPerCell,
  DEFAULT_ANCHOR_SPEC,
  generateAnchors,
  labelAnchors,
  proposeRegions,
  type AnchorSpec,
  type CornerBox,
  type ProposalOptions,
} from '../engine/rpnAnchors.js';
import { disposeBatch, RpnHead, rpnLoss, sampleAnchors, type RpnHeadWeights } from './rpnHead.js';
import { SeededRandom } from './tripletMining.js';

/** One photo `sightline clean` kept, with the box of its verified region in original pixels. */
export interface CleanBox {
  path: string;
  class: string;
  box: PixelBox;
}

const cleanBoxesSchema = z.object({
  dataset: z.string(),
  photos: z.array(z.object({
    path: z.string().min(1),
    class: z.string(),
    kept: z.boolean(),
    box: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }).nullable().optional(),
  }).passthrough()),
}).passthrough();

/**
 * The RPN's ground truth: kept photos that have a box. Dropped photos are not used even as
 * "all background": cleaning drops a photo because it failed to match, not because it shows
 * no landmark. `dataset` in the report is relative to the report's folder or absolute.
 */
export async function readCleanBoxes(file: string, datasetDir?: string): Promise<CleanBox[]> {
  const parsed = cleanBoxesSchema.safeParse(JSON.parse(await fs.readFile(file, 'utf8')));
  if (!parsed.success) throw new Error(`--clean ${file} is not a \`sightline clean\` report: ${parsed.error.issues[0]?.message ?? ''}`);
  const base = datasetDir ? path.resolve(datasetDir) : path.resolve(path.dirname(file), parsed.data.dataset);
  return parsed.data.photos
    .filter((p) => p.kept && p.box && p.box.width > 0 && p.box.height > 0)
    .map((p) => ({ path: path.resolve(base, p.path), class: p.class, box: p.box! }));
}

/** A photo's frozen feature map and the geometry that maps it back to original pixels. */
export interface RpnPhoto {
  path: string;
  class: string;
  /** [height, width, channels] row-major (NHWC without N), as the TF.js head reads it. */
  features: Float32Array;
  channels: number;
  /** Feature map size in cells. */
  width: number;
  height: number;
  /** Network input size in pixels. */
  inputWidth: number;
  inputHeight: number;
  /** original = offset + network · scale. */
  scale: number;
  offsetX: number;
  offsetY: number;
  stride: number;
  /** The clean box in network pixels. */
  truth: CornerBox;
}

export function toNetworkBox(photo: Pick<RpnPhoto, 'scale' | 'offsetX' | 'offsetY'>, box: PixelBox): CornerBox {
  return {
    x1: (box.x - photo.offsetX) / photo.scale,
    y1: (box.y - photo.offsetY) / photo.scale,
    x2: (box.x + box.width - photo.offsetX) / photo.scale,
    y2: (box.y + box.height - photo.offsetY) / photo.scale,
  };
}

export function toOriginalBox(photo: Pick<RpnPhoto, 'scale' | 'offsetX' | 'offsetY'>, box: CornerBox): PixelBox {
  return {
    x: photo.offsetX + box.x1 * photo.scale,
    y: photo.offsetY + box.y1 * photo.scale,
    width: (box.x2 - box.x1) * photo.scale,
    height: (box.y2 - box.y1) * photo.scale,
  };
}

/**
 * Runs the frozen backbone once per photo at long side `longSide` (the engine's default 512)
 * with the same input pipeline as the engine (loadNetworkInput), keeping the raw feature map.
 */
export async function extractFeatureMaps(model: RegisteredModel, photos: CleanBox[], options: { longSide?: number; threads?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<RpnPhoto[]> {
  const longSide = options.longSide ?? 512;
  const session = await createSession(model.onnxPath, options.threads ?? 2);
  const out: RpnPhoto[] = [];
  try {
    for (const [i, photo] of photos.entries()) {
      const input = await loadNetworkInput(photo.path, { longSide, normalisation: model.meta.normalisation });
      const tensor = new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]);
      const result = await session.run({ [model.meta.inputName]: tensor });
      const map = result[model.meta.outputName];
      const [, channels, height, width] = map.dims as number[];
      const nchw = map.data as Float32Array;
      // onnxruntime gives NCHW; TF.js convolves NHWC on every backend we can load.
      const nhwc = new Float32Array(nchw.length);
      const plane = height * width;
      for (let c = 0; c < channels; c++) for (let p = 0; p < plane; p++) nhwc[p * channels + c] = nchw[c * plane + p];
      map.dispose?.();
      const geometry = { scale: input.scale, offsetX: input.offsetX, offsetY: input.offsetY };
      out.push({
        path: photo.path,
        class: photo.class,
        features: nhwc,
        channels,
        width,
        height,
        inputWidth: input.width,
        inputHeight: input.height,
        ...geometry,
        stride: model.meta.stride,
        truth: toNetworkBox(geometry, photo.box),
      });
      options.onProgress?.(i + 1, photos.length);
    }
  } finally {
    await session.release();
  }
  return out;
}

export interface RpnTrainingOptions {
  epochs: number;
  learningRate: number;
  /** Channels of the head's 3×3 conv. */
  hidden: number;
  /** Rank of the 3×3 conv over the backbone channels (0 = full). */
  reduced: number;
  /** Anchors sampled per photo per step. */
  batchAnchors: number;
  seed: number;
  anchors: AnchorSpec;
  /** Where a checkpoint (rpn-head.json) is written after every epoch; none if unset. */
  checkpointDir?: string;
}

export const DEFAULT_RPN_TRAINING: RpnTrainingOptions = {
  epochs: 8,
  learningRate: 1e-3,
  // Faster R-CNN's 512 channels were sized for a GPU and a VGG backbone; one box per photo needs
  // far fewer, and on two shared CPU cores every channel is training time.
  hidden: 64,
  // See rpnHead.ts: the 3×3 conv factored through 32 channels trains an order faster on a CPU.
  reduced: 32,
  batchAnchors: 256,
  seed: 1,
  anchors: DEFAULT_ANCHOR_SPEC,
};

export interface RpnTrainingHistory {
  /** Mean loss per epoch: total, objectness (BCE), regression (smooth-L1). */
  epochs: Array<{ total: number; objectness: number; regression: number }>;
  seconds: number;
  steps: number;
}

export interface RpnCheckpoint {
  format: 'sightline-rpn-head/1';
  anchors: AnchorSpec;
  longSide?: number;
  model?: string;
  trainedOn: string[];
  history: RpnTrainingHistory;
  weights: RpnHeadWeights;
}

export type RpnProgress = (p: { epoch: number; epochs: number; step: number; steps: number; loss: number }) => void;

export async function trainRpnHead(photos: RpnPhoto[], options: Partial<RpnTrainingOptions> = {}, hooks: { onProgress?: RpnProgress; signal?: AbortSignal; checkpointExtras?: Partial<RpnCheckpoint> } = {}): Promise<{ head: RpnHead; history: RpnTrainingHistory }> {
  const o = { ...DEFAULT_RPN_TRAINING, ...options };
  if (!photos.length) throw new Error('no photos with a clean box to train the RPN on');
  const random = new SeededRandom(o.seed);
  const head = new RpnHead({ channels: photos[0].channels, hidden: o.hidden, reduced: o.reduced, anchors: anchorsPerCell(o.anchors) }, o.seed);
  const optimizer = tf.train.adam(o.learningRate);
  // Labels depend only on the geometry, never on the head: computed once per photo.
  const targets = photos.map((p) => labelAnchors(generateAnchors(p.width, p.height, o.anchors), p.truth, p.inputWidth, p.inputHeight));
  const history: RpnTrainingHistory = { epochs: [], seconds: 0, steps: 0 };
  const started = performance.now();
  const steps = photos.length;
  for (let epoch = 0; epoch < o.epochs && !hooks.signal?.aborted; epoch++) {
    const order = random.shuffle(photos.map((_, i) => i));
    const sums = { total: 0, objectness: 0, regression: 0 };
    for (const [step, i] of order.entries()) {
      const p = photos[i];
      const batch = sampleAnchors(targets[i], () => random.next(), o.batchAnchors);
      const features = tf.tensor4d(p.features, [1, p.height, p.width, p.channels]);
      let parts: [number, number] = [0, 0];
      const cost = optimizer.minimize(() => {
        const loss = rpnLoss(head.apply(features), batch);
        parts = [loss.objectness.dataSync()[0], loss.regression.dataSync()[0]];
        return loss.total;
      }, true, head.trainable());
      const total = cost ? (await cost.data())[0] : NaN;
      cost?.dispose();
      features.dispose();
      disposeBatch(batch);
      sums.total += total;
      sums.objectness += parts[0];
      sums.regression += parts[1];
      history.steps++;
      hooks.onProgress?.({ epoch: epoch + 1, epochs: o.epochs, step: step + 1, steps, loss: total });
      if (hooks.signal?.aborted) break;
    }
    history.epochs.push({ total: sums.total / steps, objectness: sums.objectness / steps, regression: sums.regression / steps });
    history.seconds = (performance.now() - started) / 1000;
    if (o.checkpointDir) await saveRpnCheckpoint(path.join(o.checkpointDir, 'rpn-head.json'), head, { ...hooks.checkpointExtras, anchors: o.anchors, trainedOn: photos.map((p) => p.path), history });
  }
  history.seconds = (performance.now() - started) / 1000;
  optimizer.dispose();
  return { head, history };
}

export async function saveRpnCheckpoint(file: string, head: RpnHead, info: Omit<RpnCheckpoint, 'format' | 'weights'>): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const checkpoint: RpnCheckpoint = { format: 'sightline-rpn-head/1', ...info, weights: await head.save() };
  await writeAtomic(file, JSON.stringify(checkpoint));
}

export async function loadRpnCheckpoint(file: string): Promise<{ head: RpnHead; checkpoint: RpnCheckpoint }> {
  const checkpoint = JSON.parse(await fs.readFile(file, 'utf8')) as RpnCheckpoint;
  if (checkpoint.format !== 'sightline-rpn-head/1') throw new Error(`${file} is not an RPN head checkpoint`);
  return { head: new RpnHead(checkpoint.weights.shape, 1, checkpoint.weights), checkpoint };
}

/** The head's top-K proposals for one photo, in network pixels, best first. */
export async function proposalsFor(head: RpnHead, photo: RpnPhoto, anchors: AnchorSpec, options: Partial<ProposalOptions> = {}): Promise<Array<{ box: CornerBox; score: number }>> {
  const features = tf.tensor4d(photo.features, [1, photo.height, photo.width, photo.channels]);
  const output = head.apply(features);
  const [scores, deltas] = await Promise.all([output.objectness.data(), output.deltas.data()]);
  features.dispose();
  output.objectness.dispose();
  output.deltas.dispose();
  return proposeRegions(generateAnchors(photo.width, photo.height, anchors), scores, deltas, photo.inputWidth, photo.inputHeight, options);
}
