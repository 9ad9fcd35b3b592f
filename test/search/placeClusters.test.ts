// Place clusters on synthetic blobs of unit vectors: blobs come out whole with their most central
// member as representative, small blobs and noise do not, a hub that every blob's photos list
// (but that lists none of them) does not join blobs, and the verification hook can cut edges.
import { describe, expect, it } from 'vitest';
import { DescriptorMatrix } from '../../app/search/descriptorMatrix.js';
import { findPlaceClusters } from '../../app/search/placeClusters.js';
import { rng } from '../support/random.js';

const D = 48;


function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}

function randomUnit(rand: () => number): Float32Array {
  return normalise(Float32Array.from({ length: D }, () => rand() - 0.5));
}

/** `count` points around `centre`, each offset by a random vector of length ~`spread`. */
function blob(centre: Float32Array, count: number, spread: number, rand: () => number): Float32Array[] {
  return Array.from({ length: count }, () => normalise(centre.map((c) => c + spread * (rand() - 0.5) * Math.sqrt(12 / D))));
}

function meanSimilarity(matrix: DescriptorMatrix, id: number, others: number[]): number {
  const rest = others.filter((o) => o !== id);
  return rest.reduce((s, o) => s + matrix.score(id, o)!, 0) / rest.length;
}

describe('findPlaceClusters', () => {
  it('finds each blob of at least minSize photos, with its most central photo as representative', () => {
    const rand = rng(11);
    const matrix = new DescriptorMatrix(D);
    const truth = new Map<number, string>();
    let id = 100;
    const add = (v: Float32Array, label: string) => {
      matrix.upsert(id, v);
      truth.set(id++, label);
    };
    for (const [label, count] of [['a', 12], ['b', 6], ['c', 3], ['small', 2]] as const) {
      const centre = randomUnit(rand);
      for (const v of blob(centre, count, 0.4, rand)) add(v, label);
    }
    for (let i = 0; i < 40; i++) add(randomUnit(rand), `noise${i}`);

    const clusters = findPlaceClusters(matrix, { k: 8, threshold: 0.8 });
    expect(clusters.map((c) => c.count)).toEqual([12, 6, 3]);
    for (const c of clusters) {
      expect(c.members).toHaveLength(c.count);
      expect(new Set(c.members.map((m) => truth.get(m))).size).toBe(1);
      expect(c.members[0]).toBe(c.representative);
      // The representative is the member with the highest mean similarity to the rest.
      const means = c.members.map((m) => meanSimilarity(matrix, m, c.members));
      expect(Math.max(...means)).toBeCloseTo(meanSimilarity(matrix, c.representative, c.members), 6);
      expect(c.cohesion).toBeCloseTo(meanSimilarity(matrix, c.representative, c.members), 6);
    }
    expect(findPlaceClusters(matrix, { k: 8, threshold: 0.8, minSize: 2 }).map((c) => c.count)).toEqual([12, 6, 3, 2]);
    expect(findPlaceClusters(matrix, { k: 8, threshold: 0.999 })).toEqual([]);
  });

  it('does not join two places through a hub that both list but which lists neither', () => {
    const rand = rng(12);
    const c1 = randomUnit(rand);
    const c2 = randomUnit(rand);
    const hub = normalise(c1.map((x, i) => x + c2[i]));
    // The hub's own neighbourhood: photos closer to it (cos 35° = 0.82) than the places' photos
    // are (~0.68), but farther from those photos (~0.55) than the hub is.
    const tilt = 35 * (Math.PI / 180);
    const hubFriends = Array.from({ length: 6 }, () => {
      const u = randomUnit(rand);
      return normalise(hub.map((h, i) => Math.cos(tilt) * h + Math.sin(tilt) * u[i]));
    });
    const matrix = new DescriptorMatrix(D);
    const p1 = blob(c1, 5, 0.3, rand);
    const p2 = blob(c2, 5, 0.3, rand);
    [...p1, ...p2].forEach((v, i) => matrix.upsert(i, v));
    matrix.upsert(50, hub);
    hubFriends.forEach((v, i) => matrix.upsert(60 + i, v));
    const k = 5;
    // Precondition: the places' photos do list the hub (one-way edges) above the threshold.
    const graph = matrix.allPairsAbove(0.5, k);
    const row = Array.from(graph.ids).indexOf(0);
    expect(Array.from(graph.neighbours.subarray(row * k, row * k + k))).toContain(50);

    const clusters = findPlaceClusters(matrix, { k, threshold: 0.5 });
    const placeOf = (m: number) => (m < 5 ? 'p1' : m < 10 ? 'p2' : 'hub');
    for (const c of clusters) expect(new Set(c.members.map(placeOf)).size).toBe(1);
    expect(clusters.map((c) => c.count).sort((a, b) => a - b)).toEqual([5, 5, 7]);
  });

  it('keeps only the mutual edges the verification hook accepts', () => {
    const rand = rng(13);
    const matrix = new DescriptorMatrix(D);
    blob(randomUnit(rand), 6, 0.3, rand).forEach((v, i) => matrix.upsert(i + 1, v));
    const seen = new Set<string>();
    const all = findPlaceClusters(matrix, { k: 5, threshold: 0.5, verifiedEdge: (a, b) => (seen.add(`${a}-${b}`), true) });
    expect(all.map((c) => c.count)).toEqual([6]);
    // Each mutual edge is checked once, lower id first.
    for (const e of seen) {
      const [a, b] = e.split('-').map(Number);
      expect(a).toBeLessThan(b);
      expect(seen.has(`${b}-${a}`)).toBe(false);
    }
    // Photo 6 fails verification with everyone: the place is the other five.
    const cut = findPlaceClusters(matrix, { k: 5, threshold: 0.5, verifiedEdge: (a, b) => a !== 6 && b !== 6 });
    expect(cut.map((c) => c.count)).toEqual([5]);
    expect(cut[0].members).not.toContain(6);
  });
});
