// Clusters of photos of one place (a landmark, a building, a room) from the k-nearest-neighbour
// graph. Only mutual edges count: i lists j among its k nearest AND j lists i. A one-way edge is
// what a "hub" photo produces (a generic view that is everyone's neighbour but whose own
// neighbours are elsewhere); keeping it chains unrelated places through the hub. Connected
// components of the mutual graph, at least `minSize` photos each, are the places.
import type { DescriptorMatrix, NeighbourGraph } from './descriptorMatrix.js';
import { connectedComponents } from './connectedComponents.js';
import { DEFAULT_THRESHOLDS } from './duplicateGroups.js';

export interface PlaceCluster {
  /** The member with the highest mean similarity to the other members. */
  representative: number;
  count: number;
  /** Photo ids, the representative first, then by similarity to it. */
  members: number[];
  /** The representative's mean similarity to the others. */
  cohesion: number;
}

export interface PlaceClusterOptions {
  /** Neighbours per photo (default 5). */
  k?: number;
  /** Edges below this similarity are ignored (default: the unwhitened similar threshold). */
  threshold?: number;
  /** Smaller components are not places (default 3). */
  minSize?: number;
  /** Filter on mutual edges, e.g. geometric verification; called once per mutual edge. */
  verifiedEdge?: (a: number, b: number) => boolean;
  /** Precomputed kNN graph (every row's k nearest above the threshold); default matrix.allPairsAbove. */
  graph?: NeighbourGraph;
}

/**
 * Same-place clusters, largest first. A place is a chain of mutual "same subject" neighbours, so
 * it may gather views that are not all pairwise similar, as places do; the price is that one
 * wrong mutual edge joins two places, which is what the verification hook is for.
 *
 * Defaults, for unwhitened descriptors of the default model: k = 5, threshold = the similar
 * tier's 0.979. Measured on the originals of Paris6k-mini (5 landmarks), scenes/ and near-dup/
 * (~300 photos): k = 5 gives 14 clusters whose most common label holds 75 % of their photos;
 * k = 10 chains 229 photos of all five landmarks into one component, because unwhitened scores
 * of different landmarks (median 0.966) sit close to those of one landmark (median 0.982). With
 * whitened descriptors pass the whitened similar threshold (0.35: 78 % at k = 5).
 */
export function findPlaceClusters(matrix: DescriptorMatrix, options: PlaceClusterOptions = {}): PlaceCluster[] {
  const k = options.k ?? 5;
  const threshold = options.threshold ?? DEFAULT_THRESHOLDS.similar;
  const minSize = options.minSize ?? 3;
  if (!Number.isInteger(minSize) || minSize < 1) throw new Error(`findPlaceClusters: minSize must be a positive integer, got ${minSize}`);
  const graph = options.graph ?? matrix.allPairsAbove(threshold, k);
  const n = graph.ids.length;
  const gk = graph.k;
  const rowOf = new Map<number, number>();
  for (let r = 0; r < n; r++) rowOf.set(graph.ids[r], r);

  const lists = (r: number, id: number): boolean => {
    for (let j = 0; j < graph.counts[r]; j++) if (graph.neighbours[r * gk + j] === id && graph.scores[r * gk + j] >= threshold) return true;
    return false;
  };

  const edges: Array<[number, number]> = [];
  for (let r = 0; r < n; r++) {
    const id = graph.ids[r];
    for (let j = 0; j < graph.counts[r]; j++) {
      const nb = graph.neighbours[r * gk + j];
      // Each mutual edge is seen from both ends: handle it once, from the lower id.
      if (nb <= id || graph.scores[r * gk + j] < threshold) continue;
      const r2 = rowOf.get(nb);
      if (r2 === undefined || !lists(r2, id)) continue;
      if (options.verifiedEdge && !options.verifiedEdge(id, nb)) continue;
      edges.push([r, r2]);
    }
  }

  const roots = connectedComponents(n, edges);
  const components = new Map<number, number[]>();
  for (let r = 0; r < n; r++) {
    const c = roots[r];
    const list = components.get(c);
    if (list) list.push(graph.ids[r]);
    else components.set(c, [graph.ids[r]]);
  }

  const clusters: PlaceCluster[] = [];
  for (const ids of components.values()) {
    if (ids.length < minSize || ids.length < 2) continue;
    clusters.push(describeCluster(matrix, ids));
  }
  return clusters.sort((a, b) => b.count - a.count || a.representative - b.representative);
}

/** Representative by mean similarity to the others, through the members' sum: O(m·dim), not O(m²·dim). */
function describeCluster(matrix: DescriptorMatrix, ids: number[]): PlaceCluster {
  const d = matrix.dim;
  const sum = new Float32Array(d);
  for (const id of ids) {
    const v = matrix.get(id)!;
    for (let t = 0; t < d; t++) sum[t] += v[t];
  }
  let best = ids[0];
  let bestMean = -Infinity;
  for (const id of ids) {
    const self = matrix.score(id, id)!;
    const mean = (matrix.scoreWith(id, sum)! - self) / (ids.length - 1);
    if (mean > bestMean || (mean === bestMean && id < best)) {
      best = id;
      bestMean = mean;
    }
  }
  const rest = ids.filter((id) => id !== best).map((id) => ({ id, s: matrix.score(id, best)! }));
  rest.sort((a, b) => b.s - a.s || a.id - b.id);
  return { representative: best, count: ids.length, members: [best, ...rest.map((r) => r.id)], cohesion: bestMean };
}
