// `sightline index | status | search | dups | places`: the library from a terminal. Progress
// goes to stderr; --json keeps stdout machine-readable.
import { InvalidArgumentError, type Command } from 'commander';
import { AUTO_WHITEN_MIN_PHOTOS, Library, type SearchHit } from '../library/library.js';
import type { IndexProgress, IndexSummary } from '../library/indexer.js';
import { positiveInt, regionOption } from './cliOptions.js';
import { createProgressReporter } from './progressReporter.js';

interface CommonOptions {
  db?: string;
  model?: string;
  json?: boolean;
}

async function withLibrary<T>(opts: CommonOptions & { autoWhiten?: boolean }, fn: (library: Library) => Promise<T>): Promise<T> {
  const library = await Library.open({ dbPath: opts.db, model: opts.model, autoWhiten: opts.autoWhiten });
  try {
    return await fn(library);
  } finally {
    await library.close();
  }
}

function common(cmd: Command): Command {
  return cmd
    .option('--db <file>', 'library database (default: library.db in the app data folder)')
    .option('--model <id|path>', 'model id, name or path')
    .option('--json', 'machine-readable output');
}

function printHits(hits: SearchHit[]): void {
  if (hits.length === 0) console.log('No indexed photos to search. Index a folder first: sightline index <folder>');
  hits.forEach((h, i) => console.log(`${String(i + 1).padStart(3)}. ${h.score.toFixed(3)}  ${h.path}`));
}

export function registerLibraryCommands(program: Command): void {
  common(program.command('index <folders...>').description('add folders to the library and index every photo in them'))
    .option('--watch', 'keep running and re-index when photos are added, changed or removed (Ctrl-C stops)')
    .option('--auto-whiten', `fit whitening on the library's own photos once it holds ${AUTO_WHITEN_MIN_PHOTOS} (better place search, weaker near-duplicate tier)`)
    .action(async (folders: string[], opts: CommonOptions & { autoWhiten?: boolean; watch?: boolean }) => {
      await withLibrary({ ...opts, autoWhiten: opts.autoWhiten }, async (library) => {
        const progress = createProgressReporter(!opts.json || process.stderr.isTTY);
        const stop = () => library.cancelIndexing();
        process.once('SIGINT', stop);
        try {
          const summary = await library.index(folders, (p: IndexProgress) => {
            if (p.phase !== 'done') progress.update(p.phase, p.done, Math.max(p.total, p.done));
          });
          progress.stop();
          const status = library.status();
          if (opts.json) {
            console.log(JSON.stringify({ ...summary, photos: status.photos, failures: status.failures, database: status.database }));
            return;
          }
          console.log(describeSummary(summary));
          if (summary.failed + summary.skipped > 0) console.log('See them with: sightline status --failures');
          if (opts.watch && !summary.cancelled) await watchUntilInterrupted(library, folders, !!opts.json);
        } finally {
          process.off('SIGINT', stop);
          progress.stop();
        }
      });
    });

  common(program.command('status').description('folders, photo counts, and files that could not be indexed'))
    .option('--failures', 'list every file that failed and why')
    .action(async (opts: CommonOptions & { failures?: boolean }) => {
      await withLibrary(opts, async (library) => {
        const status = library.status();
        const failures = opts.failures ? library.failures.list() : [];
        if (opts.json) {
          console.log(JSON.stringify({ ...status, failureList: opts.failures ? failures : undefined }));
          return;
        }
        console.log(`Library ${status.database}\nModel ${status.model}${status.whitened ? ' (whitened)' : ''}`);
        for (const f of status.folders) console.log(`  ${f.status === 'ok' ? ' ' : '!'} ${f.path}${f.status !== 'ok' ? `  (${f.status}${f.error ? `: ${f.error}` : ''})` : ''}`);
        console.log(`Photos: ${Object.entries(status.photos).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}; ${status.descriptors} with descriptors; ${status.failures} files could not be indexed.`);
        for (const f of failures) console.log(`  ${f.displayPath}: ${f.code}: ${f.message}`);
      });
    });

  common(program.command('search <image>').description('photos of the same place or object as an image file (or an indexed photo: #id)'))
    .option('--region <x,y,w,h>', 'search with this box of the image only (image pixels)', regionOption)
    .option('--top <n>', 'how many results', positiveInt('--top'), 20)
    .option('--qe <n>', 'average query expansion over the top n', positiveInt('--qe'))
    .action(async (image: string, opts: CommonOptions & { region?: { x: number; y: number; width: number; height: number }; top: number; qe?: number }) => {
      await withLibrary(opts, async (library) => {
        const options = { top: opts.top, box: opts.region, qe: opts.qe };
        const m = /^#(\d+)$/.exec(image);
        const hits = m ? await library.searchByPhoto(Number(m[1]), options) : await library.searchByFile(image, options);
        if (opts.json) console.log(JSON.stringify(hits));
        else printHits(hits);
      });
    });

  common(program.command('dups').description('groups of duplicate and near-identical photos, with a suggested keeper'))
    .option('--tier <tier>', 'exact | near | similar')
    .action(async (opts: CommonOptions & { tier?: string }) => {
      if (opts.tier && !['exact', 'near', 'similar'].includes(opts.tier)) throw new InvalidArgumentError('--tier must be exact, near or similar');
      await withLibrary(opts, async (library) => {
        const result = await library.duplicateGroups(opts.tier as 'exact' | 'near' | 'similar' | undefined);
        if (opts.json) {
          console.log(JSON.stringify(result));
          return;
        }
        console.log(`${result.groups.length} groups. Suggested keeper: ${result.rule}.`);
        for (const g of result.groups) {
          console.log(`\n[${g.tier}] ${g.members.length} photos — keep ${pathOf(library, g.keeper)} (${g.keeperReason})`);
          for (const id of g.members) if (id !== g.keeper) console.log(`   ${pathOf(library, id)}`);
        }
      });
    });

  common(program.command('places').description('clusters of photos of the same place, each with a representative photo'))
    .option('--verified', 'join two photos only if their local features verify geometrically (slower: features are computed once, then cached)')
    .action(async (opts: CommonOptions & { verified?: boolean }) => {
      await withLibrary(opts, async (library) => {
        const progress = createProgressReporter(!opts.json || process.stderr.isTTY);
        const places = await library.places({ verified: opts.verified, onProgress: (done, total) => progress.update('verify', done, total) });
        progress.stop();
        if (opts.json) {
          console.log(JSON.stringify(places.map((p) => ({ ...p, representativePath: pathOf(library, p.representative) }))));
          return;
        }
        console.log(`${places.length} places.`);
        places.forEach((p, i) => console.log(`${String(i + 1).padStart(3)}. ${p.members.length} photos, e.g. ${pathOf(library, p.representative)}`));
      });
    });
}

function describeSummary(summary: IndexSummary): string {
  return `${summary.cancelled ? 'Stopped' : 'Indexed'} in ${summary.seconds.toFixed(1)} s: ${summary.added} new, ${summary.reindexed} changed, ${summary.moved} already known (moved or copied), ${summary.unchanged} unchanged, ${summary.gone} gone, ${summary.failed + summary.skipped} skipped or failed.`;
}

async function watchUntilInterrupted(library: Library, folders: string[], json: boolean): Promise<void> {
  const watch = library.watch(folders, {
    onIndexed: (s) => console.log(json ? JSON.stringify({ event: 'indexed', ...s }) : `${new Date().toLocaleTimeString()} ${describeSummary(s)}`),
    onError: (e) => console.error(`sightline: ${e.message}`),
  });
  await watch.ready;
  if (!json) console.error(`Watching ${folders.length} folder(s) for changes. Press Ctrl-C to stop.`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await watch.close();
}

function pathOf(library: Library, photoId: number): string {
  return library.photos.filesOf(photoId).find((f) => f.present)?.displayPath ?? `#${photoId}`;
}
