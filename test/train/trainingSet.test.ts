// Training sets from the two layouts, held-out folders and `sightline clean` results. Paris6k-mini's
// ground truth is read in place; the groups layout is a temporary folder of links to its photos.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOxfordGroundTruth } from '../../app/eval/groundTruth.js';
import { readCleanResult } from '../../app/train/cleanResult.js';
import { loadTrainingSet, TripletRelations } from '../../app/train/trainingSet.js';

const PARIS = fileURLToPath(new URL('../../../shared/data/paris6k-mini/', import.meta.url));
const photo = (folder: string, id: string) => path.join(PARIS, 'images', folder, `${id}.jpg`);

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-trainset-'));
  const groups = { eiffel: ['paris_eiffel_000037', 'paris_eiffel_000266'], louvre: ['paris_louvre_000004', 'paris_louvre_000015'] };
  for (const [group, ids] of Object.entries(groups)) {
    await fs.mkdir(path.join(tmp, 'groups', group), { recursive: true });
    for (const id of ids) await fs.symlink(photo(group === 'eiffel' ? 'eiffel_tower' : 'louvre', id), path.join(tmp, 'groups', group, `${id}.jpg`));
  }
  await fs.mkdir(path.join(tmp, 'groups', 'distractors'));
  await fs.symlink(photo('defense', 'paris_defense_000000'), path.join(tmp, 'groups', 'distractors', 'd.jpg'));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('training sets', () => {
  it('Paris6k-mini: members are the good ∪ ok images of each landmark, junk is unsure', async () => {
    const set = await loadTrainingSet(PARIS);
    expect(set.layout).toBe('oxford-paris');
    expect(set.images).toHaveLength(250);
    expect(set.classes).toEqual(['defense', 'eiffel', 'invalides', 'louvre', 'moulinrouge', 'triomphe']);
    const gt = await loadOxfordGroundTruth(path.join(PARIS, 'gt'));
    const present = new Set(set.images.map((i) => i.id));
    const louvrePositives = new Set(gt.filter((q) => q.name.startsWith('louvre_')).flatMap((q) => [...q.good, ...q.ok]).filter((id) => present.has(id)));
    expect(new Set(set.images.filter((i) => i.classes.includes('louvre')).map((i) => i.id))).toEqual(louvrePositives);
    const louvreJunk = gt.filter((q) => q.name.startsWith('louvre_')).flatMap((q) => q.junk).filter((id) => present.has(id) && !louvrePositives.has(id));
    for (const id of louvreJunk) expect(set.images.find((i) => i.id === id)!.unsure).toContain('louvre');
    // 195 positives over the landmarks (protocol B's queries).
    expect(set.images.filter((i) => i.classes.length > 0)).toHaveLength(195);
  });

  it('holding out a folder removes its photos and every class with members in it (triomphe lives in defense)', async () => {
    const set = await loadTrainingSet(PARIS, { exclude: ['defense'] });
    expect(set.images.some((i) => i.folder === 'defense')).toBe(false);
    expect(set.classes).toEqual(['eiffel', 'invalides', 'louvre', 'moulinrouge']);
    expect(set.images.some((i) => [...i.classes, ...i.unsure].some((c) => c === 'defense' || c === 'triomphe'))).toBe(false);
    expect(set.excluded.classes).toEqual(['defense', 'triomphe']);
    await expect(loadTrainingSet(PARIS, { exclude: ['atlantis'] })).rejects.toThrow(/atlantis/);
  });

  it('`only` keeps a validation subset', async () => {
    const set = await loadTrainingSet(PARIS, { only: ['moulinrouge'] });
    expect(new Set(set.images.map((i) => i.folder))).toEqual(new Set(['moulinrouge']));
  });

  it('a groups folder: one class per subfolder, distractors in none', async () => {
    const set = await loadTrainingSet(path.join(tmp, 'groups'));
    expect(set.layout).toBe('groups');
    expect(set.classes).toEqual(['eiffel', 'louvre']);
    expect(set.images.find((i) => i.id === 'distractors/d.jpg')!.classes).toEqual([]);
    const relations = new TripletRelations(set.images);
    expect(relations.anchors).toHaveLength(4);
  });

  it('a `sightline clean` result keeps only verified members as positives; the rest become unsure', async () => {
    const file = path.join(tmp, 'clean.json');
    await fs.writeFile(file, JSON.stringify({ classes: [{ name: 'eiffel', kept: ['eiffel/paris_eiffel_000037.jpg'], removed: ['eiffel/paris_eiffel_000266.jpg'] }, { name: 'louvre', kept: ['louvre/paris_louvre_000004.jpg', 'louvre/paris_louvre_000015.jpg'] }] }));
    const dir = path.join(tmp, 'groups');
    const set = await loadTrainingSet(dir, { clean: await readCleanResult(file, dir) });
    const dropped = set.images.find((i) => i.id === 'eiffel/paris_eiffel_000266.jpg')!;
    expect(dropped.classes).toEqual([]);
    expect(dropped.unsure).toEqual(['eiffel']);
    expect(set.cleaning).toMatchObject({ demoted: 1, classesWithoutVerification: [] });
    const relations = new TripletRelations(set.images);
    // eiffel has one verified member left: no anchor there; louvre's two still pair up.
    expect(relations.anchors.map((i) => set.images[i].id)).toEqual(['louvre/paris_louvre_000004.jpg', 'louvre/paris_louvre_000015.jpg']);
  });

  it('reads the report `sightline clean --out` writes: kept photos are verified whatever the class is called', async () => {
    // As `sightline clean ../shared/data/paris6k-mini/images --out …` would write it (only the fields read here).
    const file = path.join(tmp, 'paris-clean.json');
    await fs.writeFile(file, JSON.stringify({
      dataset: path.join(PARIS, 'images'),
      classes: [{ name: 'louvre', photos: 2, kept: 1, dropped: 1 }],
      photos: [
        { path: 'louvre/paris_louvre_000271.jpg', class: 'louvre', kept: true, neighbours: [], box: null, component: 2 },
        { path: 'louvre/paris_louvre_000091.jpg', class: 'louvre', kept: false, reason: 'not in the largest component', neighbours: [], box: null, component: 1 },
      ],
    }));
    const set = await loadTrainingSet(PARIS, { only: ['louvre'], clean: await readCleanResult(file, PARIS) });
    const byId = (id: string) => set.images.find((i) => i.id === id)!;
    expect(byId('paris_louvre_000271').classes).toEqual(['louvre']);
    expect(byId('paris_louvre_000091').unsure).toContain('louvre');
    // Photos the report never judged are not verified either.
    expect(set.images.filter((i) => i.classes.length > 0).map((i) => i.id)).toEqual(['paris_louvre_000271']);
  });

  it('reads the other accepted clean-file shapes and rejects what is not one', async () => {
    const dir = path.join(tmp, 'groups');
    const byName = path.join(tmp, 'clean-map.json');
    await fs.writeFile(byName, JSON.stringify({ classes: { eiffel: ['eiffel/paris_eiffel_000037.jpg'], louvre: { images: ['paris_louvre_000004'] } } }));
    const r = await readCleanResult(byName, dir);
    expect(r.verifies({ path: path.join(dir, 'eiffel/paris_eiffel_000037.jpg'), id: 'eiffel/paris_eiffel_000037.jpg' }, 'eiffel')).toBe(true);
    expect(r.verifies({ path: path.join(dir, 'louvre/paris_louvre_000004.jpg'), id: 'paris_louvre_000004' }, 'louvre')).toBe(true);
    expect(r.verifies({ path: path.join(dir, 'louvre/paris_louvre_000004.jpg'), id: 'paris_louvre_000004' }, 'eiffel')).toBe(false);
    const bad = path.join(tmp, 'clean-bad.json');
    await fs.writeFile(bad, JSON.stringify({ kept: [] }));
    await expect(readCleanResult(bad, dir)).rejects.toThrow(/not a `sightline clean` result/);
  });
});
