// The triplet-loss training loop (DESIGN.md §1.3), shared by every trainable part: the learned
// whitening on frozen features and the fine-tuned backbone. Both appear to it as a TripletModel,
// a function from training images to descriptors whose variables the optimiser moves.
import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeAtomic } from '../engine/modelRegistry.js';
import { tripletLoss, tripletLossOf } from './tripletLoss.js';
import { DEFAULT_MINING, mineTriplets, relationsMeanAveragePrecision, SeededRandom, type MiningOptions, type Triplet } from './tripletMining.js';
import type { TripletRelations } from './trainingSet.js';

export interface TripletModel {
  readonly variables: tf.Variable[];
  /** Descriptor dimension D. */
  readonly dim: number;
  /** Number of training images; indices refer to TripletRelations.images. */
  readonly size: number;
  /** L2-normalised descriptors [n, D] of the given images, differentiable in `variables`. */
  descriptors(indices: readonly number[]): tf.Tensor2D;
  /** Every image's descriptor, no gradients (mining, training mAP), row-major size × D. */
  describeAll(): Promise<Float32Array>;
}

export interface TripletTrainingOptions {
  epochs: number;
  /** Triplets per optimiser step. */
  batchSize: number;
  learningRate: number;
  margin: number;
  /** Mine new triplets with the current model every this many steps. */
  remineEvery: number;
  mining: MiningOptions;
  seed: number;
  /** Where checkpoints go; written every `checkpointEvery` steps and at the end. */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Continue from the checkpoint in checkpointDir if there is one. */
  resume?: boolean;
  /** What else must match for a checkpoint to be resumed (data, model, trained layers…). */
  settings?: Record<string, unknown>;
}

export const DEFAULT_TRIPLET_OPTIONS: TripletTrainingOptions = {
  epochs: 10,
  batchSize: 8,
  learningRate: 1e-4,
  margin: 0.1,
  remineEvery: 20,
  mining: DEFAULT_MINING,
  seed: 1,
  checkpointEvery: 50,
};

export interface LossPoint {
  step: number;
  /** Mean triplet loss of the step's batch. */
  loss: number;
}

export interface MiningPoint {
  step: number;
  /** mAP of the training images ranking each other (see relationsMeanAveragePrecision). */
  trainingMAP: number;
  /** From the validation hook, when one is given (held-out classes, never the test set). */
  validationMAP?: number;
  /** Mean loss over the freshly mined triplets, before training on them. */
  minedLoss: number;
  /** Share of them that violate the margin (loss > 0). */
  activeShare: number;
}

export interface TrainingHistory {
  losses: LossPoint[];
  mining: MiningPoint[];
  /** Wall time spent training, summed over resumed runs. */
  seconds: number;
  totalSteps: number;
  stepsPerEpoch: number;
  /** Step the last run started from (0 unless resumed). */
  resumedFrom: number;
  /** True when the run was stopped (hooks.signal) before its last step; the checkpoint holds where. */
  interrupted?: boolean;
}

export interface TrainingProgress {
  phase: 'mine' | 'step' | 'checkpoint';
  step: number;
  totalSteps: number;
  epoch: number;
  loss?: number;
}

export interface TrainingHooks {
  onProgress?: (p: TrainingProgress) => void;
  /** mAP on held-out data, called at every mining point. */
  validate?: () => Promise<number>;
  /** Stops at the next step boundary, after writing a checkpoint (Ctrl-C in the CLI). */
  signal?: AbortSignal;
}

export async function trainTriplets(model: TripletModel, relations: TripletRelations, options: TripletTrainingOptions, hooks: TrainingHooks = {}): Promise<TrainingHistory> {
  if (relations.images.length !== model.size) throw new RangeError(`the model describes ${model.size} images, the relations ${relations.images.length}`);
  const anchors = relations.anchors;
  if (anchors.length === 0) throw new Error('no image has a verified positive: nothing to train on (does every class have two or more members?)');
  if (options.batchSize < 1 || options.remineEvery < 1 || options.epochs < 0) throw new RangeError('batch size, re-mining interval and epochs must be positive');
  const stepsPerEpoch = Math.ceil(anchors.length / options.batchSize);
  const totalSteps = options.epochs * stepsPerEpoch;
  const random = new SeededRandom(options.seed);
  const optimizer = tf.train.adam(options.learningRate);
  let history: TrainingHistory = { losses: [], mining: [], seconds: 0, totalSteps, stepsPerEpoch, resumedFrom: 0 };
  let step = 0;
  let triplets: Triplet[] = [];
  let cursor = 0;

  if (options.resume && options.checkpointDir) {
    const restored = await loadCheckpoint(options.checkpointDir, model.variables, optimizer, checkpointSettings(options, totalSteps));
    if (restored) {
      // The mined triplets and the position in them are restored too, so a resumed run takes
      // exactly the steps the uninterrupted one would have taken.
      ({ step, triplets, cursor } = restored);
      random.state = restored.randomState;
      history = { ...restored.history, totalSteps, stepsPerEpoch, resumedFrom: step, interrupted: false };
    }
  }

  const epochOf = (s: number) => Math.floor(s / stepsPerEpoch);
  const started = performance.now();
  const secondsBefore = history.seconds;

  const mine = async () => {
    hooks.onProgress?.({ phase: 'mine', step, totalSteps, epoch: epochOf(step) });
    const descriptors = await model.describeAll();
    triplets = mineTriplets(descriptors, model.dim, relations, random.shuffle([...anchors]), options.mining, () => random.next());
    cursor = 0;
    const d = model.dim;
    const row = (i: number) => descriptors.subarray(i * d, (i + 1) * d);
    const losses = triplets.map((t) => tripletLossOf(row(t.anchor), row(t.positive), row(t.negative), options.margin));
    const point: MiningPoint = {
      step,
      trainingMAP: relationsMeanAveragePrecision(descriptors, d, relations),
      minedLoss: losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length),
      activeShare: losses.filter((l) => l > 0).length / Math.max(1, losses.length),
    };
    if (hooks.validate) point.validationMAP = await hooks.validate();
    history.mining.push(point);
  };

  const save = async () => {
    if (!options.checkpointDir) return;
    hooks.onProgress?.({ phase: 'checkpoint', step, totalSteps, epoch: epochOf(step) });
    history.seconds = secondsBefore + (performance.now() - started) / 1000;
    await saveCheckpoint(options.checkpointDir, { step, randomState: random.state, triplets, cursor, history, settings: checkpointSettings(options, totalSteps) }, model.variables, optimizer);
  };

  try {
    while (step < totalSteps) {
      if (hooks.signal?.aborted) {
        history.interrupted = true;
        await save();
        return history;
      }
      if (triplets.length === 0 || step % options.remineEvery === 0) await mine();
      if (triplets.length === 0) throw new Error('mining found no triplet: every anchor lacks either a positive or a negative');
      const batch: Triplet[] = [];
      for (let i = 0; i < Math.min(options.batchSize, triplets.length); i++) batch.push(triplets[cursor++ % triplets.length]);
      const loss = trainStep(model, optimizer, batch, options.margin);
      step++;
      history.losses.push({ step, loss });
      hooks.onProgress?.({ phase: 'step', step, totalSteps, epoch: epochOf(step - 1), loss });
      if (options.checkpointEvery && step % options.checkpointEvery === 0 && step < totalSteps) await save();
    }
    // The curve's last point: where training ended.
    await mine();
    history.seconds = secondsBefore + (performance.now() - started) / 1000;
    await save();
    return history;
  } finally {
    optimizer.dispose();
  }
}

function trainStep(model: TripletModel, optimizer: tf.Optimizer, batch: Triplet[], margin: number): number {
  const unique = [...new Set(batch.flatMap((t) => [t.anchor, t.positive, t.negative]))];
  const row = new Map(unique.map((img, i) => [img, i]));
  const cost = optimizer.minimize(() => {
    const d = model.descriptors(unique);
    const pick = (which: keyof Triplet) => tf.gather(d, batch.map((t) => row.get(t[which])!));
    return tripletLoss(pick('anchor'), pick('positive'), pick('negative'), margin);
  }, true, model.variables);
  if (!cost) throw new Error('the optimiser returned no loss');
  const value = cost.dataSync()[0];
  cost.dispose();
  if (!Number.isFinite(value)) throw new Error(`the loss became ${value}; lower the learning rate`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: checkpoint.json (step, random state, history, what was trained) + checkpoint.bin
// (every variable, then the optimiser's state, as float32).

const CHECKPOINT_FORMAT = 'sightline-train-checkpoint-1';

interface CheckpointHeader {
  format: typeof CHECKPOINT_FORMAT;
  step: number;
  randomState: number;
  triplets: Triplet[];
  cursor: number;
  history: TrainingHistory;
  settings: Record<string, unknown>;
  tensors: Array<{ name: string; role: 'variable' | 'optimizer'; shape: number[]; offset: number }>;
}

/**
 * Which of a run's settings differ from the checkpoint in `dir` (empty when there is none), so a
 * command can refuse a mismatched --resume before it spends minutes preparing the data.
 * `totalSteps` depends on the data and is left to trainTriplets to check.
 */
export async function checkpointSettingsDiffer(dir: string, options: TripletTrainingOptions): Promise<string[]> {
  let header: CheckpointHeader;
  try {
    header = JSON.parse(await fs.readFile(path.join(dir, 'checkpoint.json'), 'utf8')) as CheckpointHeader;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const wanted = checkpointSettings(options, 0);
  delete wanted.totalSteps;
  return settingsDiffer(wanted, { ...header.settings, totalSteps: undefined });
}

function settingsDiffer(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

function checkpointSettings(options: TripletTrainingOptions, totalSteps: number): Record<string, unknown> {
  return {
    ...options.settings,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    margin: options.margin,
    remineEvery: options.remineEvery,
    mining: options.mining,
    seed: options.seed,
    totalSteps,
  };
}

async function saveCheckpoint(dir: string, state: Pick<CheckpointHeader, 'step' | 'randomState' | 'triplets' | 'cursor' | 'history' | 'settings'>, variables: tf.Variable[], optimizer: tf.Optimizer): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const named = [
    ...variables.map((v, i) => ({ name: `variable_${i}`, role: 'variable' as const, tensor: v as tf.Tensor })),
    ...(await optimizer.getWeights()).map((w) => ({ name: w.name, role: 'optimizer' as const, tensor: w.tensor })),
  ];
  const values = await Promise.all(named.map(async (n) => Float32Array.from(await n.tensor.data())));
  const total = values.reduce((s, v) => s + v.length, 0);
  const body = new Float32Array(total);
  let offset = 0;
  const tensors: CheckpointHeader['tensors'] = named.map((n, i) => {
    body.set(values[i], offset);
    const entry = { name: n.name, role: n.role, shape: n.tensor.shape, offset };
    offset += values[i].length;
    return entry;
  });
  await writeAtomic(path.join(dir, 'checkpoint.bin'), new Uint8Array(body.buffer));
  const header: CheckpointHeader = { format: CHECKPOINT_FORMAT, ...state, tensors };
  await writeAtomic(path.join(dir, 'checkpoint.json'), JSON.stringify(header) + '\n');
}

async function loadCheckpoint(dir: string, variables: tf.Variable[], optimizer: tf.Optimizer, settings: Record<string, unknown>): Promise<Pick<CheckpointHeader, 'step' | 'randomState' | 'triplets' | 'cursor' | 'history'> | undefined> {
  let header: CheckpointHeader;
  try {
    header = JSON.parse(await fs.readFile(path.join(dir, 'checkpoint.json'), 'utf8')) as CheckpointHeader;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (header.format !== CHECKPOINT_FORMAT) throw new Error(`${dir}/checkpoint.json is not a Sightline training checkpoint`);
  const differing = settingsDiffer(settings, header.settings);
  if (differing.length) throw new Error(`the checkpoint in ${dir} was made with other settings (${differing.join(', ')}); start afresh without --resume or use another --out`);
  const raw = await fs.readFile(path.join(dir, 'checkpoint.bin'));
  const body = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const slice = (t: CheckpointHeader['tensors'][number]) => body.subarray(t.offset, t.offset + t.shape.reduce((a, b) => a * b, 1));
  const saved = header.tensors.filter((t) => t.role === 'variable');
  if (saved.length !== variables.length || saved.some((t, i) => JSON.stringify(t.shape) !== JSON.stringify(variables[i].shape))) {
    throw new Error(`the checkpoint in ${dir} holds other variables than this model has`);
  }
  tf.tidy(() => saved.forEach((t, i) => variables[i].assign(tf.tensor(slice(t), t.shape))));
  const optimizerState = header.tensors.filter((t) => t.role === 'optimizer');
  if (optimizerState.length) await optimizer.setWeights(optimizerState.map((t) => ({ name: t.name, tensor: tf.tensor(slice(t), t.shape) })));
  return { step: header.step, randomState: header.randomState, triplets: header.triplets, cursor: header.cursor, history: header.history };
}
