// Honest evaluation of learned parts: each query is ranked with descriptors from a model that
// was trained without its fold (leave-one-landmark-out on Paris6k-mini: trained on four landmark
// folders, evaluated on the fifth's queries, for every fold in turn). The database is all photos,
// as in `sightline eval`, whose PCA rows are fitted the same way.
import path from 'node:path';
import { averagePrecision, meanAveragePrecision } from '../eval/averagePrecision.js';
import type { EvalProtocol, EvalQuery } from '../eval/protocols.js';
import { rankByDotProduct } from '../eval/queryExpansion.js';

export interface FoldDescriptors {
  /** Row-major, one row per protocol.database entry, in its order. */
  database: Float32Array;
  dim: number;
  /** The query's descriptor (a cropped query is not a database photo). */
  query(q: EvalQuery): Float32Array;
}

/** Paris6k-mini's folds are the landmark folders: `images/<folder>/<photo>.jpg`. */
export function folderOf(imagePath: string): string {
  return path.basename(path.dirname(imagePath));
}

export interface FoldResult {
  /** mAP in percent, one decimal. */
  mAP: number;
  perQuery: Record<string, number>;
  /** Queries per fold. */
  queriesPerFold: Record<string, number>;
}

/** Ranks every query with the descriptors of its own fold and averages AP over all queries. */
export async function meanAPByFold(protocol: EvalProtocol, descriptorsFor: (fold: string) => Promise<FoldDescriptors>, foldOf: (q: EvalQuery) => string = (q) => folderOf(q.image)): Promise<FoldResult> {
  const byFold = new Map<string, EvalQuery[]>();
  for (const q of protocol.queries) byFold.set(foldOf(q), [...(byFold.get(foldOf(q)) ?? []), q]);
  const ids = protocol.database.map((d) => d.id);
  const perQuery: Record<string, number> = {};
  const queriesPerFold: Record<string, number> = {};
  for (const [fold, queries] of [...byFold].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const d = await descriptorsFor(fold);
    const n = d.database.length / d.dim;
    if (n !== ids.length) throw new Error(`fold ${fold}: ${n} database descriptors for ${ids.length} photos`);
    for (const q of queries) {
      const ranking = rankByDotProduct(d.query(q), d.database, n, d.dim);
      perQuery[q.id] = averagePrecision(Array.from(ranking, (i) => ids[i]), q.positives, q.junk);
    }
    queriesPerFold[fold] = queries.length;
  }
  return { mAP: Math.round(1000 * meanAveragePrecision(Object.values(perQuery)).mAP) / 10, perQuery, queriesPerFold };
}
