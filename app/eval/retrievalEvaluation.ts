// Runs every descriptor variant of the product (MAC, R-MAC, whitened R-MAC, + QE, + DBA,
// multi-resolution) over one image set and one set of queries, and reports mAP per variant.
// Whitening is fitted per fold, never on the fold whose queries are being evaluated.
import type { DescribeOptions, RawDescription } from '../engine/featureExtractor.js';
import type { PixelBox } from '../engine/imageInput.js';
import { aggregateMac, aggregateRmac, aggregateRmacMany, type ScaleDescription } from '../engine/rmacDescriptor.js';
import { fitWhiteningOnVectors, type Whitening } from '../engine/whitening.js';
import { averagePrecision, meanAveragePrecision } from './averagePrecision.js';
import { averageQueryExpansion, databaseSideAugmentation, rankByDotProduct } from './queryExpansion.js';

export interface RawDescriber {
  describe(source: string, options?: DescribeOptions): Promise<RawDescription>;
}

export interface EvalDatabaseImage {
  id: string;
  path: string;
  /** Whitening for a query is fitted on images of every fold but the query's. */
  fold: string;
}

export interface EvalQuerySpec {
  id: string;
  /** Path of the query photo. */
  image: string;
  /** Database id of the query photo, when it is one (its uncropped description is then reused). */
  imageId?: string;
  box?: PixelBox;
  fold: string;
  positives: ReadonlySet<string>;
  junk: ReadonlySet<string>;
}

export const METHODS = ['mac', 'rmac', 'rmac_pcaw', 'rmac_pcaw_qe', 'rmac_pcaw_dba', 'rmac_pcaw_multires'] as const;
export type Method = (typeof METHODS)[number];

export interface EvalSettings {
  longSide: number;
  /** Long sides summed for the multi-resolution variant. */
  multiResolution: number[];
  whiteningDim: number;
  whiteningEpsilon: number;
  qeK: number;
  dbaK: number;
  boxMode: 'crop' | 'context';
}

export const DEFAULT_EVAL_SETTINGS: EvalSettings = {
  longSide: 512,
  multiResolution: [362, 512, 724],
  whiteningDim: 512,
  whiteningEpsilon: 0.1,
  qeK: 5,
  dbaK: 5,
  boxMode: 'crop',
};

export interface EvalProgress {
  phase: 'describe' | 'whiten' | 'rank';
  done: number;
  total: number;
}

export interface EvalResult {
  /** mAP in percent per method. */
  mAP: Record<Method, number>;
  perQuery: Record<Method, Record<string, number>>;
  queries: number;
  databaseSize: number;
  /** Network + pooling time per image at the single long side, ms (decode excluded). */
  msPerImage: number;
  decodeMsPerImage: number;
  whitening: string;
}

type RawCache = Map<string, ScaleDescription>;

/**
 * Work shared between protocols over the same photos and folds: uncropped descriptions by image
 * path, and the whitening fitted for each fold.
 */
export interface EvalCache {
  descriptions: Map<string, Map<string, ScaleDescription>>;
  whitenings: Map<string, Whitening>;
}

export function newEvalCache(): EvalCache {
  return { descriptions: new Map(), whitenings: new Map() };
}

/** Region descriptions of a separate image set to fit whitening on, instead of the folds. */
/**
 * Whitening from outside the evaluated photos: fitted once on other photos (`images`), or one
 * given as is (`fixed`: e.g. the learned whitening a trained model ships with).
 */
export type ExternalWhiteningSet = { images: ScaleDescription[][]; label: string } | { fixed: Whitening; label: string };

export async function evaluateRetrieval(
  engine: RawDescriber,
  database: EvalDatabaseImage[],
  queries: EvalQuerySpec[],
  settings: EvalSettings = DEFAULT_EVAL_SETTINGS,
  onProgress: (p: EvalProgress) => void = () => {},
  shared: EvalCache = newEvalCache(),
  external?: ExternalWhiteningSet,
): Promise<EvalResult> {
  const scales = [...new Set([settings.longSide, ...settings.multiResolution])].sort((a, b) => a - b);
  const perImage = new Map<string, RawCache>();
  const queryRaw = new Map<string, RawCache>();
  let networkMs = 0;
  let decodeMs = 0;
  let timedImages = 0;
  const total = database.length + queries.filter((q) => q.box || !q.imageId).length;
  let done = 0;

  const describeAll = async (path: string, box?: PixelBox): Promise<RawCache> => {
    const known = box ? undefined : shared.descriptions.get(path);
    if (known && scales.every((s) => known.has(String(s)))) {
      onProgress({ phase: 'describe', done: ++done, total });
      return known;
    }
    const cache: RawCache = new Map();
    // The single-scale pass is timed on its own so the per-image cost is the one users get.
    const single = await engine.describe(path, { scales: [settings.longSide], box, boxMode: settings.boxMode });
    cache.set(String(settings.longSide), single.scales[0]);
    if (!box) {
      networkMs += single.timings.networkMs + single.timings.poolMs;
      decodeMs += single.timings.decodeMs;
      timedImages++;
    }
    const others = scales.filter((s) => s !== settings.longSide);
    if (others.length) {
      const rest = await engine.describe(path, { scales: others, box, boxMode: settings.boxMode });
      rest.scales.forEach((s, i) => cache.set(String(others[i]), s));
    }
    if (!box) shared.descriptions.set(path, cache);
    onProgress({ phase: 'describe', done: ++done, total });
    return cache;
  };

  await runLimited(database, 4, async (img) => perImage.set(img.id, await describeAll(img.path)));
  await runLimited(queries.filter((q) => q.box || !q.imageId), 4, async (q) => queryRaw.set(q.id, await describeAll(q.image, q.box)));
  const rawOfQuery = (q: EvalQuerySpec): RawCache => queryRaw.get(q.id) ?? perImage.get(q.imageId!)!;

  const folds = [...new Set(queries.map((q) => q.fold))].sort();
  // One whitening per fold, fitted on the regions of every scale in use, so the single-scale and
  // multi-resolution variants share it. An external training set replaces the folds entirely.
  const whiteningFor = async (fold: string): Promise<Whitening> => {
    const key = external ? 'external' : fold;
    let w = shared.whitenings.get(key);
    if (!w) {
      w = external
        ? 'fixed' in external ? external.fixed : await fitOnRegions(external.images, settings, external.label)
        : await fitOnRegions(database.filter((img) => img.fold !== fold).map((img) => scales.map((sc) => perImage.get(img.id)!.get(String(sc))!)), settings, `images outside fold ${fold}`);
      shared.whitenings.set(key, w);
    }
    return w;
  };

  const ids = database.map((d) => d.id);
  const perQuery = Object.fromEntries(METHODS.map((m) => [m, {} as Record<string, number>])) as Record<Method, Record<string, number>>;
  const ap = (q: EvalQuerySpec, ranking: Int32Array) => averagePrecision(Array.from(ranking, (i) => ids[i]), q.positives, q.junk);
  const singleOf = (raw: RawCache) => [raw.get(String(settings.longSide))!];
  const multiOf = (raw: RawCache) => settings.multiResolution.map((sc) => raw.get(String(sc))!);
  const dbRaw = database.map((img) => perImage.get(img.id)!);

  const macDb = stack(dbRaw.map((raw) => aggregateMac(singleOf(raw))));
  const rmacDb = stack(dbRaw.map((raw) => aggregateRmac(singleOf(raw))));
  let r = 0;
  let w = 0;
  for (const fold of folds) {
    onProgress({ phase: 'whiten', done: w++, total: folds.length });
    const whitening = await whiteningFor(fold);
    const pcawDb = stack(await aggregateRmacMany(dbRaw.map(singleOf), whitening));
    const multiDb = stack(await aggregateRmacMany(dbRaw.map(multiOf), whitening));
    const dbaDb = databaseSideAugmentation(pcawDb.data, pcawDb.n, pcawDb.d, settings.dbaK);
    const foldQueries = queries.filter((x) => x.fold === fold);
    const pcawQ = await aggregateRmacMany(foldQueries.map((q) => singleOf(rawOfQuery(q))), whitening);
    const multiQ = await aggregateRmacMany(foldQueries.map((q) => multiOf(rawOfQuery(q))), whitening);
    foldQueries.forEach((q, i) => {
      onProgress({ phase: 'rank', done: r++, total: queries.length });
      const single = singleOf(rawOfQuery(q));
      perQuery.mac[q.id] = ap(q, rankByDotProduct(aggregateMac(single), macDb.data, macDb.n, macDb.d));
      perQuery.rmac[q.id] = ap(q, rankByDotProduct(aggregateRmac(single), rmacDb.data, rmacDb.n, rmacDb.d));
      const pcaw = pcawQ[i];
      const ranking = rankByDotProduct(pcaw, pcawDb.data, pcawDb.n, pcawDb.d);
      perQuery.rmac_pcaw[q.id] = ap(q, ranking);
      const expanded = averageQueryExpansion(pcaw, pcawDb.data, pcawDb.d, ranking, settings.qeK);
      perQuery.rmac_pcaw_qe[q.id] = ap(q, rankByDotProduct(expanded, pcawDb.data, pcawDb.n, pcawDb.d));
      perQuery.rmac_pcaw_dba[q.id] = ap(q, rankByDotProduct(pcaw, dbaDb, pcawDb.n, pcawDb.d));
      perQuery.rmac_pcaw_multires[q.id] = ap(q, rankByDotProduct(multiQ[i], multiDb.data, multiDb.n, multiDb.d));
    });
  }

  const mAP = Object.fromEntries(METHODS.map((m) => [m, round1(100 * meanAveragePrecision(Object.values(perQuery[m])).mAP)])) as Record<Method, number>;
  return {
    mAP,
    perQuery,
    queries: queries.length,
    databaseSize: database.length,
    msPerImage: round1(networkMs / Math.max(1, timedImages)),
    decodeMsPerImage: round1(decodeMs / Math.max(1, timedImages)),
    whitening: external
      ? 'fixed' in external ? `whitening given: ${external.label}` : `PCA-whitening fitted once on ${external.label}, none of which is searched`
      : `PCA-whitening fitted leave-one-fold-out (${folds.length} folds: ${folds.join(', ')}), each on the region vectors of the other folds' images only, at ${scales.join('/')} px`,
  };
}

async function fitOnRegions(images: ScaleDescription[][], settings: EvalSettings, fittedOn: string): Promise<Whitening> {
  const vectors: Float32Array[] = [];
  for (const scales of images) for (const s of scales) for (const r of s.regions) vectors.push(r.vector);
  if (vectors.length < 2) throw new Error(`not enough images to fit whitening (${fittedOn})`);
  return fitWhiteningOnVectors(vectors, { dim: settings.whiteningDim, epsilon: settings.whiteningEpsilon, fittedOn });
}

function stack(rows: Float32Array[]): { data: Float32Array; n: number; d: number } {
  const d = rows[0].length;
  const data = new Float32Array(rows.length * d);
  rows.forEach((r, i) => data.set(r, i * d));
  return { data, n: rows.length, d };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Keeps `limit` promises in flight so every worker of the engine pool stays busy. */
export async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(runners);
}
