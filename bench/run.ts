// `npm run bench`: retrieval quality on Paris6k-mini for the offline default and the
// recommended model (two honest whitening set-ups each), the peer baselines, and the engine's
// cost per image at three input sizes. Writes bench/results.md.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { EnginePool } from '../app/engine/enginePool.js';
import { resolveModel } from '../app/engine/modelResolver.js';
import type { RegisteredModel } from '../app/engine/modelRegistry.js';
import { averagePrecision, meanAveragePrecision } from '../app/eval/averagePrecision.js';
import { evaluateParis6kMini, type DatasetEvalReport } from '../app/eval/datasetEvaluation.js';
import { loadParis6kMini, type EvalProtocol } from '../app/eval/protocols.js';
import { DEFAULT_EVAL_SETTINGS, METHODS, runLimited } from '../app/eval/retrievalEvaluation.js';
import * as haar from './baselines/haarWavelet.js';
import { libraryBench, updateScaleInResults, updateThroughputInResults } from './libraryBench.js';
import * as phash from './baselines/perceptualHash.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const shared = path.resolve(root, '..', 'shared');
const paris = path.join(shared, 'data', 'paris6k-mini');
const externalWhitening = [path.join(shared, 'data', 'near-dup'), path.join(shared, 'data', 'scenes')].join(',');
const recommendedWeights = path.join(shared, 'weights', 'mobilenet-v2-0.35-keras');

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const started = Date.now();

interface QualityRow {
  label: string;
  model: RegisteredModel;
  whitening: string;
  report: DatasetEvalReport;
}

async function quality(label: string, model: RegisteredModel, whitenOn?: string): Promise<QualityRow> {
  log(`${label}: evaluating ${model.meta.name}${whitenOn ? ' (external whitening)' : ' (leave-one-landmark-out whitening)'}…`);
  const pool = new EnginePool(model);
  try {
    const t = Date.now();
    const report = await evaluateParis6kMini(paris, pool, DEFAULT_EVAL_SETTINGS, undefined, whitenOn);
    log(`${label}: A ${report.results.A.rmac_pcaw} / B ${report.results.B.rmac_pcaw} (rmac_pcaw) in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    return { label, model, whitening: whitenOn ? 'external (near-dup + scenes, 66 photos)' : 'leave-one-landmark-out', report };
  } finally {
    await pool.close();
  }
}

async function baselines(): Promise<Record<string, { A: number; B: number }>> {
  const protocols: Record<'A' | 'B', EvalProtocol> = { A: await loadParis6kMini(paris, 'A'), B: await loadParis6kMini(paris, 'B') };
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-bench-'));
  const methods = {
    pHash: { describe: (f: string) => phash.describe(f, 'phash'), similarity: phash.similarity },
    dHash: { describe: (f: string) => phash.describe(f, 'dhash'), similarity: phash.similarity },
    'Haar wavelets (digiKam / imgSeek)': { describe: haar.describe, similarity: haar.similarity },
  } as const;
  const out: Record<string, { A: number; B: number }> = {};
  try {
    for (const [name, m] of Object.entries(methods)) {
      const describeAny = m.describe as (f: string) => Promise<unknown>;
      const similarityAny = m.similarity as (a: unknown, b: unknown) => number;
      const db = new Map<string, unknown>();
      await runLimited(protocols.A.database, 4, async (img) => db.set(img.id, await describeAny(img.image)));
      const row = { A: 0, B: 0 };
      for (const key of ['A', 'B'] as const) {
        const aps: number[] = [];
        for (const q of protocols[key].queries) {
          let file = q.image;
          if (q.box) {
            file = path.join(tmp, `${q.id}.png`);
            const { x1, y1, x2, y2 } = q.box;
            await sharp(q.image).extract({ left: Math.round(x1), top: Math.round(y1), width: Math.round(x2 - x1), height: Math.round(y2 - y1) }).png().toFile(file);
          }
          const qd = q.box ? await describeAny(file) : db.get(q.id);
          const ranked = protocols[key].database
            .map((img) => ({ id: img.id, s: similarityAny(qd, db.get(img.id)) }))
            .sort((a, b) => b.s - a.s || (a.id < b.id ? -1 : 1))
            .map((r) => r.id);
          aps.push(averagePrecision(ranked, q.positives, q.junk));
        }
        row[key] = Math.round(1000 * meanAveragePrecision(aps).mAP) / 10;
      }
      out[name] = row;
      log(`baseline ${name}: A ${row.A} / B ${row.B}`);
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return out;
}

interface CostRow {
  model: string;
  longSide: number;
  latencyMs: number;
  decodeMs: number;
  throughputMsPerImage: number;
  featureMap: string;
}

/** Latency: one worker using both cores, median over photos. Throughput: one worker per core. */
async function engineCost(model: RegisteredModel, longSides: number[], photos: string[]): Promise<CostRow[]> {
  const rows: CostRow[] = [];
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  for (const longSide of longSides) {
    const single = new EnginePool(model, { workers: 1, threadsPerWorker: cores });
    let featureMap = '';
    const net: number[] = [];
    const dec: number[] = [];
    try {
      await single.describe(photos[0], { scales: [longSide] });
      for (const p of photos) {
        const r = await single.describe(p, { scales: [longSide] });
        net.push(r.timings.networkMs + r.timings.poolMs);
        dec.push(r.timings.decodeMs);
        featureMap = `${r.scales[0].featureWidth}×${r.scales[0].featureHeight}`;
      }
    } finally {
      await single.close();
    }
    const parallel = new EnginePool(model, { workers: cores, threadsPerWorker: 1 });
    let throughput = 0;
    try {
      await Promise.all(Array.from({ length: cores }, () => parallel.describe(photos[0], { scales: [longSide] })));
      const t = performance.now();
      await runLimited(photos, cores * 2, (p) => parallel.describe(p, { scales: [longSide] }));
      throughput = (performance.now() - t) / photos.length;
    } finally {
      await parallel.close();
    }
    const row = { model: model.meta.name, longSide, latencyMs: median(net), decodeMs: median(dec), throughputMsPerImage: throughput, featureMap };
    log(`cost ${row.model} @ ${longSide}: ${row.latencyMs.toFixed(1)} ms network+pooling, ${row.throughputMsPerImage.toFixed(1)} ms/image with decode at full parallelism`);
    rows.push(row);
  }
  return rows;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const f1 = (x: number) => x.toFixed(1);

async function main() {
  const resultsFile = path.join(root, 'bench', 'results.md');
  if (process.argv.includes('--scale-only')) {
    await updateScaleInResults(resultsFile);
    log(`updated the 100k scale figures in bench/results.md in ${((Date.now() - started) / 60000).toFixed(1)} min`);
    return;
  }
  if (process.argv.includes('--library-only')) {
    await updateThroughputInResults(shared, resultsFile);
    log(`updated the indexing throughput in bench/results.md in ${((Date.now() - started) / 60000).toFixed(1)} min`);
    return;
  }
  const defaultModel = await resolveModel();
  // An int8 default is compared with the float model it was quantised from, in the same run.
  const floatDefault = defaultModel.meta.quantisation ? await resolveModel(defaultModel.meta.quantisation.from) : undefined;
  const recommended = await resolveModel(recommendedWeights);
  const rows: QualityRow[] = [
    await quality('offline default', defaultModel),
    await quality('offline default', defaultModel, externalWhitening),
    ...(floatDefault ? [await quality('offline default, float (before int8)', floatDefault, externalWhitening)] : []),
    await quality('recommended (ImageNet MobileNetV2 0.35)', recommended),
    await quality('recommended (ImageNet MobileNetV2 0.35)', recommended, externalWhitening),
  ];
  const peer = await baselines();
  const photos = (await loadParis6kMini(paris, 'A')).database.slice(0, 40).map((d) => d.image);
  const cost = [
    ...(await engineCost(defaultModel, [512, 800, 1024], photos)),
    ...(floatDefault ? await engineCost(floatDefault, [512, 800, 1024], photos) : []),
    ...(await engineCost(recommended, [512, 800, 1024], photos)),
  ];

  const lines: string[] = [];
  lines.push('# Sightline benchmark results', '');
  const header = lines.length;
  lines.push('', '');
  lines.push('## Retrieval quality on Paris6k-mini (mAP %, long side 512, R-MAC L = 3)', '');
  lines.push('Protocol A: the 12 official queries, cropped to their boxes, rank all 250 photos. Protocol B: each of the 195 positive photos, uncropped, ranks the rest. Multi-resolution sums 362, 512 and 724 px. QE averages the top 5; DBA uses k = 5.', '');
  lines.push('Whitening is never fitted on the photos it is evaluated on. *Leave-one-landmark-out*: each query is ranked with a whitening fitted on the other four landmark folders. The negatives of every query are then in the whitening set, which flatters the whitened rows. *External*: one whitening fitted on 66 unrelated photos (`near-dup` + `scenes`), none of which is searched. This is the stricter figure and the one to quote.', '');
  lines.push(`| model | whitening | protocol | ${METHODS.join(' | ')} |`);
  lines.push(`|---|---|---|${METHODS.map(() => '---:').join('|')}|`);
  for (const r of rows) {
    for (const p of ['A', 'B'] as const) lines.push(`| ${r.label} \`${r.model.meta.id}\` | ${r.whitening} | ${p} | ${METHODS.map((m) => f1(r.report.results[p][m])).join(' | ')} |`);
  }
  lines.push('', 'Peer baselines on the same protocols (no learning, whole image):', '');
  lines.push('| method | A | B |', '|---|---:|---:|');
  for (const [name, v] of Object.entries(peer)) lines.push(`| ${name} | ${f1(v.A)} | ${f1(v.B)} |`);
  const worst = Math.min(...rows.flatMap((r) => (['A', 'B'] as const).flatMap((p) => METHODS.map((m) => r.report.results[p][m]))));
  const bestPeer = Math.max(...Object.values(peer).flatMap((v) => [v.A, v.B]));
  lines.push('', `Sightline's worst configuration above scores ${f1(worst)}, against ${f1(bestPeer)} for the best peer baseline.`, '');
  lines.push('Models:', '');
  lines.push(`- offline default \`${defaultModel.meta.id}\`: ${defaultModel.meta.source}. ${defaultModel.meta.channels} channels at stride ${defaultModel.meta.stride}.`);
  if (floatDefault && defaultModel.meta.quantisation) {
    const q = defaultModel.meta.quantisation;
    lines.push(`  It is the int8 quantisation of the float model \`${floatDefault.meta.id}\` (${floatDefault.meta.name}): weights ${q.weights}; activations ${q.activations}. None of the calibration photos is in Paris6k-mini.`);
  }
  lines.push(`- recommended \`${recommended.meta.id}\`: the Keras ImageNet MobileNetV2 0.35 up to \`out_relu\` (${recommended.meta.channels} channels, stride ${recommended.meta.stride}), read from \`../shared/weights/mobilenet-v2-0.35-keras\`. These are the same backbone weights that \`sightline model download\` fetches and verifies by hash.`, '');
  lines.push('## Engine cost per image', '');
  lines.push('*Network + pooling*: one worker using every core, the median over 40 Paris photos (decode excluded). *Throughput*: one worker per core, 40 photos, wall time per photo, decode included. The first call is a warm-up and is not counted.', '');
  lines.push('| model | long side | feature map | network + pooling (ms) | decode (ms) | throughput, all cores (ms / photo) |', '|---|---:|---|---:|---:|---:|');
  for (const c of cost) lines.push(`| ${c.model} | ${c.longSide} | ${c.featureMap} | ${f1(c.latencyMs)} | ${f1(c.decodeMs)} | ${f1(c.throughputMsPerImage)} |`);
  lines.push('');
  if (!process.argv.includes('--engine-only')) lines.push((await libraryBench(shared)).markdown, '');
  const candidates = await fs.readFile(path.join(root, 'bench', 'candidates.md'), 'utf8').catch(() => '');
  if (candidates) lines.push(candidates.trim(), '');
  // `npm run bench:clean` measures dataset cleaning (about 3 minutes of its own); its last table is folded in here.
  const cleaning = await fs.readFile(path.join(root, 'bench', 'cleaning.md'), 'utf8').catch(() => '');
  if (cleaning) lines.push(cleaning.trim(), '');
  // Sections other benches write between markers (bench:rpn, bench:learn) are kept as they are.
  const previous = await fs.readFile(resultsFile, 'utf8').catch(() => '');
  for (const block of previous.match(/<!-- (\w+):start[\s\S]*?<!-- \1:end -->/g) ?? []) lines.push(block, '');
  lines[header] = `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, ${((Date.now() - started) / 60000).toFixed(1)} min for the whole run.`;
  await fs.writeFile(resultsFile, lines.join('\n'));
  log(`wrote bench/results.md in ${((Date.now() - started) / 60000).toFixed(1)} min`);
}

await main();
