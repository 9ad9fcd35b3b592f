// The onnxruntime Hamming matcher against OpenCV's brute-force matcher (the reference), and the
// ratio test's rules on hand-made neighbour lists.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HammingMatcher, nearestTwoOpenCv, ratioTestMatches, type NearestTwo } from '../../app/match/descriptorMatching.js';
import { extractFeatures, type LocalFeatures } from '../../app/match/localFeatures.js';
import { loadOpenCv } from '../../app/match/openCvRuntime.js';

const SCENES = fileURLToPath(new URL('../../../shared/data/scenes/opencv/', import.meta.url));

let matcher: HammingMatcher;

beforeAll(async () => {
  matcher = await HammingMatcher.create();
});

afterAll(async () => {
  await matcher?.release();
});

describe('HammingMatcher', () => {
  it('finds exactly the neighbours and distances OpenCV\'s BFMatcher finds (box → box_in_scene, leuvenA → leuvenB)', async () => {
    const cv = await loadOpenCv();
    for (const [a, b] of [['box.png', 'box_in_scene.png'], ['leuvenA.jpg', 'leuvenB.jpg']]) {
      const fa = await extractFeatures(path.join(SCENES, a));
      const fb = await extractFeatures(path.join(SCENES, b));
      const ours = await matcher.nearestTwo(fa, fb);
      const reference = nearestTwoOpenCv(cv, fa, fb);
      expect(Array.from(ours.firstDistance)).toEqual(Array.from(reference.firstDistance));
      expect(Array.from(ours.secondDistance)).toEqual(Array.from(reference.secondDistance));
      // The nearest index is only defined where the nearest is unique.
      for (let i = 0; i < fa.count; i++) {
        if (reference.firstDistance[i] < reference.secondDistance[i]) expect(ours.first[i]).toBe(reference.first[i]);
      }
      expect(ratioTestMatches(ours)).toEqual(ratioTestMatches(reference));
    }
  });

  it('returns no neighbours when one side has fewer than two keypoints', async () => {
    const fa = await extractFeatures(path.join(SCENES, 'box.png'));
    const one: LocalFeatures = { ...fa, count: 1, points: fa.points.slice(0, 2), sizes: fa.sizes.slice(0, 1), angles: fa.angles.slice(0, 1), responses: fa.responses.slice(0, 1), descriptors: fa.descriptors.slice(0, 61) };
    const nn = await matcher.nearestTwo(fa, one);
    expect(nn.count).toBe(fa.count);
    expect(ratioTestMatches(nn).count).toBe(0);
  });
});

describe('ratioTestMatches', () => {
  const nn = (rows: Array<[number, number, number]>): NearestTwo => ({
    count: rows.length,
    first: Int32Array.from(rows, (r) => r[0]),
    firstDistance: Int32Array.from(rows, (r) => r[1]),
    secondDistance: Int32Array.from(rows, (r) => r[2]),
  });

  it('keeps a match only when it is clearly closer than the runner-up, and one match per keypoint of B', () => {
    const m = ratioTestMatches(nn([
      [5, 10, 100], // kept
      [6, 80, 100], // 0.8: not strictly below the ratio
      [7, 79, 100], // kept
      [5, 20, 100], // B's keypoint 5 again, farther: dropped
      [9, 30, 30], // a tie: ambiguous
      [-1, 0, 0], // no neighbour
    ]), 0.8);
    expect(Array.from(m.a)).toEqual([0, 2]);
    expect(Array.from(m.b)).toEqual([5, 7]);
    expect(Array.from(m.distance)).toEqual([10, 79]);
  });
});
