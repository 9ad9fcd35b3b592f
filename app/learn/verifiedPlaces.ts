// The training material of "Learn from my library": the cleaning step (DESIGN.md §1.5) run over
// the library's own place clusters. Inside each cluster every photo's nearest members are checked
// with local features and a fitted transform, and each connected group of verified photos is one
// place. A cluster can chain two places through a look-alike; verification splits it again, so a
// place here is photos that verifiably show the same thing, not photos the current descriptors
// merely find alike.
import { shortlistPairs } from '../match/datasetCleaning.js';
import { connectedComponents } from '../search/connectedComponents.js';
import { pairKey } from '../library/library.js';

export interface VerifiedPlace {
  /** Photo ids, ascending. */
  photos: number[];
  /** The verified pairs that join them (each [lower id, higher id]). */
  pairs: Array<[number, number]>;
}

export interface PlaceMiningOptions {
  /** Candidates per photo inside its cluster, by global descriptor (the cleaning step's shortlist). */
  shortlist: number;
  /**
   * Members taken from one cluster (those closest to its representative). Unwhitened descriptors
   * chain several places into one cluster (35 of 50 Paris photos of five landmarks), which
   * verification splits again, so the cap is generous; it only keeps one vast cluster from being
   * all the material.
   */
  maxPhotosPerCluster: number;
  /** Photos in all: verification costs ~0.1–1 s a pair on a laptop, and each photo adds `shortlist` pairs. */
  maxPhotos: number;
}

export const DEFAULT_PLACE_MINING: PlaceMiningOptions = { shortlist: 5, maxPhotosPerCluster: 200, maxPhotos: 600 };

/**
 * The clusters' members worth verifying: largest clusters first, each capped at its
 * `maxPhotosPerCluster` members closest to its representative (members come in that order),
 * until `maxPhotos` are taken.
 */
export function clustersToVerify(clusters: ReadonlyArray<readonly number[]>, options: Pick<PlaceMiningOptions, 'maxPhotosPerCluster' | 'maxPhotos'>): number[][] {
  const taken: number[][] = [];
  let total = 0;
  for (const members of [...clusters].sort((a, b) => b.length - a.length)) {
    const room = Math.min(options.maxPhotosPerCluster, options.maxPhotos - total);
    if (room < 2) break;
    const part = members.slice(0, room);
    taken.push(part);
    total += part.length;
  }
  return taken;
}

/** Each photo's `shortlist` most similar members of its own cluster, as pairs of photo ids. */
export function candidatePairs(clusters: ReadonlyArray<readonly number[]>, vectorOf: (photoId: number) => Float32Array | undefined, shortlist: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  for (const members of clusters) {
    for (const [i, j] of shortlistPairs(members.map(vectorOf), shortlist)) {
      const a = members[i];
      const b = members[j];
      pairs.push(a < b ? [a, b] : [b, a]);
    }
  }
  return pairs;
}

/**
 * Places from the verified pairs: the connected components of the verified-pair graph with at
 * least `minPhotos` photos, largest first. `verified` holds pairKey()s; pairs never checked are
 * not edges, so a photo with no verified pair is in no place.
 */
export function placesFromVerifiedPairs(candidates: ReadonlyArray<readonly [number, number]>, verified: ReadonlySet<string>, minPhotos = 2): VerifiedPlace[] {
  const edges = candidates.filter(([a, b]) => verified.has(pairKey(a, b)));
  const ids = [...new Set(edges.flat())].sort((a, b) => a - b);
  const index = new Map(ids.map((id, i) => [id, i]));
  const roots = connectedComponents(ids.length, edges.map(([a, b]) => [index.get(a)!, index.get(b)!] as const));
  const byRoot = new Map<number, VerifiedPlace>();
  ids.forEach((id, i) => {
    const place = byRoot.get(roots[i]) ?? { photos: [], pairs: [] };
    place.photos.push(id);
    byRoot.set(roots[i], place);
  });
  for (const [a, b] of edges) byRoot.get(roots[index.get(a)!])!.pairs.push(a < b ? [a, b] : [b, a]);
  return [...byRoot.values()]
    .filter((p) => p.photos.length >= minPhotos)
    .sort((p, q) => q.photos.length - p.photos.length || p.photos[0] - q.photos[0]);
}
