// Mining the training material: candidate pairs inside each place cluster, and places as the
// connected groups of the pairs that verified.
import { describe, expect, it } from 'vitest';
import { pairKey } from '../../app/library/library.js';
import { candidatePairs, clustersToVerify, placesFromVerifiedPairs } from '../../app/learn/verifiedPlaces.js';

describe('verified places from place clusters', () => {
  it('pairs each photo with its most similar members of its own cluster only', () => {
    const vectors = new Map<number, Float32Array>([
      [1, Float32Array.of(1, 0)], [2, Float32Array.of(0.9, 0.44)], [3, Float32Array.of(0, 1)],
      [7, Float32Array.of(1, 0)], [8, Float32Array.of(0.99, 0.14)],
    ]);
    const pairs = candidatePairs([[1, 2, 3], [8, 7]], (id) => vectors.get(id), 1);
    expect(pairs.sort()).toEqual([[1, 2], [2, 3], [7, 8]]);
  });

  it('splits a cluster into the groups its verified pairs connect, and drops lone photos', () => {
    const candidates: Array<[number, number]> = [[1, 2], [2, 3], [3, 4], [4, 5], [6, 7], [8, 9]];
    const verified = new Set([pairKey(1, 2), pairKey(2, 3), pairKey(4, 5), pairKey(8, 9)]);
    const places = placesFromVerifiedPairs(candidates, verified);
    expect(places).toEqual([
      { photos: [1, 2, 3], pairs: [[1, 2], [2, 3]] },
      { photos: [4, 5], pairs: [[4, 5]] },
      { photos: [8, 9], pairs: [[8, 9]] },
    ]);
    expect(placesFromVerifiedPairs(candidates, verified, 3)).toHaveLength(1);
  });

  it('takes the largest clusters first, within the caps', () => {
    const clusters = [[1, 2, 3], [10, 11, 12, 13, 14, 15], [20, 21]];
    expect(clustersToVerify(clusters, { maxPhotosPerCluster: 4, maxPhotos: 100 })).toEqual([[10, 11, 12, 13], [1, 2, 3], [20, 21]]);
    expect(clustersToVerify(clusters, { maxPhotosPerCluster: 100, maxPhotos: 8 })).toEqual([[10, 11, 12, 13, 14, 15], [1, 2]]);
  });
});
