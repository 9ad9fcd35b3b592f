// Run by bench/libraryBench.ts in a fresh process, so its RSS is what a library process holding
// 100k descriptors uses: loads every descriptor from the SQLite store into the search matrix,
// times photo queries and the full duplicate grouping, and prints one JSON line.
import { readFileSync } from 'node:fs';
import { openLibraryDatabase } from '../app/library/database/libraryDatabase.js';
import { DescriptorRepository } from '../app/library/database/descriptorRepository.js';
import { PhotoRepository } from '../app/library/database/photoRepository.js';
import { DescriptorMatrix } from '../app/search/descriptorMatrix.js';
import { duplicateThresholds, findDuplicateGroups } from '../app/search/duplicateGroups.js';
import { neighbourGraphAbove } from '../app/search/neighbourGraph.js';

const [dbFile, modelId] = process.argv.slice(2);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const db = openLibraryDatabase(dbFile, { readonly: true });
const photos = new PhotoRepository(db);
let t = performance.now();
const all = new DescriptorRepository(db).loadAll(modelId);
const matrix = DescriptorMatrix.from(all.ids, all.matrix, all.dim, { adopt: true });
const loadMs = performance.now() - t;
const latencies: number[] = [];
for (let i = 0; i < 20; i++) {
  const q = matrix.get(all.ids[(i * 4999) % all.ids.length])!;
  t = performance.now();
  matrix.topK(q, 100);
  latencies.push(performance.now() - t);
}
const rssAfterLoad = process.memoryUsage().rss;
t = performance.now();
const thresholds = duplicateThresholds(false);
const graph = await neighbourGraphAbove(matrix, thresholds.similarMember, 20);
// What Library.duplicateGroups reads: the keeper facts, not whole rows.
const rows = photos.keeperFacts();
const groups = findDuplicateGroups({ matrix, photos: rows, tiers: ['near', 'similar'], graph, thresholds });
const groupSeconds = (performance.now() - t) / 1000;
const rssPeak = Math.max(rssAfterLoad, process.memoryUsage().rss, peakRss());
db.close();
console.log(JSON.stringify({ n: all.ids.length, loadMs, queryMs: median(latencies), groupSeconds, groups: groups.length, rssAfterLoad, rssPeak }));

/** The kernel's high-water mark of this process's resident set (Linux), in bytes; 0 elsewhere. */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
