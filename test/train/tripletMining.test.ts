import { describe, expect, it } from 'vitest';
import { averagePrecision } from '../../app/eval/averagePrecision.js';
import { TripletRelations } from '../../app/train/trainingSet.js';
import { mineTriplets, relationsMeanAveragePrecision, SeededRandom } from '../../app/train/tripletMining.js';

/** Unit vectors at the given angles (degrees) in 2-D, row-major. */
function atAngles(...degrees: number[]): Float32Array {
  return Float32Array.from(degrees.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
}

describe('hard-negative mining', () => {
  // 0, 1, 2: class a; 3: unsure for a (Paris junk); 4, 5, 6: class b; 7: a distractor.
  const images = [
    { classes: ['a'], unsure: [] }, { classes: ['a'], unsure: [] }, { classes: ['a'], unsure: [] },
    { classes: [], unsure: ['a'] },
    { classes: ['b'], unsure: [] }, { classes: ['b'], unsure: [] }, { classes: ['b'], unsure: [] },
    { classes: [], unsure: [] },
  ];
  const relations = new TripletRelations(images);
  //                           0   1   2   3  4   5    6    7
  const descriptors = atAngles(0, 40, 80, 1, 20, 100, 150, 10);

  it('knows positives (verified class-mates) and negatives (related to none of the anchor\'s classes)', () => {
    expect(relations.anchors).toEqual([0, 1, 2, 4, 5, 6]);
    expect(relations.positivesOf(0)).toEqual([1, 2]);
    expect(relations.positivesOf(3)).toEqual([]);
    expect(relations.isNegative(0, 3)).toBe(false);
    expect(relations.isNegative(0, 4)).toBe(true);
    expect(relations.isNegative(0, 7)).toBe(true);
    expect(relations.isNegative(4, 3)).toBe(true);
    expect(relations.isNegative(0, 0)).toBe(false);
  });

  it('takes the hardest negative with a pool of 1, never an unsure image, and the least similar positive when asked', () => {
    const [t] = mineTriplets(descriptors, 2, relations, [0], { negativePool: 1, positive: 'hardest' }, () => 0.99);
    // Image 3 is the nearest to 0 but unsure; 7 (10°) beats 4 (20°).
    expect(t).toEqual({ anchor: 0, positive: 2, negative: 7 });
    const [u] = mineTriplets(descriptors, 2, relations, [5], { negativePool: 1, positive: 'hardest' }, () => 0);
    expect(u).toEqual({ anchor: 5, positive: 4, negative: 2 });
  });

  it('draws the negative among the k hardest and a random positive', () => {
    const seen = new Set<number>();
    const positives = new Set<number>();
    const random = new SeededRandom(3);
    for (let i = 0; i < 200; i++) {
      const [t] = mineTriplets(descriptors, 2, relations, [0], { negativePool: 2, positive: 'random' }, () => random.next());
      seen.add(t.negative);
      positives.add(t.positive);
    }
    expect([...seen].sort()).toEqual([4, 7]);
    expect([...positives].sort()).toEqual([1, 2]);
  });

  it('training mAP: 1 for perfectly clustered descriptors, and each anchor\'s AP as compute_ap otherwise', () => {
    const clustered = atAngles(0, 1, 2, 45, 90, 91, 92, 170);
    expect(relationsMeanAveragePrecision(clustered, 2, relations)).toBe(1);
    // Anchor 0 ranks 0, 3(junk), 7, 4, 1, 2, 5, 6 on `descriptors`: positives 1, 2 at ranks 4 and 5 of the non-junk list.
    const ap0 = averagePrecision(['0', '7', '4', '1', '2', '5', '6'], new Set(['1', '2']), new Set(['0']));
    const sum = relations.anchors.reduce((s, a) => {
      const sims = relations.images.map((_, j) => descriptors[2 * a] * descriptors[2 * j] + descriptors[2 * a + 1] * descriptors[2 * j + 1]);
      const order = sims.map((_, j) => j).sort((x, y) => sims[y] - sims[x] || x - y).map(String);
      const junk = new Set(relations.images.map((_, j) => j).filter((j) => !relations.positivesOf(a).includes(j) && !relations.isNegative(a, j)).map(String));
      return s + averagePrecision(order, new Set(relations.positivesOf(a).map(String)), junk);
    }, 0);
    expect(averagePrecision(['0', '3', '7', '4', '1', '2', '5', '6'], new Set(['1', '2']), new Set(['0', '3']))).toBeCloseTo(ap0, 12);
    expect(relationsMeanAveragePrecision(descriptors, 2, relations)).toBeCloseTo(sum / relations.anchors.length, 12);
  });

  it('SeededRandom replays from a saved state', () => {
    const a = new SeededRandom(42);
    a.next();
    const saved = a.state;
    const next = [a.next(), a.next()];
    const b = new SeededRandom(saved);
    expect([b.next(), b.next()]).toEqual(next);
  });
});
