// Connected components of an undirected graph over nodes 0…n−1, by union-find with path halving.
// Shared by place clusters (mutual-neighbour edges) and dataset cleaning (verified pairs).

/** Each node's component root: the smallest node of its component. */
export function connectedComponents(n: number, edges: ReadonlyArray<readonly [number, number]>): Int32Array {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (const [a, b] of edges) {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  return Int32Array.from({ length: n }, (_, i) => find(i));
}
