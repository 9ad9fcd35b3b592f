// What a training run learns from: photos, the classes (landmarks, objects) each one verifiably
// shows, and the classes it may show without being verified. Two layouts are read:
//  - Oxford/Paris (`gt/` + `images/<folder>/`): a landmark's members are its good ∪ ok images,
//    its junk images are unsure for it;
//  - a folder of groups (`<class>/…` photos, optional `distractors/`), as `sightline eval groups`.
// `sightline clean` output narrows every class to its verified photos (cleanResult.ts).
import path from 'node:path';
import fs from 'node:fs/promises';
import { loadOxfordGroundTruth } from '../eval/groundTruth.js';
import { DISTRACTORS_FOLDER, groupsProtocol, landmarkOf, listImagesById } from '../eval/protocols.js';
import type { CleanResult } from './cleanResult.js';

export interface TrainingImage {
  /** The Oxford/Paris image name, or the path relative to the dataset folder. */
  id: string;
  path: string;
  /** The folder it lies in (Paris: the landmark folder; groups: the group), for holding folders out. */
  folder: string;
  /** Classes it is a verified member of: the other members are its positives. */
  classes: string[];
  /** Classes it may show but is not a verified member of: never a positive nor a negative for them. */
  unsure: string[];
}

export interface TrainingSet {
  dir: string;
  layout: 'oxford-paris' | 'groups';
  images: TrainingImage[];
  /** Every class with at least one member left. */
  classes: string[];
  /** Folders and classes left out (`--exclude`), with what they removed. */
  excluded: { names: string[]; images: number; classes: string[] };
  /** Set when a `sightline clean` file narrowed the classes. */
  cleaning?: { file: string; demoted: number; classesWithoutVerification: string[] };
}

export interface TrainingSetOptions {
  /** Folder or class names whose photos must not be trained on (the evaluated fold). */
  exclude?: readonly string[];
  /** Keep only these folders or classes (a validation set); applied before `exclude`. */
  only?: readonly string[];
  clean?: CleanResult;
}

export async function loadTrainingSet(dir: string, options: TrainingSetOptions = {}): Promise<TrainingSet> {
  const hasGt = await isDirectory(path.join(dir, 'gt')) && await isDirectory(path.join(dir, 'images'));
  const set = hasGt ? await loadOxfordParis(dir) : await loadGroups(dir);
  return narrow(set, options);
}

async function isDirectory(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function loadOxfordParis(dir: string): Promise<TrainingSet> {
  const images = await listImagesById(path.join(dir, 'images'));
  const gt = await loadOxfordGroundTruth(path.join(dir, 'gt'));
  const members = new Map<string, Set<string>>();
  const unsure = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, id: string, cls: string) => {
    if (!images.has(id)) return;
    map.set(id, (map.get(id) ?? new Set()).add(cls));
  };
  for (const q of gt) {
    const cls = landmarkOf(q.name);
    for (const id of [...q.good, ...q.ok]) add(members, id, cls);
    for (const id of q.junk) add(unsure, id, cls);
  }
  const list: TrainingImage[] = [...images].map(([id, file]) => {
    const classes = [...(members.get(id) ?? [])].sort();
    return {
      id,
      path: file,
      folder: path.basename(path.dirname(file)),
      classes,
      unsure: [...(unsure.get(id) ?? [])].filter((c) => !classes.includes(c)).sort(),
    };
  });
  return { dir, layout: 'oxford-paris', images: list, classes: [], excluded: { names: [], images: 0, classes: [] } };
}

async function loadGroups(dir: string): Promise<TrainingSet> {
  const protocol = await groupsProtocol(dir);
  const list: TrainingImage[] = protocol.database.map((d) => {
    const slash = d.id.indexOf('/');
    const group = slash < 0 ? '' : d.id.slice(0, slash);
    const isClass = group !== '' && group !== DISTRACTORS_FOLDER;
    return { id: d.id, path: d.image, folder: group || '.', classes: isClass ? [group] : [], unsure: [] };
  });
  return { dir, layout: 'groups', images: list, classes: [], excluded: { names: [], images: 0, classes: [] } };
}

function narrow(set: TrainingSet, options: TrainingSetOptions): TrainingSet {
  if (options.only) {
    const only = new Set(options.only);
    const unknown = [...only].filter((n) => !set.images.some((img) => img.folder === n || img.classes.includes(n)));
    if (unknown.length) throw new Error(`no folder or class named ${unknown.join(', ')} in ${set.dir}`);
    set = { ...set, images: set.images.filter((img) => only.has(img.folder) || img.classes.some((c) => only.has(c))) };
  }
  const exclude = new Set(options.exclude ?? []);
  // A held-out folder takes with it every class whose members lie in it, so no photo of the
  // evaluated landmark is trained on even when it sits in another landmark's folder.
  const excludedClasses = new Set<string>();
  for (const img of set.images) {
    if (exclude.has(img.folder)) for (const c of img.classes) excludedClasses.add(c);
    for (const c of img.classes) if (exclude.has(c)) excludedClasses.add(c);
  }
  const kept = set.images.filter((img) => !exclude.has(img.folder) && ![...img.classes, ...img.unsure].some((c) => excludedClasses.has(c)));
  const known = new Set(kept.flatMap((img) => img.classes));
  const unknownNames = [...exclude].filter((n) => !set.images.some((img) => img.folder === n) && !excludedClasses.has(n));
  if (unknownNames.length) throw new Error(`--exclude: no folder or class named ${unknownNames.join(', ')} in ${set.dir}`);

  let images = kept.map((img) => ({ ...img, classes: [...img.classes], unsure: [...img.unsure] }));
  let cleaning: TrainingSet['cleaning'];
  const clean = options.clean;
  if (clean) {
    let demoted = 0;
    images = images.map((img) => {
      const stays = img.classes.filter((c) => clean.verifies(img, c));
      demoted += img.classes.length - stays.length;
      return { ...img, classes: stays, unsure: [...img.unsure, ...img.classes.filter((c) => !stays.includes(c))].sort() };
    });
    cleaning = { file: clean.file, demoted, classesWithoutVerification: clean.classes ? [...known].filter((c) => !clean.classes!.has(c)).sort() : [] };
  }
  const classes = [...new Set(images.flatMap((img) => img.classes))].sort();
  return {
    ...set,
    images,
    classes,
    excluded: { names: [...exclude], images: set.images.length - kept.length, classes: [...excludedClasses].sort() },
    cleaning,
  };
}

/**
 * Who may be paired with whom in a triplet. Positives of an image: the other verified members
 * of its classes. Negatives: images related to none of its classes, neither as members nor as
 * unsure ones (Paris junk, photos `sightline clean` could not verify).
 */
export class TripletRelations {
  private readonly positives: number[][];
  private readonly classSets: Set<string>[];
  private readonly relatedSets: Set<string>[];
  /** Images that have at least one positive: the queries of the triplets. */
  readonly anchors: number[];

  constructor(readonly images: readonly Pick<TrainingImage, 'classes' | 'unsure'>[]) {
    this.classSets = images.map((img) => new Set(img.classes));
    this.relatedSets = images.map((img) => new Set([...img.classes, ...img.unsure]));
    const byClass = new Map<string, number[]>();
    images.forEach((img, i) => img.classes.forEach((c) => byClass.set(c, [...(byClass.get(c) ?? []), i])));
    this.positives = images.map((img, i) => [...new Set(img.classes.flatMap((c) => byClass.get(c) ?? []))].filter((j) => j !== i).sort((a, b) => a - b));
    this.anchors = images.map((_, i) => i).filter((i) => this.positives[i].length > 0);
  }

  positivesOf(i: number): readonly number[] {
    return this.positives[i];
  }

  isNegative(anchor: number, other: number): boolean {
    if (anchor === other) return false;
    for (const c of this.classSets[anchor]) if (this.relatedSets[other].has(c)) return false;
    return true;
  }
}
