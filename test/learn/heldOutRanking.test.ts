// The before/after measure: held-out photos ranking each other, positives = the same verified place.
import { describe, expect, it } from 'vitest';
import { describeWith, rankingQuality } from '../../app/learn/heldOutRanking.js';
import type { Whitening } from '../../app/engine/whitening.js';

const v = (...x: number[]) => Float32Array.from(x);

describe('held-out ranking quality', () => {
  it('matches a hand-computed mAP and recall@1', () => {
    // Photos 0, 1 show place A; 2, 3 place B. Every query's nearest photo is of the other place:
    //  q0 ranks 2 (0.8), 1 (0.6), 3 (0)    → its positive at rank 2: AP = ½ (0 + ½)  = 1/4
    //  q1 ranks 2 (0.96), 3 (0.8), 0 (0.6) → rank 3:                  AP = ½ (0 + ⅓)  = 1/6
    //  q2 ranks 1 (0.96), 0 (0.8), 3 (0.6) → rank 3:                  AP = 1/6
    //  q3 ranks 1 (0.8), 2 (0.6), 0 (0)    → rank 2:                  AP = 1/4
    // (compute_ap's trapezoid: precision before the hit, then after it.)
    const q = rankingQuality([v(1, 0), v(0.6, 0.8), v(0.8, 0.6), v(0, 1)], [0, 0, 1, 1]);
    expect(q.queries).toBe(4);
    expect(q.mAP).toBeCloseTo((1 / 4 + 1 / 6 + 1 / 6 + 1 / 4) / 4, 10);
    expect(q.recallAt1).toBe(0);
  });

  it('gives 1 for places that rank their own photos first, and skips a photo alone in its place', () => {
    const q = rankingQuality([v(1, 0), v(0.9, 0.1), v(0, 1), v(0.1, 0.9), v(0.7, 0.7)], [0, 0, 1, 1, 2]);
    expect(q.queries).toBe(4);
    expect(q.mAP).toBe(1);
    expect(q.recallAt1).toBe(1);
  });

  it('aggregates regions as the engine does: whitened, L2-normalised, summed, L2-normalised', async () => {
    const regions = { rows: v(1, 0, 0, 0, 0, 1), count: 2 };
    const [plain] = await describeWith([regions], undefined);
    expect(Array.from(plain)).toEqual([expect.closeTo(Math.SQRT1_2, 6), 0, expect.closeTo(Math.SQRT1_2, 6)]);
    // Keeps channel 0 at twice the scale: each region is renormalised before the sum.
    const keepFirst: Whitening = { channels: 3, dim: 1, mean: v(0, 0, 0), projection: v(2, 0, 0), eigenvalues: Float64Array.of(1), fittedOn: 'test', sampleCount: 2, epsilon: 0.1 };
    const [whitened] = await describeWith([regions], keepFirst);
    expect(Array.from(whitened)).toEqual([1]);
  });
});
