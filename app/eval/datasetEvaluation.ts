// The two datasets `sightline eval` knows: Paris6k-mini (protocols A and B) and any folder of
// groups. It maps each protocol to evaluateRetrieval with whitening folds that keep every
// query's own landmark (or group) out of the whitening it is ranked with.
import path from 'node:path';
import { loadParis6kMini, groupsProtocol, DISTRACTORS_FOLDER, type EvalProtocol } from './protocols.js';
import { evaluateRetrieval, type EvalProgress, type EvalSettings, type Method, type RawDescriber, type EvalDatabaseImage, type EvalQuerySpec, type ExternalWhiteningSet, newEvalCache, runLimited } from './retrievalEvaluation.js';
import type { ScaleDescription } from '../engine/rmacDescriptor.js';

export interface DatasetEvalReport {
  /** mAP in percent per method, per protocol (`A`, `B` or `groups`). */
  results: Record<string, Record<Method, number>>;
  descriptions: Record<string, string>;
  queries: Record<string, number>;
  database_size: number;
  ms_per_image: number;
  decode_ms_per_image: number;
  long_side: number;
  multires: number[];
  whitening: string;
}

/** Paris images are grouped by landmark folder: `images/<landmark>/paris_<landmark>_NNNNNN.jpg`. */
function parisFold(imagePath: string): string {
  return path.basename(path.dirname(imagePath));
}

function toSpecs(protocol: EvalProtocol, fold: (id: string, image: string) => string) {
  const database: EvalDatabaseImage[] = protocol.database.map((d) => ({ id: d.id, path: d.image, fold: fold(d.id, d.image) }));
  const ids = new Set(database.map((d) => d.id));
  const queries: EvalQuerySpec[] = protocol.queries.map((q) => {
    const imageId = protocol.database.find((d) => d.image === q.image)?.id;
    return {
      id: q.id,
      image: q.image,
      imageId: imageId && ids.has(imageId) ? imageId : undefined,
      box: q.box ? { x: q.box.x1, y: q.box.y1, width: q.box.x2 - q.box.x1, height: q.box.y2 - q.box.y1 } : undefined,
      fold: fold(imageId ?? q.id, q.image),
      positives: q.positives,
      junk: q.junk,
    };
  });
  return { database, queries };
}

/**
 * Describes every readable photo under `dir` at the scales an evaluation uses, to fit whitening
 * on a set that is never searched (Tolias et al. whiten on Paris for Oxford). Unreadable files
 * are skipped: a whitening set is a bag of regions, not a benchmark.
 */
export async function describeWhiteningSet(dirs: string, engine: RawDescriber, settings: EvalSettings): Promise<ExternalWhiteningSet> {
  const scales = [...new Set([settings.longSide, ...settings.multiResolution])];
  const images: ScaleDescription[][] = [];
  const database = (await Promise.all(dirs.split(',').map(async (dir) => (await groupsProtocol(dir)).database))).flat();
  await runLimited(database, 4, async (img) => {
    const raw = await engine.describe(img.image, { scales }).catch(() => undefined);
    if (raw) images.push(raw.scales);
  });
  if (images.length < 2) throw new Error(`${dirs}: fewer than two readable photos to fit whitening on`);
  return { images, label: `${images.length} photos under ${dirs.split(',').join(' and ')}` };
}

export async function evaluateParis6kMini(dataDir: string, engine: RawDescriber, settings: EvalSettings, onProgress?: (p: EvalProgress & { protocol: string }) => void, whitenOn?: string | ExternalWhiteningSet): Promise<DatasetEvalReport> {
  const report = emptyReport(settings);
  const shared = newEvalCache();
  const external = typeof whitenOn === 'string' ? await describeWhiteningSet(whitenOn, engine, settings) : whitenOn;
  for (const name of ['A', 'B'] as const) {
    const protocol = await loadParis6kMini(dataDir, name);
    const { database, queries } = toSpecs(protocol, (_id, image) => parisFold(image));
    const r = await evaluateRetrieval(engine, database, queries, settings, (p) => onProgress?.({ ...p, protocol: name }), shared, external);
    addResult(report, name, protocol.name, r);
  }
  return report;
}

/** With many groups, whitening is fitted on 5 folds of groups rather than once per group. */
const GROUP_FOLDS = 5;

export async function evaluateGroupsFolder(dir: string, engine: RawDescriber, settings: EvalSettings, onProgress?: (p: EvalProgress & { protocol: string }) => void, whitenOn?: string | ExternalWhiteningSet): Promise<DatasetEvalReport> {
  const protocol = await groupsProtocol(dir);
  if (protocol.queries.length === 0) throw new Error(`${dir}: no group folder holds two or more photos, so there is nothing to query`);
  const groups = [...new Set(protocol.queries.map((q) => q.id.split('/')[0]))].sort();
  const foldOfGroup = new Map(groups.map((g, i) => [g, groups.length > GROUP_FOLDS ? `fold${i % GROUP_FOLDS}` : g]));
  const { database, queries } = toSpecs(protocol, (id) => {
    const group = id.includes('/') ? id.split('/')[0] : DISTRACTORS_FOLDER;
    return foldOfGroup.get(group) ?? DISTRACTORS_FOLDER;
  });
  const report = emptyReport(settings);
  const external = typeof whitenOn === 'string' ? await describeWhiteningSet(whitenOn, engine, settings) : whitenOn;
  addResult(report, 'groups', protocol.name, await evaluateRetrieval(engine, database, queries, settings, (p) => onProgress?.({ ...p, protocol: 'groups' }), newEvalCache(), external));
  return report;
}

function emptyReport(settings: EvalSettings): DatasetEvalReport {
  return { results: {}, descriptions: {}, queries: {}, database_size: 0, ms_per_image: 0, decode_ms_per_image: 0, long_side: settings.longSide, multires: settings.multiResolution, whitening: '' };
}

function addResult(report: DatasetEvalReport, key: string, description: string, r: Awaited<ReturnType<typeof evaluateRetrieval>>): void {
  report.results[key] = r.mAP;
  report.descriptions[key] = description;
  report.queries[key] = r.queries;
  report.database_size = r.databaseSize;
  // The first protocol's timing is kept: later ones reuse nothing, so they would time the same work.
  if (!report.ms_per_image) {
    report.ms_per_image = r.msPerImage;
    report.decode_ms_per_image = r.decodeMsPerImage;
  }
  report.whitening = r.whitening;
}
