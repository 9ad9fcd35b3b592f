// Honest evaluation of learned parts: each query is ranked with descriptors from a model that
// was trained without its fold (leave-one-landmark-out on Paris6k-mini: trained on four landmark
// folders, evaluated on the fifth's queries, for every fold in turn). The database is all photos,
// as in `sightline eval`, whose PCA rows are fitted the same way. The learning and RPN benches
// share the steps: describe every photo once, fit PCA outside the fold, rank the fold's queries.
import path from 'node:path';
import { aggregateRmacMany, type ScaleDescription } from '../engine/rmacDescriptor.js';
import { fitWhiteningOnVectors, type Whitening } from '../engine/whitening.js';
import { averagePrecision, meanAveragePrecision } from '../eval/averagePrecision.js';
import type { EvalProtocol, EvalQuery } from '../eval/protocols.js';
import { rankByDotProduct } from '../eval/queryExpansion.js';
import { runLimited, type RawDescriber } from '../eval/retrievalEvaluation.js';

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

/** Raw (not whitened) region vectors of every photo the two Paris6k-mini protocols rank. */
export interface ProtocolPhotos {
  /** Database photo id → its scales, in the order described. */
  database: Map<string, ScaleDescription[]>;
  /** Protocol A query id → its description cropped to the query box, at `longSide`. */
  croppedQueries: Map<string, ScaleDescription>;
}

/** Protocol A's database (B shares it) at `scales`, and A's queries cropped to their boxes at `longSide`. */
export async function describeProtocolPhotos(engine: RawDescriber, protocols: Record<'A' | 'B', EvalProtocol>, scales: number[], longSide: number): Promise<ProtocolPhotos> {
  const database = new Map<string, ScaleDescription[]>();
  await runLimited(protocols.A.database, 4, async (img) => database.set(img.id, (await engine.describe(img.image, { scales })).scales));
  const croppedQueries = new Map<string, ScaleDescription>();
  await runLimited(protocols.A.queries, 4, async (q) => {
    const box = q.box!;
    const raw = await engine.describe(q.image, { scales: [longSide], box: { x: box.x1, y: box.y1, width: box.x2 - box.x1, height: box.y2 - box.y1 }, boxMode: 'crop' });
    croppedQueries.set(q.id, raw.scales[0]);
  });
  return { database, croppedQueries };
}

/** R-MAC at `longSide` of every database photo and query of a protocol under one whitening (or none). */
export async function protocolDescriptors(protocol: EvalProtocol, raw: ProtocolPhotos, whitening: Whitening | undefined, longSide: number): Promise<FoldDescriptors> {
  const at = (scales: ScaleDescription[]) => [scales.find((s) => s.longSide === longSide)!];
  const rows = await aggregateRmacMany(protocol.database.map((d) => at(raw.database.get(d.id)!)), whitening);
  const dim = rows[0].length;
  const database = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => database.set(r, i * dim));
  const byId = new Map(protocol.database.map((d, i) => [d.id, i]));
  const cropped = new Map<string, Float32Array>();
  for (const q of protocol.queries) {
    if (q.box) cropped.set(q.id, (await aggregateRmacMany([[raw.croppedQueries.get(q.id)!]], whitening))[0]);
  }
  return {
    database,
    dim,
    query: (q: EvalQuery) => cropped.get(q.id) ?? database.subarray(byId.get(q.id)! * dim, (byId.get(q.id)! + 1) * dim),
  };
}

/** PCA-whitening fitted on the regions (every described scale) of the database photos outside the fold. */
export async function pcaOutsideFold(raw: ProtocolPhotos, protocol: EvalProtocol, fold: string): Promise<Whitening> {
  const vectors = protocol.database.filter((d) => folderOf(d.image) !== fold).flatMap((d) => raw.database.get(d.id)!.flatMap((s) => s.regions.map((r) => r.vector)));
  return fitWhiteningOnVectors(vectors, { dim: 512, epsilon: 0.1, fittedOn: `photos outside ${fold}` });
}
