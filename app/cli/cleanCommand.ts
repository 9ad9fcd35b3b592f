// `sightline clean <dataset> --out <file>`: automatic cleaning of a dataset laid out as one folder
// per class (DESIGN.md §1.5). The journal and the feature cache next to --out make a stopped run
// resume where it stopped.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { DescriptorEngine } from '../engine/descriptorEngine.js';
import { resolveModel } from '../engine/modelResolver.js';
import { CleaningJournal, cleanDataset, type CleaningReport } from '../match/datasetCleaning.js';
import { DEFAULT_VERIFY_OPTIONS, type VerifyOptions } from '../match/geometricVerification.js';
import { DEFAULT_FEATURE_LONG_SIDE, DEFAULT_MAX_KEYPOINTS, FEATURE_FORMAT } from '../match/localFeatures.js';
import { MatchPool } from '../match/matchPool.js';
import { positiveInt } from './cliOptions.js';
import { createProgressReporter } from './progressReporter.js';

interface CleanOptions {
  out: string;
  shortlist: number;
  model?: string;
  longSide: number;
  maxKeypoints: number;
  minInliers: number;
  workers?: number;
  restart?: boolean;
  json?: boolean;
}

/** Where a run keeps its journal and its feature cache: next to the report. */
export function cleaningSidecars(out: string): { journal: string; features: string } {
  return { journal: `${out}.journal.jsonl`, features: `${out}.features` };
}

export async function runClean(dataset: string, opts: CleanOptions): Promise<CleaningReport> {
  const stat = await fs.stat(dataset).catch(() => undefined);
  if (!stat?.isDirectory()) throw new Error(`${dataset} is not a folder (expected one subfolder per class)`);
  const out = path.resolve(opts.out);
  const sidecars = cleaningSidecars(out);
  const verify: VerifyOptions = { ...DEFAULT_VERIFY_OPTIONS, minInliers: opts.minInliers };
  const progress = createProgressReporter(!opts.json);
  const journal = await CleaningJournal.open(sidecars.journal, !!opts.restart);
  if (opts.restart) await fs.rm(sidecars.features, { recursive: true, force: true });
  // The descriptor engine and the match pool run one after the other, so each can have every
  // core. Both open on first use (a resumed run may need neither) and only once, though up to
  // `concurrency` calls ask at the same moment.
  let engine: Promise<DescriptorEngine> | undefined;
  let pool: Promise<MatchPool> | undefined;
  try {
    const model = await resolveModel(opts.model);
    const openEngine = () => (engine ??= DescriptorEngine.open(model, { workers: opts.workers }));
    const openPool = () => (pool ??= (async () => {
      const done = engine;
      engine = undefined;
      await (await done)?.close();
      return MatchPool.open({ workers: opts.workers, longSide: opts.longSide, maxKeypoints: opts.maxKeypoints, cacheDir: sidecars.features, verify });
    })());
    const descriptorVersion = `${model.meta.id}@512`;
    const report = await cleanDataset(dataset, {
      shortlist: opts.shortlist,
      descriptorVersion,
      verificationVersion: JSON.stringify({ FEATURE_FORMAT, longSide: opts.longSide, maxKeypoints: opts.maxKeypoints, verify }),
    }, {
      describe: async (file) => (await (await openEngine()).describe(file)).global,
      verify: async (a, b) => (await openPool()).verify(a, b),
      // Enough in flight to keep every worker busy while the main thread reads the journal.
      concurrency: 8,
      onProgress: (stage, done, total) => progress.update(stage === 'describing' ? 'global descriptors' : 'verifying pairs', done, total),
    }, journal);
    progress.stop();
    await fs.mkdir(path.dirname(out), { recursive: true });
    const partial = `${out}.${process.pid}.part`;
    await fs.writeFile(partial, `${JSON.stringify({ ...report, model: model.meta.id, localFeatures: { detector: 'AKAZE (OpenCV)', longSide: opts.longSide, maxKeypoints: opts.maxKeypoints }, verify }, null, 1)}\n`);
    await fs.rename(partial, out);
    return report;
  } finally {
    progress.stop();
    await journal.close();
    await (await engine?.catch(() => undefined))?.close();
    await (await pool?.catch(() => undefined))?.close();
  }
}

export function registerCleanCommand(program: Command): void {
  program
    .command('clean <dataset>')
    .description('clean a dataset with one folder per class: verify look-alike pairs with local features, keep each class\'s largest connected group, and box the matching region of each kept photo')
    .requiredOption('--out <file>', 'JSON report to write; a journal (.journal.jsonl) and a feature cache (.features/) are kept next to it')
    .option('--shortlist <k>', 'candidates per photo, by global descriptor within its class', positiveInt('--shortlist'), 10)
    .option('--model <id|path>', 'descriptor model for the shortlist: id, name or path')
    .option('--long-side <px>', 'long side the local features are computed at', positiveInt('--long-side'), DEFAULT_FEATURE_LONG_SIDE)
    .option('--max-keypoints <n>', 'keypoints kept per photo, strongest first', positiveInt('--max-keypoints'), DEFAULT_MAX_KEYPOINTS)
    .option('--min-inliers <n>', 'RANSAC inliers a pair needs to verify', positiveInt('--min-inliers'), DEFAULT_VERIFY_OPTIONS.minInliers)
    .option('--workers <n>', 'worker threads (default: one per core, at most 4)', positiveInt('--workers'))
    .option('--restart', 'forget the journal and feature cache of an earlier run')
    .option('--json', 'print a JSON summary instead of a table')
    .action(async (dataset: string, opts: CleanOptions) => {
      const report = await runClean(dataset, opts);
      if (opts.json) {
        console.log(JSON.stringify({ dataset: report.dataset, out: path.resolve(opts.out), classes: report.classes, stats: report.stats }, null, 2));
        return;
      }
      const width = Math.max(5, ...report.classes.map((c) => c.name.length));
      console.log(`${'class'.padEnd(width)}  photos  kept  dropped  verified pairs / candidates`);
      for (const c of report.classes) {
        console.log(`${c.name.padEnd(width)}  ${String(c.photos).padStart(6)}  ${String(c.kept).padStart(4)}  ${String(c.dropped).padStart(7)}  ${c.verifiedPairs} / ${c.candidatePairs}`);
      }
      const s = report.stats;
      console.log(`\n${s.photos} photos, ${s.candidatePairs} candidate pairs (${s.verifiedFromJournal} from the journal), ${s.seconds} s. Report: ${path.resolve(opts.out)}`);
    });
}
