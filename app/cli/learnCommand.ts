// `sightline learn`: "Learn from my library" from a terminal. Prints what was mined, the held-out
// before/after table and whether the whitening was switched; after a switch it re-describes the
// library's photos, as `sightline index` would. Progress goes to stderr; --json keeps stdout clean.
import { InvalidArgumentError, type Command } from 'commander';
import { Library } from '../library/library.js';
import type { LearningReport } from '../learn/libraryLearning.js';
import { positiveInt } from './cliOptions.js';
import { createProgressReporter } from './progressReporter.js';

interface LearnCliOptions {
  db?: string;
  model?: string;
  json?: boolean;
  dryRun?: boolean;
  epochs?: number;
  undo?: boolean;
  reindex: boolean;
}

const PHASE_LABELS: Record<string, string> = {
  mining: 'gather places',
  verifying: 'verify pairs',
  describing: 'describe photos',
  training: 'train',
  evaluating: 'evaluate',
  switching: 'switch',
};

export function registerLearnCommand(program: Command): void {
  program
    .command('learn')
    .description('learn the whitening from verified places of your own library; switch to it only if it ranks held-out places better')
    .option('--db <file>', 'library database (default: library.db in the app data folder)')
    .option('--model <id|path>', 'model id, name or path')
    .option('--dry-run', 'measure only: never switch')
    .option('--epochs <n>', 'training epochs (default 10)', positiveInt('--epochs'))
    .option('--undo', 'go back to the whitening in use before the last switch')
    .option('--no-reindex', 'after a switch or undo, leave re-describing the photos to the next `sightline index`')
    .option('--json', 'machine-readable output')
    .action(async (opts: LearnCliOptions) => {
      if (opts.undo && (opts.dryRun || opts.epochs !== undefined)) throw new InvalidArgumentError('--undo takes no --dry-run or --epochs');
      const { LibraryLearning } = await import('../learn/libraryLearning.js');
      const library = await Library.open({ dbPath: opts.db, model: opts.model });
      const progress = createProgressReporter(!opts.json || process.stderr.isTTY);
      const stop = new AbortController();
      const onInterrupt = () => {
        stop.abort();
        library.cancelIndexing();
      };
      process.once('SIGINT', onInterrupt);
      try {
        const learning = new LibraryLearning(library);
        if (opts.undo) {
          const record = await learning.revert();
          progress.stop();
          if (opts.json) console.log(JSON.stringify({ reverted: true, whitening: library.modelId, previous: record.previousDescription }));
          else console.log(`Back to the previous whitening: ${record.previousDescription}.`);
          if (opts.reindex) await reindex(library, progress, !!opts.json);
          return;
        }
        const report = await learning.learn({ dryRun: opts.dryRun, epochs: opts.epochs }, {
          signal: stop.signal,
          onProgress: (p) => progress.update(PHASE_LABELS[p.phase], p.done, Math.max(p.total, p.done)),
        });
        progress.stop();
        if (opts.json) console.log(JSON.stringify(report));
        else printReport(report);
        if (report.decision.switched && opts.reindex) await reindex(library, progress, !!opts.json);
      } finally {
        process.off('SIGINT', onInterrupt);
        progress.stop();
        await library.close();
      }
    });
}

async function reindex(library: Library, progress: ReturnType<typeof createProgressReporter>, json: boolean): Promise<void> {
  const folders = library.folders.list().map((f) => f.path);
  if (!folders.length) return;
  if (!json) console.error('Re-describing the library with the whitening now in use (Ctrl-C stops; `sightline index` continues later)…');
  const summary = await library.index(folders, (p) => {
    if (p.phase !== 'done') progress.update(p.phase, p.done, Math.max(p.total, p.done));
  });
  progress.stop();
  if (!json) console.log(summary.cancelled ? 'Stopped re-describing; `sightline index` finishes it.' : `Re-described the library in ${summary.seconds.toFixed(1)} s.`);
}

function pct(value: number): string {
  return Number.isFinite(value) ? `${(100 * value).toFixed(1)} %` : '–';
}

function printReport(r: LearningReport): void {
  console.log(`Mined ${r.mining.places} verified places (${r.mining.photos} photos): ${r.mining.verifiedPairs} of ${r.mining.candidatePairs} candidate pairs verified, in ${r.mining.clusters} clusters of similar photos.`);
  console.log(`Learned on ${r.split.training.places} places (${r.split.training.photos} photos, ${r.split.training.pairs} verified pairs): ${r.training.epochs} epochs, ${r.training.steps} steps, ${r.training.seconds.toFixed(1)} s (TF.js ${r.training.backend}).`);
  console.log(`Held out ${r.split.heldOut.places} places (${r.split.heldOut.photos} photos), never trained on${r.split.unreadable ? `; ${r.split.unreadable} photos could not be read` : ''}.`);
  console.log('');
  const width = Math.max(...r.evaluation.map((s) => s.label.length));
  console.log(`${'held-out places, each photo ranking the others'.padEnd(width)}  ${'mAP'.padStart(7)}  ${'recall@1'.padStart(8)}`);
  for (const s of r.evaluation) console.log(`${s.label.padEnd(width)}  ${pct(s.mAP).padStart(7)}  ${pct(s.recallAt1).padStart(8)}`);
  console.log('');
  console.log(r.decision.reason);
  if (r.decision.switched) console.log('Undo with: sightline learn --undo');
}
