// Triplets from the current model's descriptors (DESIGN.md §1.3): for each anchor, a positive
// among its verified class-mates and a hard negative, i.e. one of the unrelated images the model
// currently ranks highest. Re-run every few steps, because what is hard changes as it learns.
import { averagePrecision } from '../eval/averagePrecision.js';
import type { TripletRelations } from './trainingSet.js';

export interface Triplet {
  anchor: number;
  positive: number;
  negative: number;
}

export interface MiningOptions {
  /** Draw the negative among this many hardest ones (1 = always the hardest; default 5). */
  negativePool: number;
  /** `random` positive (the default) or the `hardest`, i.e. the least similar one. */
  positive: 'random' | 'hardest';
}

export const DEFAULT_MINING: MiningOptions = { negativePool: 5, positive: 'random' };

/** Similarities of row `i` to every row of a row-major n × d block. */
export function similaritiesTo(descriptors: Float32Array, d: number, i: number): Float64Array {
  const n = descriptors.length / d;
  const out = new Float64Array(n);
  const base = i * d;
  for (let j = 0; j < n; j++) {
    let s = 0;
    const row = j * d;
    for (let k = 0; k < d; k++) s += descriptors[base + k] * descriptors[row + k];
    out[j] = s;
  }
  return out;
}

/** One triplet per anchor, in the anchors' order. `random` returns numbers in [0, 1). */
export function mineTriplets(descriptors: Float32Array, d: number, relations: TripletRelations, anchors: readonly number[], options: MiningOptions, random: () => number): Triplet[] {
  const n = descriptors.length / d;
  const triplets: Triplet[] = [];
  for (const anchor of anchors) {
    const positives = relations.positivesOf(anchor);
    if (positives.length === 0) continue;
    const sims = similaritiesTo(descriptors, d, anchor);
    const negatives: number[] = [];
    for (let j = 0; j < n; j++) if (relations.isNegative(anchor, j)) negatives.push(j);
    if (negatives.length === 0) continue;
    negatives.sort((a, b) => sims[b] - sims[a] || a - b);
    const pool = Math.max(1, Math.min(options.negativePool, negatives.length));
    const negative = negatives[Math.floor(random() * pool)];
    const positive = options.positive === 'hardest'
      ? positives.reduce((best, j) => (sims[j] < sims[best] ? j : best), positives[0])
      : positives[Math.floor(random() * positives.length)];
    triplets.push({ anchor, positive, negative });
  }
  return triplets;
}

/**
 * mAP of the training images ranking each other: every anchor queries the rest; positives are
 * its class-mates, images neither positive nor negative (itself, unsure ones) are junk. This is
 * the "training mAP" of the learning curve, not an evaluation.
 */
export function relationsMeanAveragePrecision(descriptors: Float32Array, d: number, relations: TripletRelations): number {
  const n = descriptors.length / d;
  const ids = Array.from({ length: n }, (_, i) => String(i));
  let sum = 0;
  for (const anchor of relations.anchors) {
    const sims = similaritiesTo(descriptors, d, anchor);
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => sims[b] - sims[a] || a - b);
    const positives = new Set(relations.positivesOf(anchor).map(String));
    const junk = new Set<string>();
    for (let j = 0; j < n; j++) if (!positives.has(String(j)) && !relations.isNegative(anchor, j)) junk.add(String(j));
    sum += averagePrecision(order.map((j) => ids[j]), positives, junk);
  }
  return relations.anchors.length ? sum / relations.anchors.length : 0;
}

/** mulberry32: a small seeded generator whose whole state is one number, so checkpoints can save it. */
export class SeededRandom {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Fisher–Yates in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
