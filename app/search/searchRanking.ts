// Ranking a query against the library matrix, with the two re-ranking options of DESIGN.md §1.6:
// average query expansion and database-side augmentation. The arithmetic is the evaluation
// module's, so what the product ranks is exactly what the benchmark measured.
import { averageQueryExpansion, databaseSideAugmentation } from '../eval/queryExpansion.js';
import { DescriptorMatrix, type ScoredId } from './descriptorMatrix.js';

export interface RankOptions {
  /** How many results to return. */
  k: number;
  /** Average query expansion over this many top results of a first search; 0 or absent = off. */
  qe?: number;
  /**
   * Database-side augmentation. A number is its k, and the augmented matrix is computed here:
   * O(n²·dim), fine for an evaluation set, far too slow per query for a library. A library keeps
   * the result of augmentDatabase() (recomputed when photos change) and passes it instead.
   */
  dba?: number | DescriptorMatrix;
  /** Photo ids never returned nor used for expansion (e.g. the query photo itself). */
  exclude?: ReadonlySet<number>;
  /** Only final results scoring ≥ this are returned. */
  minScore?: number;
}

/**
 * The matrix with every row replaced by its database-side augmented version (same ids, same
 * order); `k` as in databaseSideAugmentation (k = 1 leaves it unchanged).
 */
export function augmentDatabase(matrix: DescriptorMatrix, k: number): DescriptorMatrix {
  const augmented = databaseSideAugmentation(matrix.rows(), matrix.size, matrix.dim, k);
  return DescriptorMatrix.from(matrix.ids(), augmented, matrix.dim);
}

/**
 * The average-QE query: `query` averaged with the descriptors of its top `n` results in `db`,
 * re-normalised. Returns the query unchanged (a copy) when n is 0 or nothing is found.
 */
export function expandQuery(db: DescriptorMatrix, query: Float32Array, n: number, exclude?: ReadonlySet<number>): Float32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`expandQuery: qe must be a non-negative integer, got ${n}`);
  if (n === 0) return Float32Array.from(query);
  const top = db.topK(query, n, { exclude });
  const rows = top.map((r) => db.rowOf(r.id)!);
  return averageQueryExpansion(query, db.rows(), db.dim, rows, n);
}

/** The library ranked for `query`, best first, after the requested expansion/augmentation. */
export function rankWithExpansion(matrix: DescriptorMatrix, query: Float32Array, options: RankOptions): ScoredId[] {
  const { k, qe = 0, dba, exclude, minScore } = options;
  if (query.length !== matrix.dim) throw new Error(`rankWithExpansion: query has ${query.length} dimensions, expected ${matrix.dim}`);
  let db = matrix;
  if (typeof dba === 'number') db = augmentDatabase(matrix, dba);
  else if (dba) {
    // A stale augmented copy would silently rank photos that were removed or miss new ones.
    if (dba.dim !== matrix.dim || dba.size !== matrix.size) {
      throw new Error(`rankWithExpansion: the augmented matrix (${dba.size} × ${dba.dim}) does not match the library (${matrix.size} × ${matrix.dim})`);
    }
    db = dba;
  }
  // With DBA the expansion averages augmented vectors, as in Gordo et al.'s QE + DBA results.
  const q = qe > 0 ? expandQuery(db, query, qe, exclude) : query;
  return db.topK(q, k, { exclude, minScore });
}
