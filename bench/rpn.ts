// `node --import tsx bench/rpn.ts`: the learned region proposals (DESIGN.md §1.4) against the
// rigid R-MAC grid, as the paper's figure 3: recall of the clean box at IoU 0.5 / 0.7 by the
// top-K proposals vs the grid, on photos never trained on. Leave-one-landmark-out on
// Paris6k-mini: for each landmark, the RPN head trains on the other four landmarks' clean boxes
// and is scored on that landmark's; figures are over all held-out photos of all folds.
// Then what the proposals do to retrieval: each fold's head is registered as an RPN model, the
// engine describes all of Paris6k-mini with it, and the held-out landmark's queries (protocols A
// and B) are ranked with R-MAC pooled over its top-20 proposals vs over the grid, unwhitened and
// with PCA-whitening fitted on the other landmarks, as bench/learning.ts evaluates (foldEvaluation).
// Ground truth = the boxes `npm run bench:clean` wrote (bench/.cache/cleaning/paris6k-mini.json),
// or --clean <file>. --no-map skips the retrieval part. Writes its section of bench/results.md
// between the rpn markers.
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EnginePool } from '../app/engine/enginePool.js';
import { ModelRegistry, type RegisteredModel } from '../app/engine/modelRegistry.js';
import { resolveModel } from '../app/engine/modelResolver.js';
import type { Whitening } from '../app/engine/whitening.js';
import { loadParis6kMini, type EvalProtocol } from '../app/eval/protocols.js';
import { describeProtocolPhotos, folderOf, meanAPByFold, pcaOutsideFold, protocolDescriptors, type FoldDescriptors, type ProtocolPhotos } from '../app/train/foldEvaluation.js';
import { DEFAULT_PROPOSAL_OPTIONS } from '../app/engine/rpnAnchors.js';
import { evaluateProposalRecall, type RecallReport } from '../app/train/rpnEvaluation.js';
import { exportRpnHeadOnnx } from '../app/train/rpnExport.js';
import { registerRpnModel } from '../app/train/rpnModelExport.js';
import { DEFAULT_RPN_TRAINING, extractFeatureMaps, readCleanBoxes, trainRpnHead, type RpnTrainingHistory } from '../app/train/rpnTraining.js';
import { selectTrainingBackend } from '../app/train/trainingBackend.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const paris = path.resolve(root, '..', 'shared', 'data', 'paris6k-mini');
const log = (line: string) => process.stderr.write(`[bench:rpn] ${line}\n`);
const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const KS = [1, 5, 10, 20, 50, 100];
const THRESHOLDS = [0.5, 0.7];
const LONG_SIDE = 512;
/** As bench/learning.ts: PCA is fitted on regions at these scales, descriptors are at LONG_SIDE. */
const PCA_SCALES = [362, 512, 724];
const PROTOCOLS = ['A', 'B'] as const;
type Protocols = Record<'A' | 'B', EvalProtocol>;

/** One pooling's descriptors for one fold, unwhitened and PCA-whitened outside the fold. */
type FoldVariant = Record<'none' | 'pca', Record<'A' | 'B', FoldDescriptors>>;
type FoldVariants = Map<string, FoldVariant>;

/** Photos (database or cropped query) where some scale fell back to the grid. */
function fallbacks(raw: ProtocolPhotos): number {
  const described = [...raw.database.values(), ...[...raw.croppedQueries.values()].map((s) => [s])];
  return described.filter((scales) => scales.some((s) => s.regionSource === 'grid-fallback')).length;
}

async function variantsFor(raw: ProtocolPhotos, protocols: Protocols, fold: string): Promise<FoldVariant> {
  const pca: Whitening = await pcaOutsideFold(raw, protocols.A, fold);
  const at = async (w: Whitening | undefined) => ({ A: await protocolDescriptors(protocols.A, raw, w, LONG_SIDE), B: await protocolDescriptors(protocols.B, raw, w, LONG_SIDE) });
  return { none: await at(undefined), pca: await at(pca) };
}

async function describeAll(model: RegisteredModel, protocols: Protocols): Promise<{ raw: ProtocolPhotos; seconds: number }> {
  const pool = new EnginePool(model);
  const t = performance.now();
  try {
    return { raw: await describeProtocolPhotos(pool, protocols, PCA_SCALES, LONG_SIDE), seconds: (performance.now() - t) / 1000 };
  } finally {
    await pool.close();
  }
}

interface MapRow {
  pooling: 'grid' | 'rpn';
  whitening: 'none' | 'pca';
  A: number;
  B: number;
  /** Per held-out landmark: mAP over its queries, per protocol. */
  perFold: Record<string, { A: number; B: number }>;
}

/** mAP over the queries of the evaluated folds, and per fold (foldEvaluation's per-query APs). */
async function mapRows(protocols: Protocols, folds: string[], grid: FoldVariants, rpn: FoldVariants): Promise<{ rows: MapRow[]; queries: Record<string, { A: number; B: number }> }> {
  const only = (p: EvalProtocol): EvalProtocol => ({ ...p, queries: p.queries.filter((q) => folds.includes(folderOf(q.image))) });
  const rows: MapRow[] = [];
  const queries: Record<string, { A: number; B: number }> = {};
  for (const whitening of ['none', 'pca'] as const) {
    for (const [pooling, variants] of [['grid', grid], ['rpn', rpn]] as const) {
      const row: MapRow = { pooling, whitening, A: 0, B: 0, perFold: {} };
      for (const p of PROTOCOLS) {
        const protocol = only(protocols[p]);
        const result = await meanAPByFold(protocol, async (fold) => variants.get(fold)![whitening][p]);
        row[p] = result.mAP;
        for (const fold of folds) {
          const aps = protocol.queries.filter((q) => folderOf(q.image) === fold).map((q) => result.perQuery[q.id]);
          (row.perFold[fold] ??= { A: NaN, B: NaN })[p] = aps.length ? Math.round(1000 * aps.reduce((a, b) => a + b, 0) / aps.length) / 10 : NaN;
          (queries[fold] ??= { A: 0, B: 0 })[p] = aps.length;
        }
      }
      rows.push(row);
    }
  }
  return { rows, queries };
}

async function writeSection(section: string): Promise<void> {
  const file = path.join(root, 'bench', 'results.md');
  const current = await fs.readFile(file, 'utf8').catch(() => '# Sightline benchmark results\n');
  const start = current.indexOf('<!-- rpn:start');
  const end = current.indexOf('<!-- rpn:end -->');
  const next = start >= 0 && end > start
    ? `${current.slice(0, start)}${section}${current.slice(end + '<!-- rpn:end -->'.length)}`
    : `${current.trimEnd()}\n\n${section}\n`;
  await fs.writeFile(file, next);
}

/** Sums per-fold reports into one over all held-out photos (recall weighted by photos). */
function pool(reports: RecallReport[]): RecallReport {
  const photos = reports.reduce((n, r) => n + r.photos, 0);
  const rows = reports[0].rows.map((row, i) => {
    const weighted = (pick: (r: RecallReport) => number) => reports.reduce((s, r) => s + pick(r) * r.photos, 0) / photos;
    return {
      method: row.method,
      k: weighted((r) => r.rows[i].k),
      recall: row.recall.map((_, t) => weighted((r) => r.rows[i].recall[t])),
      meanBestIou: weighted((r) => r.rows[i].meanBestIou),
    };
  });
  return { thresholds: reports[0].thresholds, photos, rows };
}

function mapSection(retrieval: { rows: MapRow[]; queries: Record<string, { A: number; B: number }> }, folds: string[], facts: { describeSeconds: number[]; fallbackCounts: Record<string, number>; topK: number; nmsIou: number; grid: number; croppedQueries: number }): string[] {
  const label = (r: MapRow) => `${r.pooling === 'grid' ? `rigid grid (R-MAC, L = 3, ${facts.grid.toFixed(1)} regions)` : `RPN top-${facts.topK} (the fold's head)`}, ${r.whitening === 'none' ? 'no whitening' : 'PCA-whitened (fitted on the training landmarks)'}`;
  const row = (pooling: MapRow['pooling'], whitening: MapRow['whitening']) => retrieval.rows.find((r) => r.pooling === pooling && r.whitening === whitening)!;
  const arrow = (fold: string, whitening: MapRow['whitening'], p: 'A' | 'B') => `${row('grid', whitening).perFold[fold][p].toFixed(1)} → ${row('rpn', whitening).perFold[fold][p].toFixed(1)}`;
  const totalFallbacks = Object.values(facts.fallbackCounts).reduce((a, b) => a + b, 0);
  const queries = (p: 'A' | 'B') => folds.reduce((n, f) => n + retrieval.queries[f][p], 0);
  const perLandmark = folds.map((f) => retrieval.queries[f].A);
  const spread = Math.min(...perLandmark) === Math.max(...perLandmark) ? `${perLandmark[0]}` : `${Math.min(...perLandmark)}–${Math.max(...perLandmark)}`;
  return [
    '### mAP before/after RPN pooling',
    '',
    `Each fold's head (the one scored above) registered with the backbone as an RPN model (top ${facts.topK}, NMS IoU ${facts.nmsIou}) and run by the engine over all 250 Paris6k-mini photos; the held-out landmark's queries rank all of them (protocol A: ${queries('A')} queries cropped to their box; B: ${queries('B')}, every positive as an uncropped query), as bench/learning.ts does. Long side ${LONG_SIDE}, single resolution, no QE/DBA; PCA-whitening (512-d) fitted on the regions, at ${PCA_SCALES.join('/')} px, of the photos outside the fold, each pooling on its own regions (the grid rows are the learning table's R-MAC and PCA rows, evaluated the same way, here with the backbone above). Photos where the head proposed nothing and the grid was pooled instead: ${totalFallbacks} over all folds.`,
    '',
    '| pooling, whitening | A | B |',
    '|---|---:|---:|',
    ...retrieval.rows.map((r) => `| ${label(r)} | ${r.A.toFixed(1)} | ${r.B.toFixed(1)} |`),
    '',
    'Per held-out landmark, grid → RPN top-20 (mAP over that landmark\'s queries):',
    '',
    '| held out | queries A / B | A, no whitening | B, no whitening | A, PCA | B, PCA |',
    '|---|---:|---:|---:|---:|---:|',
    ...folds.map((f) => `| ${f} | ${retrieval.queries[f].A} / ${retrieval.queries[f].B} | ${arrow(f, 'none', 'A')} | ${arrow(f, 'none', 'B')} | ${arrow(f, 'pca', 'A')} | ${arrow(f, 'pca', 'B')} |`),
    '',
    `Describing the 250 photos and ${facts.croppedQueries} cropped queries at ${PCA_SCALES.length} scales: ${facts.describeSeconds[0].toFixed(0)} s with the grid, ${(facts.describeSeconds.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, facts.describeSeconds.length - 1)).toFixed(0)} s per fold with the head. Protocol A has ${spread} queries per landmark: its per-landmark figures move by tens of points with one query.`,
    '',
  ];
}

async function main() {
  const started = performance.now();
  const backend = await selectTrainingBackend();
  log(backend.summary);
  const cleanFile = path.resolve(argValue('--clean') ?? path.join(root, 'bench', '.cache', 'cleaning', 'paris6k-mini.json'));
  const epochs = Number(argValue('--epochs') ?? DEFAULT_RPN_TRAINING.epochs);
  const boxes = await readCleanBoxes(cleanFile).catch((e: Error) => {
    throw new Error(`${e.message}\nRun \`npm run bench:clean\` first (it writes ${cleanFile}), or pass --clean <sightline clean report>.`);
  });
  const folds = (argValue('--folds') ?? [...new Set(boxes.map((b) => b.class))].join(',')).split(',');
  const model = await resolveModel();
  log(`${boxes.length} photos with a clean box; backbone ${model.meta.name} (${model.meta.id}); folds ${folds.join(', ')}`);

  let t = performance.now();
  const photos = await extractFeatureMaps(model, boxes, { longSide: LONG_SIDE, threads: 2 });
  const extractSeconds = (performance.now() - t) / 1000;
  log(`feature maps in ${extractSeconds.toFixed(1)} s`);

  const withMap = !process.argv.includes('--no-map');
  const protocols: Protocols = { A: await loadParis6kMini(paris, 'A'), B: await loadParis6kMini(paris, 'B') };
  const gridVariants: FoldVariants = new Map();
  const rpnVariants: FoldVariants = new Map();
  const describeSeconds: number[] = [];
  const fallbackCounts: Record<string, number> = {};
  // The folds' RPN models live only as long as the bench.
  const registryDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-bench-rpn-'));
  const registry = new ModelRegistry({ builtin: path.join(registryDir, 'builtin'), user: path.join(registryDir, 'user') });
  // On exit, failed or not; only a synchronous removal runs there.
  process.once('exit', () => rmSync(registryDir, { recursive: true, force: true }));
  if (withMap) {
    const grid = await describeAll(model, protocols);
    describeSeconds.push(grid.seconds);
    for (const fold of folds) gridVariants.set(fold, await variantsFor(grid.raw, protocols, fold));
    log(`grid: described ${grid.raw.database.size} photos at ${PCA_SCALES.join('/')} px in ${grid.seconds.toFixed(0)} s`);
  }

  const reports: RecallReport[] = [];
  const histories: Array<{ fold: string; train: number; test: number; history: RpnTrainingHistory }> = [];
  for (const fold of folds) {
    const train = photos.filter((p) => p.class !== fold);
    const test = photos.filter((p) => p.class === fold);
    t = performance.now();
    const { head, history } = await trainRpnHead(train, { epochs }, {
      onProgress: (p) => { if (p.step === p.steps) log(`${fold}: epoch ${p.epoch}/${p.epochs}, last loss ${p.loss.toFixed(4)}`); },
    });
    const report = await evaluateProposalRecall(head, test, DEFAULT_RPN_TRAINING.anchors, KS, THRESHOLDS);
    if (withMap) {
      // The fold's head as the product would run it: registered with the backbone, pooled by the engine.
      const registered = await registerRpnModel({ registry, base: model, head: await exportRpnHeadOnnx(head), anchors: DEFAULT_RPN_TRAINING.anchors, name: `bench-rpn-without-${fold}` });
      const described = await describeAll(registered, protocols);
      describeSeconds.push(described.seconds);
      fallbackCounts[fold] = fallbacks(described.raw);
      rpnVariants.set(fold, await variantsFor(described.raw, protocols, fold));
      log(`${fold}: described Paris6k-mini with its RPN model ${registered.meta.id} in ${described.seconds.toFixed(0)} s (${fallbackCounts[fold]} photos fell back to the grid)`);
    }
    head.dispose();
    reports.push(report);
    histories.push({ fold, train: train.length, test: test.length, history });
    const grid = report.rows[0];
    const k20 = report.rows.find((r) => r.method === 'rpn' && r.k === 20)!;
    log(`${fold}: trained on ${train.length} in ${history.seconds.toFixed(1)} s; held-out ${test.length}: grid ${grid.recall.map((v) => (100 * v).toFixed(0)).join('/')}, RPN@20 ${k20.recall.map((v) => (100 * v).toFixed(0)).join('/')} (${((performance.now() - t) / 1000).toFixed(0)} s)`);
  }
  const retrieval = withMap ? await mapRows(protocols, folds, gridVariants, rpnVariants) : undefined;
  const all = pool(reports);
  const pct = (v: number) => (100 * v).toFixed(1);
  const trainSeconds = histories.map((h) => h.history.seconds);
  const stepsPerSecond = histories.reduce((s, h) => s + h.history.steps, 0) / trainSeconds.reduce((a, b) => a + b, 0);
  const lines = [
    '<!-- rpn:start (written by bench/rpn.ts) -->',
    '## Region proposals (RPN) vs the rigid grid',
    '',
    `Measured by \`node --import tsx bench/rpn.ts\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, TF.js backend ${backend.name} (${backend.package}${backend.skipped.length ? `; not loadable here: ${backend.skipped.map((b) => b.package).join(', ')}` : ''}). Shared machine (other jobs running): times are pessimistic.`,
    '',
    `Ground truth: the box \`sightline clean\` gives each photo it kept (${path.relative(root, cleanFile)}: ${boxes.length} photos with a box). Frozen backbone ${model.meta.name} at long side ${LONG_SIDE} (stride ${model.meta.stride}); the head (3×3 conv to ${DEFAULT_RPN_TRAINING.hidden} channels + ReLU, the conv factored through a linear 1×1 reduction to ${DEFAULT_RPN_TRAINING.reduced} channels so it trains on a CPU; 1×1 objectness and box deltas over ${DEFAULT_RPN_TRAINING.anchors.sizes.length} sizes (${DEFAULT_RPN_TRAINING.anchors.sizes.join('/')} px) × ${DEFAULT_RPN_TRAINING.anchors.ratios.length} ratios (${DEFAULT_RPN_TRAINING.anchors.ratios.join('/')})) trains ${epochs} epochs, one photo and 256 sampled anchors per step, IoU ≥ 0.7 positive / < 0.3 negative, BCE + smooth-L1, Adam ${DEFAULT_RPN_TRAINING.learningRate}. Proposals: NMS at IoU 0.7, top K.`,
    '',
    `**Never trained on the photos it is scored on**: leave one landmark out; each fold trains on the other landmarks and scores its own. ${all.photos} held-out photos over ${folds.length} folds. Recall = photos whose clean box some region covers with IoU ≥ t. The grid is R-MAC's L = 3 regions on the same feature map (${all.rows[0].k.toFixed(1)} regions per photo on average).`,
    '',
    '| regions | K | recall @ IoU 0.5 | recall @ IoU 0.7 | mean best IoU |',
    '|---|---:|---:|---:|---:|',
    ...all.rows.map((r) => `| ${r.method === 'grid' ? 'rigid grid (R-MAC, L = 3)' : 'RPN top-K'} | ${r.method === 'grid' ? r.k.toFixed(1) : r.k} | ${pct(r.recall[0])} % | ${pct(r.recall[1])} % | ${r.meanBestIou.toFixed(3)} |`),
    '',
    'Per held-out landmark, grid vs RPN top-20 (recall @ 0.5 / @ 0.7, %):',
    '',
    '| held out | train photos | test photos | grid | RPN top-20 | training time |',
    '|---|---:|---:|---:|---:|---:|',
    ...reports.map((r, i) => {
      const h = histories[i];
      const k20 = r.rows.find((row) => row.method === 'rpn' && row.k === 20)!;
      return `| ${h.fold} | ${h.train} | ${h.test} | ${r.rows[0].recall.map(pct).join(' / ')} | ${k20.recall.map(pct).join(' / ')} | ${h.history.seconds.toFixed(1)} s |`;
    }),
    '',
    `Cost on this CPU: backbone feature maps for ${boxes.length} photos once, ${extractSeconds.toFixed(1)} s; training ${(trainSeconds.reduce((a, b) => a + b, 0) / trainSeconds.length).toFixed(1)} s per fold (${stepsPerSecond.toFixed(1)} photo-steps/s); whole bench ${((performance.now() - started) / 60000).toFixed(1)} min. Mean training loss per fold, first → last epoch (BCE + smooth-L1): ${histories.map((h) => `${h.fold} ${h.history.epochs[0].total.toFixed(3)} → ${h.history.epochs[h.history.epochs.length - 1].total.toFixed(3)}`).join(', ')}.`,
    '',
    ...(retrieval ? mapSection(retrieval, folds, { describeSeconds, fallbackCounts, topK: DEFAULT_PROPOSAL_OPTIONS.topK, nmsIou: DEFAULT_PROPOSAL_OPTIONS.nmsIou, grid: all.rows[0].k, croppedQueries: protocols.A.queries.length }) : []),
    'Caveats: the ground truth is itself noisy (a box is the hull of a photo\'s inlier keypoints, i.e. the part that matched, and cleaning keeps some non-landmark photos: 85 % of kept photos are ground-truth positives, bench/cleaning.md); one training run per fold, one seed, no error bars; folds of 16–47 photos, so one photo is 2–6 points of recall. The grid is a fixed 20 regions, so only the RPN row at K = 20 compares like with like.',
    '',
    '<!-- rpn:end -->',
  ];
  if (process.argv.includes('--dry')) {
    console.log(lines.join('\n'));
    return;
  }
  await writeSection(lines.join('\n'));
  log(`wrote the RPN section of bench/results.md in ${((performance.now() - started) / 60000).toFixed(1)} min`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
