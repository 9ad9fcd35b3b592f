// The learning calls and event in the API contract: what the transports accept and reject.
import { describe, expect, it } from 'vitest';
import { dispatchApiCall } from '../../app/api/apiDispatcher.js';
import { ApiEventSchema, apiMethods, type LearningState, type SightlineApiHandlers } from '../../app/api/contract.js';
import { idleLearning as idle } from '../support/learningStates.js';

const finished: LearningState = {
  ...idle,
  lastRun: {
    outcome: 'finished',
    at: '2026-01-01T00:00:00.000Z',
    error: null,
    notEnoughPlaces: false,
    report: {
      startedAt: '2026-01-01T00:00:00.000Z',
      seconds: 42,
      dryRun: false,
      mining: { clusters: 3, photosChecked: 40, candidatePairs: 120, verifiedPairs: 30, places: 6, photos: 24 },
      split: { seed: 1, heldOutShare: 0.25, training: { places: 4, photos: 18, pairs: 24 }, heldOut: { places: 2, photos: 6, pairs: 6 }, unreadable: 0 },
      training: { epochs: 2, steps: 4, seconds: 3, backend: 'wasm', trainingMAP: { before: 0.5, after: 0.7 } },
      evaluation: [
        { key: 'current', label: 'In use now: no whitening', mAP: 0.6, recallAt1: 0.5 },
        { key: 'pca', label: 'PCA', mAP: 0.7, recallAt1: 0.66 },
        { key: 'learned', label: 'Learned', mAP: 0.75, recallAt1: null },
      ],
      decision: { switched: true, reason: 'Switched.', minGain: 0.005 },
      whitening: { before: 'abc', after: 'abc+w12345678' },
    },
  },
  undo: { switchedAt: '2026-01-01T00:00:00.000Z', previous: 'no whitening (plain R-MAC)', heldOutMAP: { before: 0.6, after: 0.75 } },
};

describe('the learning calls', () => {
  const input = apiMethods.learnFromLibrary.input;

  it('fills in the defaults and accepts a number of epochs', () => {
    expect(input.parse({})).toEqual({ dryRun: false });
    expect(input.parse({ dryRun: true, epochs: 2 })).toEqual({ dryRun: true, epochs: 2 });
  });

  it('rejects epochs out of range, wrong types and unknown fields', () => {
    for (const bad of [{ epochs: 0 }, { epochs: 101 }, { epochs: 1.5 }, { dryRun: 'yes' }, { switch: true }]) expect(input.safeParse(bad).success).toBe(false);
    for (const method of ['learningStatus', 'cancelLearning', 'revertLearning'] as const) expect(apiMethods[method].input.safeParse({ now: true }).success).toBe(false);
  });

  it('describes a state with a report, and refuses shares above 1 or NaN (JSON has none)', () => {
    const schema = apiMethods.learningStatus.output;
    expect(schema.parse(idle)).toEqual(idle);
    expect(schema.parse(finished)).toEqual(finished);
    const broken = structuredClone(finished);
    broken.lastRun!.report!.evaluation[0].mAP = 1.2;
    expect(schema.safeParse(broken).success).toBe(false);
    broken.lastRun!.report!.evaluation[0].mAP = NaN;
    expect(schema.safeParse(broken).success).toBe(false);
    expect(schema.safeParse({ ...idle, progress: { phase: 'dreaming', done: 0, total: 0, rate: 0, eta: null } }).success).toBe(false);
    expect(schema.safeParse({ ...idle, progress: { phase: 'verifying', done: 3, total: 10, rate: 1.5, eta: 4.7 } }).success).toBe(true);
  });

  it('has a learning event and a whitening reason for libraryChanged', () => {
    expect(ApiEventSchema.safeParse({ type: 'learning', learning: idle }).success).toBe(true);
    expect(ApiEventSchema.safeParse({ type: 'learning', learning: { ...idle, state: 'asleep' } }).success).toBe(false);
    expect(ApiEventSchema.safeParse({ type: 'libraryChanged', reason: 'whitening' }).success).toBe(true);
  });

  it('is validated by the dispatcher before the core sees it', async () => {
    const seen: unknown[] = [];
    const handlers = { learnFromLibrary: async (i: unknown) => (seen.push(i), idle) } as unknown as SightlineApiHandlers;
    const bad = await dispatchApiCall(handlers, 'learnFromLibrary', { epochs: -1 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(seen).toEqual([]);
    const good = await dispatchApiCall(handlers, 'learnFromLibrary', { epochs: 3 }, { validateOutput: true });
    expect(good).toEqual({ ok: true, value: idle });
    expect(seen).toEqual([{ dryRun: false, epochs: 3 }]);
  });
});
