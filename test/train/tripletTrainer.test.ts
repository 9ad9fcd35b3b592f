// The training loop on a synthetic problem whose answer is known: region vectors carry a class
// signal in three channels and a larger class-independent nuisance in the other nine. A whitening
// that drops the nuisance separates the classes perfectly, so every triplet can reach zero loss.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Whitening } from '../../app/engine/whitening.js';
import { LearnableWhitening } from '../../app/train/learnableWhitening.js';
import { RegionWhiteningModel, type ImageRegions } from '../../app/train/regionWhiteningModel.js';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';
import { TripletRelations } from '../../app/train/trainingSet.js';
import { DEFAULT_TRIPLET_OPTIONS, trainTriplets, type TripletTrainingOptions } from '../../app/train/tripletTrainer.js';
import { rng } from '../support/random.js';

const CHANNELS = 12;
const CLASSES = 3;
const PER_CLASS = 6;
const REGIONS = 4;

function syntheticProblem(seed: number): { regions: ImageRegions[]; relations: TripletRelations } {
  const r = rng(seed);
  const regions: ImageRegions[] = [];
  const images: Array<{ classes: string[]; unsure: string[] }> = [];
  for (let k = 0; k < CLASSES; k++) {
    for (let i = 0; i < PER_CLASS; i++) {
      const rows = new Float32Array(REGIONS * CHANNELS);
      for (let g = 0; g < REGIONS; g++) {
        rows[g * CHANNELS + k] = 0.3;
        for (let c = CLASSES; c < CHANNELS; c++) rows[g * CHANNELS + c] = r();
      }
      regions.push({ rows, count: REGIONS });
      images.push({ classes: [`class${k}`], unsure: [] });
    }
  }
  return { regions, relations: new TripletRelations(images) };
}

const identity: Whitening = {
  channels: CHANNELS,
  dim: CHANNELS,
  mean: new Float32Array(CHANNELS),
  projection: Float32Array.from({ length: CHANNELS * CHANNELS }, (_, i) => (i % (CHANNELS + 1) === 0 ? 1 : 0)),
  eigenvalues: new Float64Array(CHANNELS).fill(1),
  fittedOn: 'identity',
  sampleCount: 0,
  epsilon: 0,
};

const options = (overrides: Partial<TripletTrainingOptions> = {}): TripletTrainingOptions => ({
  ...DEFAULT_TRIPLET_OPTIONS,
  epochs: 40,
  batchSize: 6,
  learningRate: 0.03,
  remineEvery: 3,
  checkpointEvery: 0,
  seed: 7,
  ...overrides,
});

let tmp: string;
beforeAll(async () => {
  await selectTrainingBackend({ prefer: 'wasm' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-trainer-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function run(opts: TripletTrainingOptions, hooks: Parameters<typeof trainTriplets>[3] = {}) {
  const { regions, relations } = syntheticProblem(1);
  const layer = LearnableWhitening.fromWhitening(identity);
  try {
    const history = await trainTriplets(new RegionWhiteningModel(regions, layer), relations, opts, hooks);
    return { history, whitening: await layer.toWhitening('trained') };
  } finally {
    layer.dispose();
  }
}

describe('triplet training on a known-separable problem', () => {
  it('starts with violated margins, the loss falls, and it ends at zero loss with perfect ranking', async () => {
    const { history } = await run(options());
    const first = history.mining[0];
    const last = history.mining[history.mining.length - 1];
    expect(first.activeShare).toBeGreaterThan(0.5);
    expect(first.trainingMAP).toBeLessThan(1);
    const epochMean = (e: number) => {
      const l = history.losses.slice(e * history.stepsPerEpoch, (e + 1) * history.stepsPerEpoch);
      return l.reduce((s, p) => s + p.loss, 0) / l.length;
    };
    expect(epochMean(39)).toBeLessThan(epochMean(0) / 10);
    expect(last.minedLoss).toBe(0);
    expect(last.activeShare).toBe(0);
    expect(last.trainingMAP).toBe(1);
    expect(history.totalSteps).toBe(40 * Math.ceil(18 / 6));
  });

  it('learns to weigh the signal channels over the nuisance ones (the known answer; the identity starts them equal)', async () => {
    const { whitening } = await run(options());
    // Mean squared column norm of the projection: how much a change in that channel moves the output.
    let signal = 0;
    let nuisance = 0;
    for (let k = 0; k < CHANNELS; k++) {
      for (let c = 0; c < CHANNELS; c++) {
        const v = whitening.projection[k * CHANNELS + c] ** 2;
        if (c < CLASSES) signal += v;
        else nuisance += v;
      }
    }
    expect(signal / CLASSES).toBeGreaterThan(3 * (nuisance / (CHANNELS - CLASSES)));
  });

  it('a run stopped part-way and resumed from its checkpoint ends exactly where an uninterrupted run does', async () => {
    const straight = await run(options({ epochs: 6, checkpointDir: path.join(tmp, 'straight') }));
    const dir = path.join(tmp, 'stopped');
    const controller = new AbortController();
    const stopped = await run(options({ epochs: 6, checkpointDir: dir }), { signal: controller.signal, onProgress: (p) => { if (p.phase === 'step' && p.step === 8) controller.abort(); } });
    expect(stopped.history.interrupted).toBe(true);
    expect(stopped.history.losses).toHaveLength(8);
    const resumed = await run(options({ epochs: 6, checkpointDir: dir, resume: true }));
    expect(resumed.history.resumedFrom).toBe(8);
    expect(resumed.history.losses.map((l) => l.loss)).toEqual(straight.history.losses.map((l) => l.loss));
    expect(Array.from(resumed.whitening.projection)).toEqual(Array.from(straight.whitening.projection));
    expect(Array.from(resumed.whitening.mean)).toEqual(Array.from(straight.whitening.mean));
  });

  it('refuses to resume a checkpoint made with other settings', async () => {
    const dir = path.join(tmp, 'settings');
    await run(options({ epochs: 1, checkpointDir: dir }));
    await expect(run(options({ epochs: 1, checkpointDir: dir, resume: true, learningRate: 0.1 }))).rejects.toThrow(/other settings \(learningRate\)/);
  });

  it('says so when no image has a positive', async () => {
    const layer = LearnableWhitening.fromWhitening(identity);
    const relations = new TripletRelations([{ classes: ['a'], unsure: [] }, { classes: ['b'], unsure: [] }]);
    const regions = syntheticProblem(2).regions.slice(0, 2);
    await expect(trainTriplets(new RegionWhiteningModel(regions, layer), relations, options())).rejects.toThrow(/no image has a verified positive/);
    layer.dispose();
  });
});
