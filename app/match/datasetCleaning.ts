// Cleaning a noisy landmark dataset with image matching (DESIGN.md §1.5). Within each class the
// global descriptors shortlist every photo's nearest neighbours (a class of n photos costs about
// n·k verifications, not n²), local features verify the shortlisted pairs, and the largest
// connected component of the verified-pair graph is kept. Each kept photo gets the bounding box
// of its inlier keypoints over its verified pairs: the training target of the region proposal
// network. Every finished step is appended to a journal, so a stopped run resumes where it stopped.
import crypto from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { isImageInputError } from '../engine/imageErrors.js';
import type { PixelBox } from '../engine/imageInput.js';
import { connectedComponents } from '../search/connectedComponents.js';
import { sniffImageType, SNIFF_BYTES } from '../library/imageSniffer.js';
import type { PairVerification } from './geometricVerification.js';

export interface DatasetClass {
  name: string;
  /** Paths relative to the dataset folder, sorted. */
  photos: string[];
}

export interface CleaningSettings {
  /** Candidates per photo from the global descriptors (default 10). */
  shortlist: number;
  /** Identifies the global descriptors (model + whitening): journal entries made with others are ignored. */
  descriptorVersion: string;
  /** Identifies the local features and verification settings, for the same reason. */
  verificationVersion: string;
}

export interface CleaningDependencies {
  /** The photo's L2-normalised global descriptor. Throws `ImageInputError` for an unusable photo. */
  describe(file: string): Promise<Float32Array>;
  /** Verifies two photos (unusable photos give "not verified" with the reason). */
  verify(fileA: string, fileB: string): Promise<PairVerification>;
  /** Verifications in flight at once (default 4). */
  concurrency?: number;
  onProgress?(stage: 'describing' | 'verifying', done: number, total: number): void;
}

export interface VerifiedNeighbour {
  path: string;
  inliers: number;
  inlierRatio: number;
  model: PairVerification['model'];
}

export interface CleanedPhoto {
  /** Relative to the dataset folder. */
  path: string;
  class: string;
  kept: boolean;
  /** Why the photo was dropped. */
  reason?: string;
  /** Photos it verified with, most inliers first. */
  neighbours: VerifiedNeighbour[];
  /** Union of its inlier boxes over its verified pairs, in its original pixels; null without any. */
  box: PixelBox | null;
  /** Photos in its connected component (1 for an isolated photo). */
  component: number;
}

export interface ClassSummary {
  name: string;
  photos: number;
  kept: number;
  dropped: number;
  candidatePairs: number;
  verifiedPairs: number;
  components: number;
}

export interface CleaningReport {
  dataset: string;
  settings: CleaningSettings;
  classes: ClassSummary[];
  photos: CleanedPhoto[];
  stats: {
    photos: number;
    described: number;
    describedFromJournal: number;
    candidatePairs: number;
    verified: number;
    verifiedFromJournal: number;
    seconds: number;
  };
}

/** Only what the graph and the boxes need: a journal line stays small. */
interface PairRecord {
  verified: boolean;
  reason?: string;
  matches: number;
  inliers: number;
  inlierRatio: number;
  model: PairVerification['model'];
  boxA: PixelBox | null;
  boxB: PixelBox | null;
}

type JournalEntry =
  | { t: 'descriptor'; key: string; photo: string; vector?: string; error?: string }
  | { t: 'pair'; key: string; a: string; b: string; result: PairRecord };

/** Class folders (sorted) with the image files in them, recognised by content; hidden files are skipped. */
export async function listDataset(dir: string): Promise<DatasetClass[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const classes: DatasetClass[] = [];
  for (const e of entries.filter((x) => x.isDirectory() && !x.name.startsWith('.')).sort((a, b) => compareNames(a.name, b.name))) {
    const photos: string[] = [];
    await collectImages(dir, e.name, photos);
    photos.sort(compareNames);
    classes.push({ name: e.name, photos });
  }
  return classes;
}

async function collectImages(root: string, rel: string, out: string[]): Promise<void> {
  for (const e of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const child = path.join(rel, e.name);
    // Datasets are often assembled from links to photos kept elsewhere: a link counts as what it points to.
    const target = e.isSymbolicLink() ? await fs.stat(path.join(root, child)).catch(() => undefined) : e;
    if (!target) continue;
    if (target.isDirectory()) await collectImages(root, child, out);
    else if (target.isFile() && (await looksLikeImage(path.join(root, child)))) out.push(child.split(path.sep).join('/'));
  }
}

async function looksLikeImage(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return sniffImageType(head.subarray(0, bytesRead)) !== undefined;
  } finally {
    await handle.close();
  }
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Appends one JSON line per finished step; the lines already there are the work a restart skips. */
export class CleaningJournal {
  private constructor(readonly file: string, private readonly handle: fs.FileHandle, readonly entries: JournalEntry[]) {}

  static async open(file: string, fresh = false): Promise<CleaningJournal> {
    const entries: JournalEntry[] = [];
    if (fresh) await fs.rm(file, { force: true });
    else if (await fs.access(file).then(() => true, () => false)) {
      const lines = readline.createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
      for await (const line of lines) {
        // The last line of a run that was killed mid-write is cut short: it is simply redone.
        try {
          if (line.trim()) entries.push(JSON.parse(line) as JournalEntry);
        } catch {
          /* a torn line */
        }
      }
    }
    await fs.mkdir(path.dirname(file), { recursive: true });
    const handle = await fs.open(file, 'a');
    // A torn last line must not glue itself to the next entry.
    if ((await handle.stat()).size > 0) await handle.write('\n');
    return new CleaningJournal(file, handle, entries);
  }

  append(entry: JournalEntry): Promise<unknown> {
    return this.handle.write(`${JSON.stringify(entry)}\n`);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function decodeVector(s: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function pairKey(a: string, b: string): string {
  return `${a}\u0000${b}`;
}

/**
 * Each photo's `k` most similar photos of its class by global descriptor, as unordered pairs
 * (index pairs i < j into `vectors`). Photos without a descriptor (undefined) take no part.
 */
export function shortlistPairs(vectors: readonly (Float32Array | undefined)[], k: number): Array<[number, number]> {
  const pairs = new Set<string>();
  const out: Array<[number, number]> = [];
  for (let i = 0; i < vectors.length; i++) {
    const vi = vectors[i];
    if (!vi) continue;
    const scored: Array<[number, number]> = [];
    for (let j = 0; j < vectors.length; j++) {
      const vj = vectors[j];
      if (j === i || !vj) continue;
      let s = 0;
      for (let c = 0; c < vi.length; c++) s += vi[c] * vj[c];
      scored.push([s, j]);
    }
    scored.sort((p, q) => q[0] - p[0] || p[1] - q[1]);
    for (const [, j] of scored.slice(0, k)) {
      const [a, b] = i < j ? [i, j] : [j, i];
      const key = `${a},${b}`;
      if (!pairs.has(key)) {
        pairs.add(key);
        out.push([a, b]);
      }
    }
  }
  return out.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
}

function unionBox(a: PixelBox | null, b: PixelBox | null): PixelBox | null {
  if (!a) return b;
  if (!b) return a;
  const x0 = Math.min(a.x, b.x);
  const y0 = Math.min(a.y, b.y);
  const x1 = Math.max(a.x + a.width, b.x + b.width);
  const y1 = Math.max(a.y + a.height, b.y + b.height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function roundBox(b: PixelBox | null): PixelBox | null {
  if (!b) return null;
  const x0 = Math.floor(b.x);
  const y0 = Math.floor(b.y);
  return { x: x0, y: y0, width: Math.ceil(b.x + b.width) - x0, height: Math.ceil(b.y + b.height) - y0 };
}

/** Runs `task` over `items` with at most `limit` in flight, in order of start. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await task(items[next++]);
  });
  await Promise.all(lanes);
}

export async function cleanDataset(
  datasetDir: string,
  settings: CleaningSettings,
  deps: CleaningDependencies,
  journal?: CleaningJournal,
): Promise<CleaningReport> {
  const started = performance.now();
  const root = path.resolve(datasetDir);
  const classes = await listDataset(root);
  const descriptorKey = crypto.createHash('sha256').update(settings.descriptorVersion).digest('hex').slice(0, 16);
  const pairSettingsKey = crypto.createHash('sha256').update(settings.verificationVersion).digest('hex').slice(0, 16);

  const vectors = new Map<string, Float32Array>();
  const unusable = new Map<string, string>();
  const pairs = new Map<string, PairRecord>();
  for (const e of journal?.entries ?? []) {
    if (e.t === 'descriptor' && e.key === descriptorKey) {
      if (e.vector) vectors.set(e.photo, decodeVector(e.vector));
      else if (e.error) unusable.set(e.photo, e.error);
    } else if (e.t === 'pair' && e.key === pairSettingsKey) pairs.set(pairKey(e.a, e.b), e.result);
  }
  const stats: CleaningReport['stats'] = {
    photos: classes.reduce((s, c) => s + c.photos.length, 0),
    described: 0,
    describedFromJournal: 0,
    candidatePairs: 0,
    verified: 0,
    verifiedFromJournal: 0,
    seconds: 0,
  };

  // 1. Global descriptors.
  const allPhotos = classes.flatMap((c) => c.photos);
  const toDescribe = allPhotos.filter((p) => !vectors.has(p) && !unusable.has(p));
  stats.describedFromJournal = allPhotos.length - toDescribe.length;
  let described = 0;
  deps.onProgress?.('describing', 0, toDescribe.length);
  await forEachLimited(toDescribe, 8, async (photo) => {
    try {
      const v = await deps.describe(path.join(root, photo));
      vectors.set(photo, v);
      await journal?.append({ t: 'descriptor', key: descriptorKey, photo, vector: encodeVector(v) });
    } catch (e) {
      if (!isImageInputError(e)) throw e;
      unusable.set(photo, e.message);
      await journal?.append({ t: 'descriptor', key: descriptorKey, photo, error: e.message });
    }
    stats.described++;
    deps.onProgress?.('describing', ++described, toDescribe.length);
  });

  // 2. Shortlisted pairs per class, then verification of those the journal lacks.
  const candidates = classes.map((c) => shortlistPairs(c.photos.map((p) => vectors.get(p)), settings.shortlist).map(([i, j]) => [c.photos[i], c.photos[j]] as const));
  const allPairs = candidates.flat();
  stats.candidatePairs = allPairs.length;
  const toVerify = allPairs.filter(([a, b]) => !pairs.has(pairKey(a, b)));
  stats.verifiedFromJournal = allPairs.length - toVerify.length;
  let verified = 0;
  deps.onProgress?.('verifying', 0, toVerify.length);
  await forEachLimited(toVerify, deps.concurrency ?? 4, async ([a, b]) => {
    const r = await deps.verify(path.join(root, a), path.join(root, b));
    const record: PairRecord = {
      verified: r.verified,
      ...(r.reason ? { reason: r.reason } : {}),
      matches: r.matches,
      inliers: r.inliers,
      inlierRatio: Number(r.inlierRatio.toFixed(4)),
      model: r.model,
      boxA: roundBox(r.boxA),
      boxB: roundBox(r.boxB),
    };
    pairs.set(pairKey(a, b), record);
    await journal?.append({ t: 'pair', key: pairSettingsKey, a, b, result: record });
    stats.verified++;
    deps.onProgress?.('verifying', ++verified, toVerify.length);
  });

  // 3. The graph of each class and its largest component.
  const photos: CleanedPhoto[] = [];
  const summaries: ClassSummary[] = [];
  classes.forEach((c, ci) => {
    const index = new Map(c.photos.map((p, i) => [p, i]));
    const edges: Array<[number, number]> = [];
    const neighbours: VerifiedNeighbour[][] = c.photos.map(() => []);
    const boxes: Array<PixelBox | null> = c.photos.map(() => null);
    for (const [a, b] of candidates[ci]) {
      const r = pairs.get(pairKey(a, b))!;
      if (!r.verified) continue;
      const i = index.get(a)!;
      const j = index.get(b)!;
      edges.push([i, j]);
      neighbours[i].push({ path: b, inliers: r.inliers, inlierRatio: r.inlierRatio, model: r.model });
      neighbours[j].push({ path: a, inliers: r.inliers, inlierRatio: r.inlierRatio, model: r.model });
      boxes[i] = unionBox(boxes[i], r.boxA);
      boxes[j] = unionBox(boxes[j], r.boxB);
    }
    const roots = connectedComponents(c.photos.length, edges);
    const sizes = new Map<number, number>();
    const edgeCounts = new Map<number, number>();
    for (const r of roots) sizes.set(r, (sizes.get(r) ?? 0) + 1);
    for (const [i] of edges) edgeCounts.set(roots[i], (edgeCounts.get(roots[i]) ?? 0) + 1);
    // Largest component; ties go to the one with more verified pairs, then to the first photo.
    let best = -1;
    for (const [r, size] of sizes) {
      if (size < 2) continue;
      const bestSize = best < 0 ? 0 : sizes.get(best)!;
      if (size > bestSize || (size === bestSize && ((edgeCounts.get(r) ?? 0) > (edgeCounts.get(best) ?? 0) || ((edgeCounts.get(r) ?? 0) === (edgeCounts.get(best) ?? 0) && r < best)))) best = r;
    }
    const largest = best < 0 ? 0 : sizes.get(best)!;
    let kept = 0;
    c.photos.forEach((p, i) => {
      const keep = roots[i] === best;
      kept += keep ? 1 : 0;
      let reason: string | undefined;
      if (!keep) {
        const candidateCount = candidates[ci].filter(([a, b]) => a === p || b === p).length;
        if (unusable.has(p)) reason = `unreadable: ${unusable.get(p)}`;
        else if (neighbours[i].length === 0) reason = candidateCount === 0 ? 'no candidates to verify against' : `no verified match among its ${candidateCount} candidates`;
        else reason = `outside the largest group of its class (its group has ${sizes.get(roots[i])} photos, the largest ${largest})`;
      }
      neighbours[i].sort((x, y) => y.inliers - x.inliers || compareNames(x.path, y.path));
      photos.push({ path: p, class: c.name, kept: keep, ...(reason ? { reason } : {}), neighbours: neighbours[i], box: boxes[i], component: sizes.get(roots[i])! });
    });
    summaries.push({
      name: c.name,
      photos: c.photos.length,
      kept,
      dropped: c.photos.length - kept,
      candidatePairs: candidates[ci].length,
      verifiedPairs: edges.length,
      components: [...sizes.values()].filter((s) => s >= 2).length,
    });
  });
  stats.seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  return { dataset: root, settings, classes: summaries, photos, stats };
}
