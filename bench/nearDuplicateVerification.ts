// `npm run bench:near` (~2–4 min; Markdown on stdout): the near-identical tier's precision and
// recall before and after geometric verification, and where the inlier-ratio bar sits.
//
// Library: shared/data/near-dup + all of Paris6k-mini (read in place through symlinks), plus
// variants that near-dup lacks, made here with sharp from each UKBench base photo: crops by 6 and
// 10 % a side, a 4° turn (cropped to hide the corners) and a crop shrunk to half size. Ground truth:
// files derived from one UKBench photo are one shot (see calibrateNearDuplicates.ts for the
// naming); every other pair is a negative — Paris's different shots of one landmark are the hard ones.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Library, NEAR_GEOMETRIC_MIN_PIXEL, NEAR_INLIER_RATIO, NEAR_PIXEL_CORRELATION } from '../app/library/library.js';
import { duplicateThresholds } from '../app/search/duplicateGroups.js';
import { neighbourGraphAbove } from '../app/search/neighbourGraph.js';
import { nearIdenticalScore } from '../app/search/pixelVerification.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const DATA = path.resolve(root, '..', 'shared', 'data');
const log = (line: string) => process.stderr.write(`[near] ${line}\n`);
const f1 = (x: number) => x.toFixed(1);

function shotOf(file: string): string | undefined {
  if (path.basename(file) === 'alpha_channel_image.png') return '00120';
  return /ukbench(\d{5})/.exec(path.basename(file))?.[1];
}

async function makeVariants(dir: string): Promise<number> {
  const bases = (await fs.readdir(path.join(DATA, 'near-dup', 'base_images'))).filter((f) => /^ukbench\d{5}\.jpg$/.test(f)).sort();
  let made = 0;
  for (const name of bases) {
    const file = path.join(DATA, 'near-dup', 'base_images', name);
    const { width = 0, height = 0 } = await sharp(file).metadata();
    const stem = name.replace(/\.jpg$/, '');
    const crop = (f: number) => ({ left: Math.round(width * f), top: Math.round(height * f), width: Math.round(width * (1 - 2 * f)), height: Math.round(height * (1 - 2 * f)) });
    await sharp(file).extract(crop(0.06)).jpeg({ quality: 90 }).toFile(path.join(dir, `${stem}_made_crop6.jpg`));
    await sharp(file).extract(crop(0.1)).jpeg({ quality: 90 }).toFile(path.join(dir, `${stem}_made_crop10.jpg`));
    await sharp(file).extract(crop(0.08)).resize(Math.round(width * 0.42)).jpeg({ quality: 85 }).toFile(path.join(dir, `${stem}_made_crop_small.jpg`));
    const turned = await sharp(file).rotate(4, { background: '#000' }).toBuffer({ resolveWithObject: true });
    const tw = turned.info.width;
    const th = turned.info.height;
    await sharp(turned.data)
      .extract({ left: Math.round(tw * 0.1), top: Math.round(th * 0.1), width: Math.round(tw * 0.8), height: Math.round(th * 0.8) })
      .jpeg({ quality: 90 })
      .toFile(path.join(dir, `${stem}_made_turn4.jpg`));
    made += 4;
  }
  return made;
}

interface Quality {
  precision: number;
  recall: number;
  correct: number;
  predicted: number;
  truth: number;
  mixed: number;
  groups: number;
}

async function nearQuality(library: Library): Promise<Quality> {
  const photos = library.photos.list({ status: 'indexed', limit: 1e9, orderBy: 'id' });
  const label = new Map(photos.map((p) => [p.id, shotOf(library.photos.filesOf(p.id)[0]?.displayPath ?? '')]));
  const { groups } = await library.duplicateGroups('near');
  const key = (a: number, b: number) => (a < b ? `${a} ${b}` : `${b} ${a}`);
  const predicted = new Set<string>();
  for (const g of groups) for (let i = 0; i < g.members.length; i++) for (let j = i + 1; j < g.members.length; j++) predicted.add(key(g.members[i], g.members[j]));
  const truth = new Set<string>();
  const ids = photos.map((p) => p.id);
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) {
    const a = label.get(ids[i]);
    if (a && a === label.get(ids[j])) truth.add(key(ids[i], ids[j]));
  }
  const correct = [...predicted].filter((p) => truth.has(p)).length;
  return {
    precision: predicted.size ? (100 * correct) / predicted.size : 100,
    recall: truth.size ? (100 * correct) / truth.size : 100,
    correct,
    predicted: predicted.size,
    truth: truth.size,
    mixed: groups.filter((g) => new Set(g.members.map((m) => label.get(m) ?? `other${m}`)).size > 1).length,
    groups: groups.length,
  };
}

/** Inlier ratios of the pairs that go to geometric verification, by ground truth. */
async function candidateRatios(library: Library): Promise<{ positive: number[]; negative: number[]; unverifiedPositives: number }> {
  const photos = library.photos.list({ status: 'indexed', limit: 1e9, orderBy: 'id' });
  const label = new Map(photos.map((p) => [p.id, shotOf(library.photos.filesOf(p.id)[0]?.displayPath ?? '')]));
  const tiny = new Map(photos.filter((p) => p.tiny).map((p) => [p.id, new Uint8Array(p.tiny!)]));
  const thresholds = duplicateThresholds(!!library.engine.whitening);
  const graph = await neighbourGraphAbove(library.descriptorMatrix(), thresholds.similarMember, 20);
  const pool = await library.matcher();
  const positive: number[] = [];
  const negative: number[] = [];
  let unverifiedPositives = 0;
  for (let r = 0; r < graph.ids.length; r++) {
    const a = graph.ids[r];
    for (let j = 0; j < graph.counts[r]; j++) {
      const b = graph.neighbours[r * graph.k + j];
      if (a >= b || graph.scores[r * graph.k + j] < thresholds.nearMember) continue;
      const px = nearIdenticalScore(tiny.get(a)!, tiny.get(b)!);
      if (px < NEAR_GEOMETRIC_MIN_PIXEL || px >= NEAR_PIXEL_CORRELATION) continue;
      const file = (id: number) => library.photos.filesOf(id).find((f) => f.present)!.displayPath;
      const v = await pool.verify(file(a), file(b));
      const same = label.get(a) !== undefined && label.get(a) === label.get(b);
      if (!v.verified) {
        if (same) unverifiedPositives++;
        continue;
      }
      (same ? positive : negative).push(v.inlierRatio);
      if (!same && v.inlierRatio >= NEAR_INLIER_RATIO) log(`negative verified ${v.inlierRatio.toFixed(2)} ${v.inliers}/${v.matches}: ${file(a)} ~ ${file(b)}`);
    }
  }
  return { positive, negative, unverifiedPositives };
}

export async function nearDuplicateVerification(): Promise<string[]> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-near-'));
  try {
    const photos = path.join(tmp, 'photos');
    await fs.mkdir(path.join(photos, 'made'), { recursive: true });
    await fs.symlink(path.join(DATA, 'near-dup'), path.join(photos, 'near-dup'));
    await fs.symlink(path.join(DATA, 'paris6k-mini', 'images'), path.join(photos, 'paris'));
    const made = await makeVariants(path.join(photos, 'made'));
    const results: Record<'before' | 'after', Quality> = {} as never;
    let ratios: Awaited<ReturnType<typeof candidateRatios>> | undefined;
    let seconds = 0;
    for (const mode of ['before', 'after'] as const) {
      const library = await Library.open({ dbPath: path.join(tmp, 'library.db'), geometricNearCheck: mode === 'after' });
      try {
        await library.index([photos]);
        const t = performance.now();
        results[mode] = await nearQuality(library);
        if (mode === 'after') {
          seconds = (performance.now() - t) / 1000;
          ratios = await candidateRatios(library);
        }
        log(`${mode}: precision ${f1(results[mode].precision)} recall ${f1(results[mode].recall)}`);
      } finally {
        await library.close();
      }
    }
    const row = (name: string, q: Quality) => `| ${name} | ${f1(q.precision)} % | ${f1(q.recall)} % (${q.correct} of ${q.truth}) | ${q.groups} | ${q.mixed} |`;
    const range = (xs: number[]) => (xs.length ? `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)} (${xs.length})` : 'none');
    return [
      `Library: \`near-dup\` + Paris6k-mini + ${made} variants made from the UKBench base photos (crops by 6 and 10 % a side, a 4° turn, a small crop). Near-identical pairs = files derived from one UKBench photo.`,
      '',
      '| near-identical rule | precision | recall | near groups | groups mixing shots |',
      '|---|---:|---:|---:|---:|',
      row(`descriptor + pixel check (≥ ${NEAR_PIXEL_CORRELATION})`, results.before),
      row(`… or geometrically verified with inlier ratio ≥ ${NEAR_INLIER_RATIO} (pixel ≥ ${NEAR_GEOMETRIC_MIN_PIXEL})`, results.after),
      '',
      `Candidates sent to verification (descriptor ≥ near, pixel correlation in [${NEAR_GEOMETRIC_MIN_PIXEL}, ${NEAR_PIXEL_CORRELATION})): verified same-shot pairs had inlier ratios ${range(ratios!.positive)}, verified different-shot pairs ${range(ratios!.negative)}; ${ratios!.unverifiedPositives} same-shot pairs did not verify. Grouping with verification took ${f1(seconds)} s (features extracted once, then cached on disk).`,
    ];
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log((await nearDuplicateVerification()).join('\n'));
}
