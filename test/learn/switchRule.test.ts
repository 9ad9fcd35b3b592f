// The switch rule on a tiny synthetic set where the answer is known: the region vectors carry a
// place signal (channels 0, 1) and a nuisance shared across places (channels 2, 3, say the light).
// A whitening that keeps the signal ranks the held-out places perfectly; one that keeps the
// nuisance ranks every photo's look-alike from the other place first.
import { describe, expect, it } from 'vitest';
import type { Whitening } from '../../app/engine/whitening.js';
import { describeWith, rankingQuality } from '../../app/learn/heldOutRanking.js';
import { decideSwitch, defaultMinGain, MIN_MAP_GAIN } from '../../app/learn/switchRule.js';
import type { ImageRegions } from '../../app/train/regionWhiteningModel.js';

function unit(...x: number[]): number[] {
  const n = Math.hypot(...x);
  return x.map((a) => a / n);
}

/** One photo: two regions, both showing its place and its light. */
function photo(place: 0 | 1, light: 0 | 1): ImageRegions {
  const signal = [place === 0 ? 1 : 0, place === 1 ? 1 : 0];
  const nuisance = [light === 0 ? 2 : 0, light === 1 ? 2 : 0];
  return { rows: Float32Array.from([...unit(...signal, ...nuisance), ...unit(...signal.map((s) => 0.8 * s), ...nuisance)]), count: 2 };
}

function keeping(channels: [number, number], label: string): Whitening {
  const projection = new Float32Array(2 * 4);
  projection[channels[0]] = 1;
  projection[4 + channels[1]] = 1;
  return { channels: 4, dim: 2, mean: new Float32Array(4), projection, eigenvalues: Float64Array.of(1, 1), fittedOn: label, sampleCount: 8, epsilon: 0.1 };
}

const heldOut = [photo(0, 0), photo(0, 1), photo(1, 0), photo(1, 1)];
const placeOf = [0, 0, 1, 1];
const score = async (w: Whitening | undefined) => rankingQuality(await describeWith(heldOut, w), placeOf);
const signalKept = keeping([0, 1], 'keeps the places');
const nuisanceKept = keeping([2, 3], 'keeps the light');

describe('switching to a learned whitening', () => {
  it('measures the known answer: the place-keeping whitening ranks perfectly, the others do not', async () => {
    expect((await score(signalKept)).mAP).toBe(1);
    expect((await score(nuisanceKept)).mAP).toBeLessThan(0.6);
    expect((await score(undefined)).mAP).toBeLessThan(0.6);
    expect((await score(nuisanceKept)).recallAt1).toBe(0);
  });

  it('switches when the learned whitening ranks the held-out places better', async () => {
    const decision = decideSwitch(await score(undefined), await score(signalKept));
    expect(decision.switch).toBe(true);
    expect(decision.reason).toMatch(/^Switched to the learned whitening.*→ 100\.0 %/);
    expect(decideSwitch(await score(nuisanceKept), await score(signalKept)).switch).toBe(true);
  });

  it('keeps the current whitening when the learned one is worse, equal, or better by less than the margin', async () => {
    const worse = decideSwitch(await score(signalKept), await score(nuisanceKept));
    expect(worse.switch).toBe(false);
    expect(worse.reason).toMatch(/^Kept the current whitening: the learned one ranks the held-out places no better/);
    const good = await score(signalKept);
    expect(decideSwitch(good, good).switch).toBe(false);
    const slightly = { ...good, mAP: good.mAP - 0.4 * MIN_MAP_GAIN };
    const small = decideSwitch(slightly, good);
    expect(small.switch).toBe(false);
    expect(small.reason).toMatch(/gains only \+0\.2 points/);
  });

  it('never switches in a dry run, but says what it would have done', async () => {
    const decision = decideSwitch(await score(undefined), await score(signalKept), { dryRun: true });
    expect(decision.switch).toBe(false);
    expect(decision.reason).toMatch(/^Evaluated only: the learned whitening would have replaced the current one/);
  });

  it('does not switch on nothing measured', () => {
    const none = { mAP: NaN, recallAt1: NaN, queries: 0 };
    expect(decideSwitch(none, none).switch).toBe(false);
  });
});

describe('the switch margin', () => {
  it('is half a point unless SIGHTLINE_LEARN_MIN_GAIN says otherwise', () => {
    expect(defaultMinGain({})).toBe(MIN_MAP_GAIN);
    expect(defaultMinGain({ SIGHTLINE_LEARN_MIN_GAIN: '-1' })).toBe(-1);
    expect(() => defaultMinGain({ SIGHTLINE_LEARN_MIN_GAIN: 'lots' })).toThrow(/must be a number from -1 to 1/);
  });

  it('says so when a lowered margin switches to a whitening that gains nothing', () => {
    const same = { mAP: 0.8, recallAt1: 0.8, queries: 6 };
    const decision = decideSwitch(same, { ...same, mAP: 0.7 }, { minGain: -1 });
    expect(decision.switch).toBe(true);
    expect(decision.reason).toMatch(/^Switched to the learned whitening although it gains nothing \(mAP 80\.0 % → 70\.0 %, −10\.0 points\): the required gain is set to −100\.0 points\./);
  });
});
