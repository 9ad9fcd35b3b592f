// `node --import tsx bench/calibrateNearDuplicates.ts [--paris-sources N]` (~80 s; Markdown on
// stdout): measures where the near-duplicate and similar-photo thresholds of
// app/search/duplicateGroups.ts must sit for the offline default model, WITHOUT whitening (a fresh
// library has none), and what whitening changes.
//
// Data (shared/data, read in place):
// - near-dup/: UKBench photos with the imagededup project's variants. Ground truth from file names:
//   every `ukbenchNNNNN*` file derives from the one base photo NNNNN. `alpha_channel_image.png` has
//   no number but is ukbench00120 with an alpha channel added (checked here: same RGB pixels up to
//   re-encoding). The other format samples (giphy.gif, copyleft.tiff, …) are unrelated photos.
//   UKBench numbers 4k…4k+3 are one object from four viewpoints: such a pair would be "similar",
//   not "near" — this subset holds no two numbers of one object (checked below), so every
//   cross-number pair is an unrelated-object negative.
// - The same variants are also made here with sharp from each UKBench base photo and from a few
//   Paris6k-mini photos, so that each transformation is measured on more than one photo.
// - paris6k-mini/: 250 photos of 5 landmarks. Two different photos of one landmark are the hard
//   negatives for "near" (same subject, different shot) and the positives for "similar"
//   (official ground truth: both in the landmark's good ∪ ok list).
// - scenes/: pairs of one scene shot twice (aloeL/R, leuvenA/B, graf1/3, …): more "similar" pairs,
//   plus unrelated photos as distractors.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { buildDefaultModel } from '../app/engine/defaultModel.js';
import { DescriptorEngine } from '../app/engine/descriptorEngine.js';
import type { RawDescription } from '../app/engine/featureExtractor.js';
import { ModelRegistry } from '../app/engine/modelRegistry.js';
import { aggregateRmac } from '../app/engine/rmacDescriptor.js';
import { fitWhitening, type Whitening } from '../app/engine/whitening.js';
import { loadParis6kMini } from '../app/eval/protocols.js';
import { DescriptorMatrix } from '../app/search/descriptorMatrix.js';
import { DEFAULT_THRESHOLDS, WHITENED_THRESHOLDS, findDuplicateGroups, type DuplicatePhoto, type DuplicateThresholds } from '../app/search/duplicateGroups.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const DATA = path.resolve(root, '..', 'shared', 'data');
const NEAR_DUP = path.join(DATA, 'near-dup');
const PARIS = path.join(DATA, 'paris6k-mini');
const SCENES = path.join(DATA, 'scenes');

const argv = process.argv.slice(2);
const parisSourcesPerLandmark = Number(argv[argv.indexOf('--paris-sources') + 1] ?? 4) || 4;
const log = (line: string) => process.stderr.write(`[calibrate] ${line}\n`);

// ------------------------------------------------------------------------------------------------
// Items and ground truth

interface Item {
  label: string;
  bytes: Buffer;
  /** The one original photo this file derives from: same shot = near duplicate. */
  shot: string;
  /** What it shows (UKBench object, Paris landmark, scene): same subject, other shot = similar. Absent = unknown, no pair with it counts as similar. */
  subject?: string;
  /** 'original', the real data set's variant name, or a made transformation. */
  transform: string;
  /** Where it comes from, for the whitening split. */
  origin: 'near-dup' | 'ukbench-made' | 'paris' | 'scenes';
  landmark?: string;
  width: number;
  height: number;
  format: string;
}

type Transform = (img: Sharp, w: number, h: number) => Sharp;
const centreCrop = (f: number): Transform => (img, w, h) => img.extract({ left: Math.round((w * (1 - f)) / 2), top: Math.round((h * (1 - f)) / 2), width: Math.round(w * f), height: Math.round(h * f) });

/** Edits that keep the shot: what "near" must catch. The rot90/180/270 are the ones a global descriptor may miss. */
const TRANSFORMS: Record<string, Transform> = {
  'resize-50%': (img, w) => img.resize({ width: Math.round(w / 2) }),
  'resize-25%': (img, w) => img.resize({ width: Math.round(w / 4) }),
  'squash-300×300': (img) => img.resize(300, 300, { fit: 'fill' }),
  'jpeg-q20': (img) => img.jpeg({ quality: 20 }),
  'webp-q40': (img) => img.webp({ quality: 40 }),
  grey: (img) => img.greyscale(),
  'brighter+contrast': (img) => img.linear(1.25, -15),
  'crop-90%': centreCrop(0.9),
  'crop-80%': centreCrop(0.8),
  'crop-left-15%': (img, w, h) => img.extract({ left: Math.round(w * 0.15), top: 0, width: w - Math.round(w * 0.15), height: h }),
  'rotate-15°': (img) => img.rotate(15, { background: '#000' }),
  hflip: (img) => img.flop(),
  vflip: (img) => img.flip(),
  'rot90': (img) => img.rotate(90),
  'rot180': (img) => img.rotate(180),
  'rot270': (img) => img.rotate(270),
};
/** The requirement's classes: each must land in its original's near group. */
const REQUIRED = new Set(['resize', 'gray', 'rotation', 'hflip', 'alpha-png', 'webp', 'resize-50%', 'resize-25%', 'squash-300×300', 'grey', 'rotate-15°', 'hflip', 'vflip', 'rot90', 'rot180', 'rot270']);
const QUARTER_TURNS = ['rot90', 'rot180', 'rot270'];

async function makeVariant(original: Buffer, name: string): Promise<Buffer> {
  // Bake the EXIF orientation in first (ukbench09268 carries orientation 6), as an editor would.
  const upright = await sharp(original).rotate().toBuffer({ resolveWithObject: true });
  const { width, height } = upright.info;
  const out = TRANSFORMS[name](sharp(upright.data), width, height);
  return name.startsWith('jpeg') || name.startsWith('webp') ? out.toBuffer() : out.jpeg({ quality: 90 }).toBuffer();
}

async function meta(bytes: Buffer): Promise<{ width: number; height: number; format: string }> {
  const m = await sharp(bytes).metadata();
  const turned = (m.orientation ?? 1) >= 5;
  return { width: (turned ? m.height : m.width) ?? 0, height: (turned ? m.width : m.height) ?? 0, format: m.format ?? '?' };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.name !== 'LICENSE') out.push(p);
  }
  return out.sort();
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Collected {
  items: Item[];
  /** content hash → every file with those bytes (the exact tier). */
  filesByHash: Map<string, string[]>;
  unreadable: { file: string; reason: string }[];
}

async function collect(): Promise<Collected> {
  const items: Item[] = [];
  const filesByHash = new Map<string, string[]>();
  const unreadable: Collected['unreadable'] = [];
  const seen = new Set<string>();
  const add = async (item: Omit<Item, 'width' | 'height' | 'format'>, file?: string): Promise<void> => {
    const h = sha(item.bytes);
    if (file) filesByHash.set(h, [...(filesByHash.get(h) ?? []), file]);
    if (seen.has(h)) return;
    let m: Awaited<ReturnType<typeof meta>>;
    try {
      m = await meta(item.bytes);
    } catch (e) {
      unreadable.push({ file: item.label, reason: (e as Error).message });
      return;
    }
    seen.add(h);
    items.push({ ...item, ...m });
  };

  // near-dup: the real files. Base photos first so that the "original" is the one kept per hash.
  const files = await walk(NEAR_DUP);
  files.sort((a, b) => Number(!a.includes('base_images')) - Number(!b.includes('base_images')) || (a < b ? -1 : 1));
  const alphaMatches = await samePixels(path.join(NEAR_DUP, 'alpha_channel_image.png'), path.join(NEAR_DUP, 'base_images/ukbench00120.jpg'));
  for (const file of files) {
    const rel = path.relative(NEAR_DUP, file);
    const name = path.basename(file);
    const num = /ukbench(\d{5})/.exec(name)?.[1];
    let shot: string;
    let transform: string;
    if (num) {
      shot = `ukbench${num}`;
      const variant = /ukbench\d{5}_([a-z]+)/.exec(name)?.[1];
      transform = variant ?? (path.extname(name) === '.webp' ? 'webp' : 'original');
    } else if (name === 'alpha_channel_image.png' && alphaMatches) {
      shot = 'ukbench00120';
      transform = 'alpha-png';
    } else {
      shot = `other:${name}`;
      transform = 'original';
    }
    const n = /^ukbench(\d{5})$/.exec(shot)?.[1];
    const subject = n ? `ukbench-object-${Math.floor(Number(n) / 4)}` : shot;
    await add({ label: `near-dup/${rel}`, bytes: await fs.readFile(file), shot, subject, transform, origin: 'near-dup' }, rel);
  }
  const objects = new Map<string, Set<string>>();
  for (const it of items) if (it.shot.startsWith('ukbench')) objects.set(it.subject!, new Set([...(objects.get(it.subject!) ?? []), it.shot]));
  const shared = [...objects.values()].filter((s) => s.size > 1);
  log(`UKBench objects with several numbers (views) in this subset: ${shared.length === 0 ? 'none' : shared.map((s) => [...s].join('+')).join(', ')}`);

  // Made variants of each UKBench base photo.
  for (const file of files.filter((f) => f.includes('base_images'))) {
    const bytes = await fs.readFile(file);
    const shot = path.basename(file, path.extname(file));
    const subject = `ukbench-object-${Math.floor(Number(shot.slice(7)) / 4)}`;
    for (const t of Object.keys(TRANSFORMS)) {
      await add({ label: `made/${shot}/${t}`, bytes: await makeVariant(bytes, t), shot, subject, transform: t, origin: 'ukbench-made' });
    }
  }

  // Paris6k-mini: every photo; the landmark is its subject only where the ground truth says so.
  const protocol = await loadParis6kMini(PARIS, 'B');
  const landmarkOfImage = new Map<string, string>();
  for (const q of protocol.queries) {
    const lm = q.id.replace(/^paris_/, '').replace(/_\d+$/, '');
    landmarkOfImage.set(q.id, lm);
  }
  const perLandmark = new Map<string, number>();
  for (const img of protocol.database) {
    const folder = path.basename(path.dirname(img.image));
    const lm = landmarkOfImage.get(img.id);
    const bytes = await fs.readFile(img.image);
    await add({ label: `paris/${img.id}`, bytes, shot: `paris:${img.id}`, subject: lm ? `paris:${lm}` : undefined, transform: 'original', origin: 'paris', landmark: folder });
    // Variants of the first few ground-truth photos of each landmark.
    const n = perLandmark.get(folder) ?? 0;
    if (lm && n < parisSourcesPerLandmark) {
      perLandmark.set(folder, n + 1);
      for (const t of Object.keys(TRANSFORMS)) {
        await add({ label: `made/${img.id}/${t}`, bytes: await makeVariant(bytes, t), shot: `paris:${img.id}`, subject: `paris:${lm}`, transform: t, origin: 'paris', landmark: folder });
      }
    }
  }

  // Scenes: the pairs of one scene are "similar"; the rest are distractors.
  const scenePairs: Record<string, string> = {
    aloeL: 'aloe', aloeR: 'aloe', leuvenA: 'leuven', leuvenB: 'leuven', graf1: 'graf', graf3: 'graf', aero1: 'aero', aero3: 'aero',
    box: 'box', box_in_scene: 'box', Blender_Suzanne1: 'suzanne', Blender_Suzanne2: 'suzanne', motorcycle_left: 'motorcycle', motorcycle_right: 'motorcycle',
    basketball1: 'basketball', basketball2: 'basketball', rubberwhale1: 'rubberwhale', rubberwhale2: 'rubberwhale',
  };
  for (const file of await walk(SCENES)) {
    if (!/\.(jpe?g|png)$/i.test(file)) continue;
    const stem = path.basename(file, path.extname(file));
    await add({ label: `scenes/${path.relative(SCENES, file)}`, bytes: await fs.readFile(file), shot: `scene:${stem}`, subject: `scene:${scenePairs[stem] ?? stem}`, transform: 'original', origin: 'scenes' });
  }
  return { items, filesByHash, unreadable };
}

async function samePixels(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([sharp(a).removeAlpha().raw().toBuffer(), sharp(b).removeAlpha().raw().toBuffer()]);
  if (x.length !== y.length) return false;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs(x[i] - y[i]);
  // JPEG decoding noise only: a few levels on average, where another photo differs by tens.
  return sum / x.length < 3;
}

// ------------------------------------------------------------------------------------------------
// Pair statistics

type PairClass = 'same-shot' | 'same-subject' | 'unrelated' | 'unknown';

function classOf(a: Item, b: Item): PairClass {
  if (a.shot === b.shot) return 'same-shot';
  if (a.subject === undefined || b.subject === undefined) {
    // Paris photos outside the ground truth may or may not show the landmark of their folder.
    return a.landmark && a.landmark === b.landmark ? 'unknown' : 'unrelated';
  }
  return a.subject === b.subject ? 'same-subject' : 'unrelated';
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

interface Pair {
  i: number;
  j: number;
  s: number;
  cls: PairClass;
}

function pairs(items: Item[], vecs: Float32Array[], keep: (it: Item) => boolean): Pair[] {
  const idx = items.map((_, i) => i).filter((i) => keep(items[i]));
  const out: Pair[] = [];
  for (let x = 0; x < idx.length; x++) {
    for (let y = x + 1; y < idx.length; y++) {
      const i = idx[x];
      const j = idx[y];
      out.push({ i, j, s: dot(vecs[i], vecs[j]), cls: classOf(items[i], items[j]) });
    }
  }
  return out;
}

const f4 = (x: number) => x.toFixed(4);
const pct = (x: number) => (Number.isNaN(x) ? '   –  ' : `${(100 * x).toFixed(1).padStart(5)}%`);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
}

function nearReport(title: string, items: Item[], vecs: Float32Array[], keep: (it: Item) => boolean, sweep: number[]): void {
  const ps = pairs(items, vecs, keep);
  const pos = ps.filter((p) => p.cls === 'same-shot');
  const toOriginal = pos.filter((p) => items[p.i].transform === 'original' || items[p.j].transform === 'original');
  const neg = ps.filter((p) => p.cls !== 'same-shot');
  const hard = neg.filter((p) => p.cls === 'same-subject');
  console.log(`\n### Near tier — ${title}`);
  console.log(`${ps.length} pairs: ${pos.length} same-shot (${toOriginal.length} variant↔original), ${neg.length} different shots (${hard.length} of the same subject).`);

  // Each transformation against its original.
  const byT = new Map<string, number[]>();
  for (const p of toOriginal) {
    const variant = items[p.i].transform === 'original' ? items[p.j] : items[p.i];
    byT.set(variant.transform, [...(byT.get(variant.transform) ?? []), p.s]);
  }
  const negSorted = neg.map((p) => p.s).sort((a, b) => a - b);
  const hardSorted = hard.map((p) => p.s).sort((a, b) => a - b);
  console.log(`different shots: median ${f4(quantile(negSorted, 0.5))}, 99th pct ${f4(quantile(negSorted, 0.99))}, max ${f4(negSorted.at(-1) ?? NaN)}; same subject: median ${f4(quantile(hardSorted, 0.5))}, max ${f4(hardSorted.at(-1) ?? NaN)}`);
  console.log('\n| variant vs its original | n | min | median |');
  console.log('|---|---|---|---|');
  for (const [t, v] of [...byT].sort((a, b) => Math.min(...a[1]) - Math.min(...b[1]))) {
    const s = [...v].sort((a, b) => a - b);
    console.log(`| ${t} | ${s.length} | ${f4(s[0])} | ${f4(quantile(s, 0.5))} |`);
  }
  const worst = [...neg].sort((a, b) => b.s - a.s).slice(0, 6);
  console.log(`\nhighest-scoring different-shot pairs: ${worst.map((p) => `${f4(p.s)} ${items[p.i].label} ~ ${items[p.j].label} (${p.cls})`).join('; ')}`);

  const upright = (p: Pair) => !QUARTER_TURNS.includes(items[p.i].transform) && !QUARTER_TURNS.includes(items[p.j].transform);
  console.log('\n| τ | precision | recall, all same-shot pairs | recall, variant↔original | … without quarter turns | false pairs |');
  console.log('|---|---|---|---|---|---|');
  for (const tau of sweep) {
    const tp = pos.filter((p) => p.s >= tau).length;
    const fp = neg.filter((p) => p.s >= tau).length;
    const toO = toOriginal.filter((p) => p.s >= tau).length;
    const up = toOriginal.filter(upright);
    const upHit = up.filter((p) => p.s >= tau).length;
    console.log(`| ${tau.toFixed(3)} | ${pct(tp / (tp + fp))} | ${pct(tp / pos.length)} | ${pct(toO / toOriginal.length)} | ${pct(upHit / up.length)} | ${fp} |`);
  }
}

function similarReport(title: string, items: Item[], vecs: Float32Array[], keep: (it: Item) => boolean, sweep: number[]): void {
  const ps = pairs(items, vecs, (it) => keep(it) && it.transform === 'original').filter((p) => p.cls !== 'unknown' && p.cls !== 'same-shot');
  const pos = ps.filter((p) => p.cls === 'same-subject');
  const neg = ps.filter((p) => p.cls === 'unrelated');
  console.log(`\n### Similar tier — ${title}`);
  console.log(`${pos.length} pairs of one subject, ${neg.length} unrelated pairs (originals only).`);
  const sp = pos.map((p) => p.s).sort((a, b) => a - b);
  const sn = neg.map((p) => p.s).sort((a, b) => a - b);
  console.log(`same subject: median ${f4(quantile(sp, 0.5))}, 90th pct ${f4(quantile(sp, 0.9))}; unrelated: median ${f4(quantile(sn, 0.5))}, 99th pct ${f4(quantile(sn, 0.99))}, 99.9th ${f4(quantile(sn, 0.999))}, max ${f4(sn.at(-1) ?? NaN)}`);
  console.log('\n| τ | precision | recall | unrelated pairs above |');
  console.log('|---|---|---|---|');
  for (const tau of sweep) {
    const tp = pos.filter((p) => p.s >= tau).length;
    const fp = neg.filter((p) => p.s >= tau).length;
    console.log(`| ${tau.toFixed(3)} | ${pct(tp / (tp + fp))} | ${pct(tp / pos.length)} | ${fp} |`);
  }
}

// ------------------------------------------------------------------------------------------------
// The grouping itself, with the thresholds hard-coded in duplicateGroups.ts

interface GroupOutcome {
  required: number;
  grouped: number;
  missed: string[];
  nearGroups: number;
  /** Near groups holding two different shots / two different subjects. */
  mixedShots: string[][];
  mixedSubjects: number;
  similarGroups: number;
  similarMixed: number;
}

function runGroups(items: Item[], vecs: Float32Array[], idx: number[], thresholds: DuplicateThresholds, alternatives?: Map<number, Float32Array[]>, required = (it: Item) => REQUIRED.has(it.transform)): GroupOutcome {
  const matrix = new DescriptorMatrix(vecs[0].length, idx.length);
  const photos: DuplicatePhoto[] = [];
  for (const i of idx) {
    matrix.upsert(i, vecs[i]);
    const it = items[i];
    photos.push({ id: i, contentHash: sha(it.bytes), width: it.width, height: it.height, size: it.bytes.length, format: it.format });
  }
  const inSet = new Set(idx);
  const alts = alternatives && new Map([...alternatives].filter(([i]) => inSet.has(i)));
  const groups = findDuplicateGroups({ matrix, photos, thresholds, tiers: ['near', 'similar'], alternatives: alts, neighbours: 40 });
  const near = groups.filter((g) => g.tier === 'near');
  const groupOf = new Map<number, number>();
  near.forEach((g, n) => g.members.forEach((m) => groupOf.set(m, n)));
  const originals = new Map<string, number>();
  for (const i of idx) if (items[i].transform === 'original' && !originals.has(items[i].shot)) originals.set(items[i].shot, i);
  const missed: string[] = [];
  let requiredCount = 0;
  for (const i of idx) {
    const o = originals.get(items[i].shot);
    if (!required(items[i]) || o === undefined || o === i) continue;
    requiredCount++;
    if (groupOf.get(i) === undefined || groupOf.get(i) !== groupOf.get(o)) missed.push(`${items[i].label} (${f4(dot(vecs[i], vecs[o]))} to its original)`);
  }
  const similar = groups.filter((g) => g.tier === 'similar');
  return {
    required: requiredCount,
    grouped: requiredCount - missed.length,
    missed,
    nearGroups: near.length,
    mixedShots: near.filter((g) => new Set(g.members.map((m) => items[m].shot)).size > 1).map((g) => g.members.map((m) => items[m].label)),
    mixedSubjects: near.filter((g) => new Set(g.members.map((m) => items[m].subject ?? items[m].shot)).size > 1).length,
    similarGroups: similar.length,
    similarMixed: similar.filter((g) => new Set(g.members.map((m) => items[m].subject ?? `?${items[m].shot}`)).size > 1).length,
  };
}

function groupCheck(title: string, items: Item[], vecs: Float32Array[], keep: (it: Item) => boolean, thresholds: DuplicateThresholds, alternatives?: Map<number, Float32Array[]>): void {
  const o = runGroups(items, vecs, items.map((_, i) => i).filter((i) => keep(items[i])), thresholds, alternatives);
  console.log(`\n### Groups — ${title}`);
  console.log(`thresholds ${JSON.stringify(thresholds)}`);
  console.log(`- required variants (resized, grey, rotated, flipped, re-encoded) in their original's near group: **${o.grouped}/${o.required}**`);
  if (o.missed.length) console.log(`  - missed: ${o.missed.slice(0, 10).join('; ')}${o.missed.length > 10 ? ` … (${o.missed.length})` : ''}`);
  console.log(`- near groups: ${o.nearGroups}; holding two different shots: **${o.mixedShots.length}**; two different subjects: **${o.mixedSubjects}**`);
  for (const g of o.mixedShots.slice(0, 4)) console.log(`  - ${g.length > 6 ? `${g.slice(0, 6).join(' + ')} + … (${g.length})` : g.join(' + ')}`);
  console.log(`- similar groups: ${o.similarGroups}; mixing subjects: ${o.similarMixed}`);
}

/**
 * The made variants one kind at a time: a library of every original plus one variant of each,
 * as a real library would hold (a copy or two of a photo, not sixteen).
 */
function perTransformCheck(title: string, items: Item[], vecs: Float32Array[], keep: (it: Item) => boolean, thresholds: DuplicateThresholds, alternatives?: Map<number, Float32Array[]>): void {
  console.log(`\n### Groups, one kind of variant at a time — ${title}`);
  console.log(`thresholds ${JSON.stringify(thresholds)}\n`);
  console.log('| variant | in its original\'s near group | near groups mixing shots |');
  console.log('|---|---|---|');
  let total = 0;
  let grouped = 0;
  let mixed = 0;
  for (const t of Object.keys(TRANSFORMS)) {
    const idx = items.map((_, i) => i).filter((i) => keep(items[i]) && (items[i].transform === 'original' || (items[i].transform === t && items[i].origin !== 'near-dup')));
    const o = runGroups(items, vecs, idx, thresholds, alternatives, (it) => it.transform === t);
    total += o.required;
    grouped += o.grouped;
    mixed += o.mixedShots.length;
    console.log(`| ${t} | ${o.grouped}/${o.required} | ${o.mixedShots.length}${o.mixedShots.length ? ` (${o.mixedShots.slice(0, 2).map((g) => g.join(' + ')).join('; ')})` : ''} |`);
  }
  console.log(`| all | **${grouped}/${total}** | **${mixed}** |`);
}

// ------------------------------------------------------------------------------------------------

function centre(vecs: Float32Array[], idx: number[]): Float32Array[] {
  const d = vecs[0].length;
  const mean = new Float64Array(d);
  for (const i of idx) for (let c = 0; c < d; c++) mean[c] += vecs[i][c] / idx.length;
  return vecs.map((v) => {
    const out = new Float32Array(d);
    let n = 0;
    for (let c = 0; c < d; c++) {
      out[c] = v[c] - mean[c];
      n += out[c] * out[c];
    }
    const inv = 1 / Math.sqrt(n);
    for (let c = 0; c < d; c++) out[c] *= inv;
    return out;
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-calibrate-'));
  // Keep any whitening of the user's profile out: this measures the unwhitened descriptor.
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  try {
    const model = await buildDefaultModel(undefined, new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') }), 'user');
    const engine = await DescriptorEngine.open(model, { whitening: 'none' });
    try {
      const { items: collected, filesByHash, unreadable } = await collect();
      log(`${collected.length} distinct images to describe`);
      const describeRaw = (bytes: Buffer) => engine.pool.describe(bytes, { scales: engine.defaultScales });
      const raws: (RawDescription | undefined)[] = new Array(collected.length);
      let done = 0;
      await Promise.all(collected.map(async (it, i) => {
        try {
          raws[i] = await describeRaw(it.bytes);
        } catch (e) {
          unreadable.push({ file: it.label, reason: (e as Error).message });
        }
        if (++done % 100 === 0) log(`described ${done}/${collected.length}`);
      }));
      const ok = collected.map((_, i) => i).filter((i) => raws[i]);
      const items = ok.map((i) => collected[i]);
      const rs = ok.map((i) => raws[i]!);
      const plain = rs.map((r) => engine.fromRaw(r).global);

      // Whitening, learned honestly: on the region vectors of two landmarks' photos, measured on
      // everything else (UKBench, scenes, the other three landmarks).
      const fitOn = (it: Item) => it.origin === 'paris' && (it.landmark === 'defense' || it.landmark === 'eiffel_tower') && it.transform === 'original';
      const heldOut = (it: Item) => !(it.origin === 'paris' && (it.landmark === 'defense' || it.landmark === 'eiffel_tower'));
      const regionRows: Float32Array[] = [];
      rs.forEach((r, i) => { if (fitOn(items[i])) for (const sc of r.scales) for (const reg of sc.regions) regionRows.push(reg.vector); });
      const channels = regionRows[0].length;
      const data = new Float32Array(regionRows.length * channels);
      regionRows.forEach((v, i) => data.set(v, i * channels));
      const whitening: Whitening = await fitWhitening(data, regionRows.length, channels, { fittedOn: 'paris6k-mini defense + eiffel' });
      const whitened = rs.map((r) => aggregateRmac(r.scales, whitening));
      // The no-fit alternative: centre on the library's own mean descriptor (whitening's shift step alone).
      const centred = centre(plain, items.map((_, i) => i).filter((i) => heldOut(items[i])));

      // Quarter turns: the originals' descriptors at 90°, 180° and 270°, offered as alternatives.
      const turnedOriginals = items.map((_, i) => i).filter((i) => items[i].transform === 'original' && items.some((o) => o.shot === items[i].shot && QUARTER_TURNS.includes(o.transform)));
      const altPlain = new Map<number, Float32Array[]>();
      const altWhitened = new Map<number, Float32Array[]>();
      await Promise.all(turnedOriginals.map(async (i) => {
        const turned = await Promise.all([90, 180, 270].map(async (deg) => describeRaw(await sharp(items[i].bytes).rotate().rotate(deg).jpeg({ quality: 95 }).toBuffer())));
        altPlain.set(i, turned.map((r) => engine.fromRaw(r).global));
        altWhitened.set(i, turned.map((r) => aggregateRmac(r.scales, whitening)));
      }));

      console.log(`# Near-duplicate calibration — ${model.meta.name}, long side ${engine.defaultScales.join('/')}, ${plain[0].length}-d`);
      console.log(`\n${items.length} distinct images described in ${((Date.now() - started) / 1000).toFixed(0)} s. Unreadable (broken, or a format sharp does not decode): ${unreadable.map((u) => u.file).join(', ')}.`);
      const exact = [...filesByHash].filter(([, f]) => f.length > 1);
      console.log(`Exact tier (byte-identical files in near-dup/): ${exact.map(([, f]) => f.join(' = ')).join('; ')}.`);

      const ukbench = (it: Item) => it.origin === 'near-dup' || it.origin === 'ukbench-made';
      const nearDupFiles = (it: Item) => it.origin === 'near-dup';
      const all = () => true;
      const nearSweep = [0.96, 0.97, 0.975, 0.978, 0.979, 0.98, 0.981, 0.982, 0.983, 0.984, 0.985, 0.988, 0.99, 0.992, 0.995];
      const simSweep = [0.94, 0.95, 0.96, 0.965, 0.97, 0.975, 0.978, 0.979, 0.98, 0.985];

      console.log('\n## A. The requirement set, unwhitened: UKBench (near-dup/ files and variants made from its 10 base photos)');
      nearReport('near-dup/ files only', items, plain, nearDupFiles, nearSweep);
      nearReport('near-dup/ files and made variants', items, plain, ukbench, nearSweep);
      groupCheck('near-dup/ files only, DEFAULT_THRESHOLDS', items, plain, nearDupFiles, DEFAULT_THRESHOLDS);
      perTransformCheck('UKBench, DEFAULT_THRESHOLDS', items, plain, ukbench, DEFAULT_THRESHOLDS);
      perTransformCheck('UKBench, DEFAULT_THRESHOLDS, originals described at 90°/180°/270° as alternatives', items, plain, ukbench, DEFAULT_THRESHOLDS, altPlain);
      const turned = items.map((_, i) => i).filter((i) => QUARTER_TURNS.includes(items[i].transform));
      const originalOf = new Map(turnedOriginals.map((i) => [items[i].shot, i]));
      const lifted = turned.map((i) => Math.max(...altPlain.get(originalOf.get(items[i].shot)!)!.map((v) => dot(v, plain[i]))));
      let worst = { s: -Infinity, label: '' };
      for (const o of turnedOriginals) {
        for (const v of altPlain.get(o)!) {
          for (let j = 0; j < items.length; j++) {
            const s = items[j].shot === items[o].shot ? -Infinity : dot(v, plain[j]);
            if (s > worst.s) worst = { s, label: `${items[o].label} turned ~ ${items[j].label}` };
          }
        }
      }
      console.log(`\nQuarter turns vs their original: plain min ${f4(Math.min(...turned.map((i) => dot(plain[i], plain[originalOf.get(items[i].shot)!]))))}; best over the original's turned descriptors min ${f4(Math.min(...lifted))}. Cost: a turned original also reaches other shots: up to ${f4(worst.s)} (${worst.label}).`);

      console.log('\n## B. A broader library, unwhitened: + Paris6k-mini (5 landmarks, 250 photos) and scenes/');
      nearReport('everything', items, plain, all, nearSweep);
      similarReport('everything', items, plain, all, simSweep);
      groupCheck('everything, DEFAULT_THRESHOLDS', items, plain, all, DEFAULT_THRESHOLDS);

      console.log(`\n## C. Whitened: PCA-whitening ${whitening.dim}-d fitted on ${regionRows.length} region vectors of defense + eiffel photos; measured on everything else`);
      const wSweep = [0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9];
      nearReport('unwhitened, same held-out set (for comparison)', items, plain, heldOut, nearSweep);
      nearReport('whitened, held-out set', items, whitened, heldOut, wSweep);
      similarReport('unwhitened, same held-out set (for comparison)', items, plain, heldOut, simSweep);
      similarReport('whitened, held-out set', items, whitened, heldOut, [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]);
      groupCheck('whitened, held-out set, WHITENED_THRESHOLDS', items, whitened, heldOut, WHITENED_THRESHOLDS);
      groupCheck('whitened, near-dup/ files only, WHITENED_THRESHOLDS', items, whitened, nearDupFiles, WHITENED_THRESHOLDS);
      perTransformCheck('UKBench, whitened, WHITENED_THRESHOLDS', items, whitened, ukbench, WHITENED_THRESHOLDS);
      perTransformCheck('UKBench, whitened, WHITENED_THRESHOLDS, turned originals as alternatives', items, whitened, ukbench, WHITENED_THRESHOLDS, altWhitened);

      console.log('\n## D. Centred on the library\'s mean descriptor (no fit on other photos), held-out set');
      nearReport('centred', items, centred, heldOut, wSweep);
      similarReport('centred', items, centred, heldOut, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
      console.log('\n## Chosen (hard-coded in app/search/duplicateGroups.ts, with the reasons)');
      console.log(`- unwhitened, DEFAULT_THRESHOLDS: ${JSON.stringify(DEFAULT_THRESHOLDS)}`);
      console.log(`- whitened, WHITENED_THRESHOLDS: ${JSON.stringify(WHITENED_THRESHOLDS)}`);
      console.log(`\nTotal ${((Date.now() - started) / 1000).toFixed(0)} s.`);
    } finally {
      await engine.close();
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

await main();
