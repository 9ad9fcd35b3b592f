// Evaluation protocols: which images are queries, what each query should find and what is not
// held against it. Every protocol comes out in one shape (EvalProtocol), so the benchmark runs
// them all the same way: rank `database` for each query, then averagePrecision(ranking ids,
// positives, junk).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadOxfordGroundTruth, type Box, type OxfordQuery } from './groundTruth.js';

export interface EvalImage {
  id: string;
  /** Absolute path of the image file. */
  image: string;
}

export interface EvalQuery extends EvalImage {
  /** Crop to this box (image pixels) before describing the query; absent = the whole image. */
  box?: Box;
  positives: Set<string>;
  /** Removed from the ranking before AP is computed. */
  junk: Set<string>;
}

export interface EvalProtocol {
  name: string;
  /** Everything a query ranks, sorted by id. */
  database: EvalImage[];
  queries: EvalQuery[];
}

/** The landmark of an Oxford/Paris query name: `moulinrouge_2` → `moulinrouge`. */
export function landmarkOf(queryName: string): string {
  return queryName.replace(/_\d+$/, '');
}

function databaseOf(images: ReadonlyMap<string, string>): EvalImage[] {
  return [...images].map(([id, image]) => ({ id, image })).sort((a, b) => compareIds(a.id, b.id));
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function present(ids: Iterable<string>, images: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  for (const id of ids) if (images.has(id)) out.add(id);
  return out;
}

/**
 * Protocol A of `shared/data/README.md`, i.e. the standard Oxford/Paris protocol restricted to the
 * images at hand: every query whose image is present, cropped to its box, ranks all present
 * images; positives = good ∪ ok present, junk = junk present. The query image itself stays in the
 * database (it is in its own ok list), exactly as in the full benchmark.
 *
 * @param images present images, id (file name without extension) → path
 */
export function paris6kMiniProtocolA(gt: readonly OxfordQuery[], images: ReadonlyMap<string, string>): EvalProtocol {
  const queries: EvalQuery[] = gt
    .filter((q) => images.has(q.image))
    .map((q) => ({
      id: q.name,
      image: images.get(q.image)!,
      box: { ...q.box },
      positives: present([...q.good, ...q.ok], images),
      junk: present(q.junk, images),
    }));
  return { name: 'paris6k-mini A (cropped queries)', database: databaseOf(images), queries };
}

/**
 * Protocol B of `shared/data/README.md`: "every positive image as a query (uncropped) against the
 * rest". The rule, made precise:
 * - The landmarks are those of the queries Protocol A uses (the queries whose image is present).
 *   A landmark's positive set is good ∪ ok over all its queries, restricted to present images, and
 *   its junk set likewise. (In Paris6k the five queries of a landmark share the same lists, so
 *   this is simply "the landmark's ground truth".)
 * - Every image in some landmark's positive set is a query, whole image, no box.
 * - Its positives: the other members of the positive sets it belongs to (of every landmark it is
 *   positive for; on this subset each image belongs to exactly one).
 * - Its junk: those landmarks' junk images that are not positives, plus itself — "against the
 *   rest" means it must not be rewarded for finding itself, and dropping it from the ranking is
 *   what junk does. Images of other landmarks, including their junk, are negatives, as in A.
 */
export function paris6kMiniProtocolB(gt: readonly OxfordQuery[], images: ReadonlyMap<string, string>): EvalProtocol {
  const landmarks = new Set(gt.filter((q) => images.has(q.image)).map((q) => landmarkOf(q.name)));
  const positivesOf = new Map<string, Set<string>>();
  const junkOf = new Map<string, Set<string>>();
  for (const q of gt) {
    const lm = landmarkOf(q.name);
    if (!landmarks.has(lm)) continue;
    const pos = positivesOf.get(lm) ?? new Set<string>();
    const junk = junkOf.get(lm) ?? new Set<string>();
    for (const id of present([...q.good, ...q.ok], images)) pos.add(id);
    for (const id of present(q.junk, images)) junk.add(id);
    positivesOf.set(lm, pos);
    junkOf.set(lm, junk);
  }

  const memberships = new Map<string, string[]>(); // image id → landmarks it is positive for
  for (const [lm, pos] of positivesOf) {
    for (const id of pos) memberships.set(id, [...(memberships.get(id) ?? []), lm]);
  }

  const queries: EvalQuery[] = [...memberships.keys()].sort(compareIds).map((id) => {
    const positives = new Set<string>();
    const junk = new Set<string>();
    for (const lm of memberships.get(id)!) {
      for (const p of positivesOf.get(lm)!) positives.add(p);
      for (const j of junkOf.get(lm)!) junk.add(j);
    }
    positives.delete(id);
    for (const p of positives) junk.delete(p);
    junk.add(id);
    return { id, image: images.get(id)!, positives, junk };
  });
  return { name: 'paris6k-mini B (every positive as an uncropped query)', database: databaseOf(images), queries };
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif', '.heic', '.heif', '.bmp']);

function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/** Image files under `dir`, recursively, as paths relative to `dir` with `/` separators, sorted. Hidden entries are skipped. */
async function listImageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  // Symlinks are followed (evaluation sets are often assembled from links); real paths already
  // visited are skipped so a link loop cannot recurse forever.
  const visited = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const real = await fs.realpath(path.join(dir, rel));
    if (visited.has(real)) return;
    visited.add(real);
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      const target = e.isSymbolicLink() ? await fs.stat(path.join(dir, child)).catch(() => undefined) : e;
      if (!target) continue;
      if (target.isDirectory()) await walk(child);
      else if (target.isFile() && isImageFile(e.name)) out.push(child);
    }
  };
  await walk('');
  return out.sort(compareIds);
}

/**
 * Images under `dir` (recursively) by id = file name without extension, the naming the
 * Oxford/Paris lists use. Two files with the same id would make the ground truth ambiguous: error.
 */
export async function listImagesById(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const rel of await listImageFiles(dir)) {
    const id = path.posix.basename(rel, path.posix.extname(rel));
    const abs = path.resolve(dir, rel);
    const prev = out.get(id);
    if (prev !== undefined) throw new Error(`Two images share the id "${id}": ${prev} and ${abs}`);
    out.set(id, abs);
  }
  return out;
}

/** `dataDir` is `shared/data/paris6k-mini` (with `gt/` and `images/`). */
export async function loadParis6kMini(dataDir: string, protocol: 'A' | 'B'): Promise<EvalProtocol> {
  const [gt, images] = await Promise.all([loadOxfordGroundTruth(path.join(dataDir, 'gt')), listImagesById(path.join(dataDir, 'images'))]);
  if (images.size === 0) throw new Error(`No images under ${path.join(dataDir, 'images')}`);
  return protocol === 'A' ? paris6kMiniProtocolA(gt, images) : paris6kMiniProtocolB(gt, images);
}

export const DISTRACTORS_FOLDER = 'distractors';

/**
 * A folder laid out as one subfolder per group (photos of one place or object, nested folders
 * allowed) plus an optional `distractors/` folder, e.g. a user's own labelled test set. Every
 * grouped photo queries all others (whole image); positives = the rest of its group; junk = itself.
 * Ids are paths relative to `dir`. Images directly in `dir` belong to no group and are treated as
 * distractors. A photo alone in its group has nothing to find: it is in the database but not a
 * query (its AP would be undefined).
 */
export async function groupsProtocol(dir: string): Promise<EvalProtocol> {
  const files = await listImageFiles(dir);
  if (files.length === 0) throw new Error(`No images under ${dir}`);
  const groups = new Map<string, string[]>();
  for (const rel of files) {
    const slash = rel.indexOf('/');
    if (slash < 0) continue;
    const group = rel.slice(0, slash);
    if (group === DISTRACTORS_FOLDER) continue;
    groups.set(group, [...(groups.get(group) ?? []), rel]);
  }
  const database = files.map((rel) => ({ id: rel, image: path.resolve(dir, rel) }));
  const queries: EvalQuery[] = [];
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    for (const id of members) {
      queries.push({ id, image: path.resolve(dir, id), positives: new Set(members.filter((m) => m !== id)), junk: new Set([id]) });
    }
  }
  queries.sort((a, b) => compareIds(a.id, b.id));
  return { name: `groups in ${dir}`, database, queries };
}
