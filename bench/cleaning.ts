// `npm run bench:clean`: `sightline clean` on Paris6k-mini (five landmark folders) from scratch,
// compared with the dataset's ground truth, and what one pair's verification costs once each
// photo's features are cached. Writes bench/cleaning.md (which bench/run.ts folds into
// results.md) and replaces the cleaning section of bench/results.md in place.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runClean } from '../app/cli/cleanCommand.js';
import { loadOxfordGroundTruth } from '../app/eval/groundTruth.js';
import { landmarkOf } from '../app/eval/protocols.js';
import { DEFAULT_VERIFY_OPTIONS, prepareMatching, verifyPair } from '../app/match/geometricVerification.js';
import { DEFAULT_FEATURE_LONG_SIDE, DEFAULT_MAX_KEYPOINTS } from '../app/match/localFeatures.js';
import { MatchPool } from '../app/match/matchPool.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const paris = path.resolve(root, '..', 'shared', 'data', 'paris6k-mini');
const images = path.join(paris, 'images');
const cacheDir = path.join(root, 'bench', '.cache', 'cleaning');
const out = path.join(cacheDir, 'paris6k-mini.json');
const log = (line: string) => process.stderr.write(`[cleaning] ${line}\n`);
const SECTION = '## Dataset cleaning on Paris6k-mini';

const f1 = (x: number) => x.toFixed(1);
const pct = (a: number, b: number) => (b === 0 ? '–' : `${a}/${b} (${((100 * a) / b).toFixed(0)} %)`);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function main(): Promise<void> {
  // 1. The whole command, from scratch (no journal, no feature cache), as a user runs it.
  log('sightline clean on paris6k-mini/images (from scratch)…');
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const report = await runClean(images, {
    out,
    shortlist: 10,
    longSide: DEFAULT_FEATURE_LONG_SIDE,
    maxKeypoints: DEFAULT_MAX_KEYPOINTS,
    minInliers: DEFAULT_VERIFY_OPTIONS.minInliers,
    restart: true,
  });
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  log(`done in ${f1(wallSeconds)} s (${f1(cpuSeconds)} s of CPU)`);

  // 2. Ground truth: a photo is a positive of its landmark if any query of that landmark lists it
  // as good or ok, junk if only junk lists name it, and unlisted otherwise.
  const gt = await loadOxfordGroundTruth(path.join(paris, 'gt'));
  const positives = new Map<string, Set<string>>();
  const junk = new Map<string, Set<string>>();
  for (const q of gt) {
    const lm = landmarkOf(q.name);
    if (!positives.has(lm)) positives.set(lm, new Set());
    if (!junk.has(lm)) junk.set(lm, new Set());
    for (const id of [...q.good, ...q.ok]) positives.get(lm)!.add(id);
    for (const id of q.junk) junk.get(lm)!.add(id);
  }
  const labelOf = (file: string): 'positive' | 'junk' | 'unlisted' => {
    const id = path.basename(file, path.extname(file));
    const lm = /^paris_(.+)_\d+$/.exec(id)?.[1] ?? '';
    if (positives.get(lm)?.has(id)) return 'positive';
    return junk.get(lm)?.has(id) ? 'junk' : 'unlisted';
  };
  const rows = report.classes.map((c) => {
    const photos = report.photos.filter((p) => p.class === c.name);
    const count = (label: string, kept: boolean) => photos.filter((p) => labelOf(p.path) === label && p.kept === kept).length;
    const pos = { kept: count('positive', true), all: count('positive', true) + count('positive', false) };
    const noise = { dropped: count('junk', false) + count('unlisted', false), all: photos.filter((p) => labelOf(p.path) !== 'positive').length };
    return { c, pos, noise, junkKept: count('junk', true), unlistedKept: count('unlisted', true), keptPositive: count('positive', true) };
  });
  const total = rows.reduce((s, r) => ({ kept: s.kept + r.c.kept, photos: s.photos + r.c.photos, pos: s.pos + r.pos.kept, posAll: s.posAll + r.pos.all, noise: s.noise + r.noise.dropped, noiseAll: s.noiseAll + r.noise.all }), { kept: 0, photos: 0, pos: 0, posAll: 0, noise: 0, noiseAll: 0 });

  // 3. Verification cost per candidate pair, features already in memory (as in a run, where each
  // photo's features are computed once and reused by all its pairs): one pair at a time through
  // one worker, so the figure is latency, not throughput.
  const journal = (await fs.readFile(`${out}.journal.jsonl`, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { t: string; a?: string; b?: string });
  const pairs = journal.filter((e) => e.t === 'pair').map((e) => [e.a!, e.b!] as const);
  const sample = Array.from({ length: Math.min(200, pairs.length) }, (_, i) => pairs[Math.floor((i * pairs.length) / Math.min(200, pairs.length))]);
  const pool = await MatchPool.open({ workers: 1, cacheDir: `${out}.features` });
  const pairMs: number[] = [];
  const inThreadMs: number[] = [];
  const extractMs: number[] = [];
  try {
    const features = new Map<string, Awaited<ReturnType<MatchPool['features']>>>();
    for (const p of new Set(sample.flat())) features.set(p, await pool.features(path.join(images, p)));
    await pool.verifyFeatures(features.get(sample[0][0])!, features.get(sample[0][1])!);
    for (const [a, b] of sample) {
      const t = performance.now();
      await pool.verifyFeatures(features.get(a)!, features.get(b)!);
      pairMs.push(performance.now() - t);
    }
    // The synchronous verifyPair (OpenCV's brute-force matcher, in this thread), on a few pairs.
    await prepareMatching();
    for (const [a, b] of sample.slice(0, 10)) {
      const t = performance.now();
      verifyPair(features.get(a)!, features.get(b)!);
      inThreadMs.push(performance.now() - t);
    }
  } finally {
    await pool.close();
  }
  // Extraction per photo at 1024 px (one worker, no cache), on 20 photos.
  const fresh = await MatchPool.open({ workers: 1 });
  try {
    const photos = report.photos.filter((_, i) => i % 12 === 0).slice(0, 20);
    await fresh.features(path.join(images, photos[0].path));
    for (const p of photos.slice(1)) {
      const t = performance.now();
      await fresh.features(path.join(images, p.path));
      extractMs.push(performance.now() - t);
    }
  } finally {
    await fresh.close();
  }
  const median = (xs: number[]) => quantile(xs, 0.5);
  log(`verification ${f1(median(pairMs))} ms/pair (median), extraction ${f1(median(extractMs))} ms/photo`);

  const md: string[] = [];
  md.push(SECTION, '');
  md.push(`Measured by \`npm run bench:clean\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}. The machine is shared: load average ${os.loadavg()[0].toFixed(1)} at the end of the run, so wall times are pessimistic, and CPU time is the steadier figure.`, '');
  md.push(`\`sightline clean ../shared/data/paris6k-mini/images\` from scratch: global descriptors (offline default, long side 512) shortlist each photo's 10 nearest photos of its landmark, ${report.stats.candidatePairs} candidate pairs out of ${report.classes.reduce((s, c) => s + (c.photos * (c.photos - 1)) / 2, 0)} in all; AKAZE features (OpenCV, long side ${DEFAULT_FEATURE_LONG_SIDE}, ${DEFAULT_MAX_KEYPOINTS} strongest keypoints), ratio test ${DEFAULT_VERIFY_OPTIONS.ratio}, MAGSAC affine and homography, a pair verifies with ≥ ${DEFAULT_VERIFY_OPTIONS.minInliers} inliers and ≥ ${100 * DEFAULT_VERIFY_OPTIONS.minInlierRatio} % of its matches. **${f1(wallSeconds)} s wall, ${f1(cpuSeconds)} s CPU** (target: under 5 minutes).`, '');
  md.push('Compared with the ground truth: *positive* = listed good or ok by some query of the landmark, *junk* = listed junk only, *unlisted* = neither. Cleaning should keep the positives and drop the rest.', '');
  md.push('| landmark | photos | kept | dropped | positives kept | junk + unlisted dropped | kept that are positives | verified pairs / candidates |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    md.push(`| ${r.c.name} | ${r.c.photos} | ${r.c.kept} | ${r.c.dropped} | ${pct(r.pos.kept, r.pos.all)} | ${pct(r.noise.dropped, r.noise.all)} | ${pct(r.keptPositive, r.c.kept)} | ${r.c.verifiedPairs} / ${r.c.candidatePairs} |`);
  }
  md.push(`| all | ${total.photos} | ${total.kept} | ${total.photos - total.kept} | ${pct(total.pos, total.posAll)} | ${pct(total.noise, total.noiseAll)} | ${pct(total.pos, total.kept)} | ${rows.reduce((s, r) => s + r.c.verifiedPairs, 0)} / ${report.stats.candidatePairs} |`, '');
  md.push('Cost, features cached per photo:', '');
  md.push('| what | median | 90th percentile |', '|---|---:|---:|');
  md.push(`| verify one candidate pair, MatchPool worker (onnxruntime matcher + MAGSAC), ${sample.length} pairs one at a time | ${f1(median(pairMs))} ms | ${f1(quantile(pairMs, 0.9))} ms |`);
  md.push(`| verify one pair in this thread (\`verifyPair\`: OpenCV brute-force matcher + MAGSAC), ${inThreadMs.length} pairs | ${f1(median(inThreadMs))} ms | ${f1(quantile(inThreadMs, 0.9))} ms |`);
  md.push(`| extract one photo's features at ${DEFAULT_FEATURE_LONG_SIDE} px (decode + AKAZE), one worker, ${extractMs.length} photos | ${f1(median(extractMs))} ms | ${f1(quantile(extractMs, 0.9))} ms |`, '');
  const text = `${md.join('\n')}\n`;
  await fs.writeFile(path.join(root, 'bench', 'cleaning.md'), text);

  const resultsFile = path.join(root, 'bench', 'results.md');
  const results = await fs.readFile(resultsFile, 'utf8');
  const start = results.indexOf(SECTION);
  let updated: string;
  if (start < 0) updated = `${results.trimEnd()}\n\n${text}`;
  else {
    const next = results.indexOf('\n## ', start + SECTION.length);
    updated = `${results.slice(0, start)}${text}${next < 0 ? '' : `\n${results.slice(next + 1)}`}`;
  }
  await fs.writeFile(resultsFile, updated);
  log('wrote bench/cleaning.md and its section of bench/results.md');
}

await main();
