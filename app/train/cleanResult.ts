// Reads which photos `sightline clean` (app/match, DESIGN.md §1.5) verified, so triplets take
// their positives only from photos that image matching confirmed. Two shapes are accepted:
//
//  - the report `sightline clean --out` writes: `{ dataset, photos: [{ path, class, kept }, …] }`,
//    paths relative to `dataset`. A photo it kept is a verified member of its classes; one it
//    dropped, or never saw, is not. This judges photos, not class names, so it also serves an
//    Oxford/Paris folder, whose classes (landmarks from the ground truth) are not the folder
//    names that `sightline clean` calls classes;
//  - a hand-written list per class: `{ "classes": [{ "name": "eiffel", "kept": ["eiffel/a.jpg", …] }] }`
//    (`classes` may also map names to lists). A class it does not name has no verified photo.
//
// Photos are named by a path relative to the dataset folder, an absolute path, or an Oxford/Paris
// image id (the file name without extension).
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

export interface CleanResult {
  file: string;
  /** Whether the photo is a verified member of the class. */
  verifies(image: { path: string; id: string }, cls: string): boolean;
  /** For the per-class shape: the classes it names (the others have no verified photo). */
  classes?: ReadonlySet<string>;
}

const imageList = z.array(z.string().min(1));
const cleanReportSchema = z.object({
  dataset: z.string(),
  photos: z.array(z.object({ path: z.string().min(1), class: z.string(), kept: z.boolean() }).passthrough()),
}).passthrough();
const classListSchema = z.object({
  classes: z.union([
    z.array(z.object({ name: z.string().min(1) }).passthrough()),
    z.record(z.string(), z.union([imageList, z.object({}).passthrough()])),
  ]),
}).passthrough();

function keptOf(body: Record<string, unknown>, where: string): string[] {
  for (const key of ['kept', 'images', 'verified']) {
    const parsed = imageList.safeParse(body[key]);
    if (parsed.success) return parsed.data;
  }
  throw new Error(`${where}: no "kept" list of images`);
}

function idOf(file: string): string {
  return path.basename(file, path.extname(file));
}

export async function readCleanResult(file: string, datasetDir: string): Promise<CleanResult> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`--clean ${file}: ${(e as Error).message}`);
  }
  const report = cleanReportSchema.safeParse(json);
  if (report.success) {
    const base = path.resolve(path.dirname(file), report.data.dataset);
    const kept = new Set<string>();
    for (const p of report.data.photos) {
      if (!p.kept) continue;
      kept.add(path.resolve(base, p.path));
      kept.add(idOf(p.path));
    }
    return { file, verifies: (image) => kept.has(path.resolve(image.path)) || kept.has(image.id) };
  }
  const lists = classListSchema.safeParse(json);
  if (!lists.success) {
    throw new Error(`--clean ${file} is not a \`sightline clean\` result: expected { dataset, photos: [{ path, class, kept }] } or { classes: … } (${report.error.issues[0]?.message ?? ''})`);
  }
  const entries: Array<[string, string[]]> = Array.isArray(lists.data.classes)
    ? lists.data.classes.map((c) => [c.name, keptOf(c as Record<string, unknown>, `${file}: class ${c.name}`)])
    : Object.entries(lists.data.classes).map(([name, body]) => [name, Array.isArray(body) ? body : keptOf(body as Record<string, unknown>, `${file}: class ${name}`)]);
  const verified = new Map<string, Set<string>>();
  for (const [name, images] of entries) {
    const set = verified.get(name) ?? new Set<string>();
    for (const image of images) {
      set.add(image);
      set.add(path.resolve(datasetDir, image));
    }
    verified.set(name, set);
  }
  return {
    file,
    classes: new Set(verified.keys()),
    verifies: (image, cls) => {
      const set = verified.get(cls);
      return !!set && (set.has(path.resolve(image.path)) || set.has(image.id));
    },
  };
}
