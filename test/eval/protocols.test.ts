import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OxfordQuery } from '../../app/eval/groundTruth.js';
import { groupsProtocol, loadParis6kMini, paris6kMiniProtocolB, type EvalProtocol } from '../../app/eval/protocols.js';

const parisDir = fileURLToPath(new URL('../../../shared/data/paris6k-mini', import.meta.url));

// Present-positive counts per query, from the gt lists ∩ the 250 images (shared/data/README.md lists the names).
const EXPECTED_A: Record<string, { positives: number; junk: number }> = {
  defense_4: { positives: 39, junk: 8 },
  defense_5: { positives: 39, junk: 8 },
  eiffel_3: { positives: 34, junk: 16 },
  invalides_2: { positives: 48, junk: 2 },
  invalides_5: { positives: 48, junk: 2 },
  louvre_1: { positives: 39, junk: 10 },
  louvre_2: { positives: 39, junk: 10 },
  louvre_3: { positives: 39, junk: 10 },
  louvre_4: { positives: 39, junk: 10 },
  moulinrouge_2: { positives: 32, junk: 16 },
  moulinrouge_5: { positives: 32, junk: 16 },
  triomphe_5: { positives: 3, junk: 0 },
};

describe('Paris6k-mini protocols on the real ground truth', () => {
  let A: EvalProtocol;
  let B: EvalProtocol;
  beforeAll(async () => {
    [A, B] = await Promise.all([loadParis6kMini(parisDir, 'A'), loadParis6kMini(parisDir, 'B')]);
  });

  it('A: the 12 present queries, cropped, with their present positives and junk', () => {
    expect(A.database).toHaveLength(250);
    expect(A.database.every((im) => existsSync(im.image))).toBe(true);
    expect(Object.fromEntries(A.queries.map((q) => [q.id, { positives: q.positives.size, junk: q.junk.size }]))).toEqual(EXPECTED_A);
    const ids = new Set(A.database.map((im) => im.id));
    for (const q of A.queries) {
      expect(q.box).toBeDefined();
      expect(existsSync(q.image)).toBe(true);
      for (const id of [...q.positives, ...q.junk]) expect(ids.has(id)).toBe(true);
      // The query photo is one of its own positives and stays in the ranking, as in the full benchmark.
      expect(q.positives.has(path.basename(q.image, '.jpg'))).toBe(true);
    }
    const eiffel = A.queries.find((q) => q.id === 'eiffel_3')!;
    expect(eiffel.box).toEqual({ x1: 348, y1: 3, x2: 595, y2: 508 });
    expect(path.basename(A.queries.find((q) => q.id === 'triomphe_5')!.image)).toBe('paris_defense_000038.jpg');
  });

  it('B: every present positive of those landmarks queries the rest, uncropped', () => {
    expect(B.database).toHaveLength(250);
    expect(B.queries).toHaveLength(39 + 34 + 48 + 39 + 32 + 3);
    for (const q of B.queries) {
      expect(q.box).toBeUndefined();
      expect(q.positives.has(q.id)).toBe(false);
      expect(q.junk.has(q.id)).toBe(true);
      for (const p of q.positives) expect(q.junk.has(p)).toBe(false);
    }
    const counts = new Map<string, number>();
    for (const q of B.queries) counts.set(`${q.positives.size}/${q.junk.size}`, (counts.get(`${q.positives.size}/${q.junk.size}`) ?? 0) + 1);
    // positives/junk (junk includes the query itself) → number of queries, one entry per landmark:
    // defense, eiffel, invalides, louvre, moulinrouge, triomphe.
    expect(Object.fromEntries(counts)).toEqual({ '38/9': 39, '33/17': 34, '47/3': 48, '38/11': 39, '31/17': 32, '2/1': 3 });
    const triomphe = B.queries.find((q) => q.id === 'paris_defense_000038')!;
    expect([...triomphe.positives].sort()).toEqual(['paris_defense_000040', 'paris_defense_000043']);
  });
});

describe('paris6kMiniProtocolB rule', () => {
  const q = (name: string, image: string, ok: string[], junk: string[] = []): OxfordQuery => ({
    name,
    image,
    box: { x1: 0, y1: 0, x2: 1, y2: 1 },
    good: [],
    ok,
    junk,
  });
  const images = new Map(['a1', 'a2', 'a3', 'b1', 'b2', 'shared', 'z1', 'gone'].map((id) => [id, `/img/${id}.jpg`]));
  images.delete('gone');

  it('unions a landmark over its queries, joins landmarks an image belongs to, and prefers positive over junk', () => {
    const gt = [
      q('alpha_1', 'a1', ['a1', 'a2', 'shared', 'gone'], ['b1']),
      q('alpha_2', 'missing', ['a3'], []),
      q('beta_1', 'b1', ['b1', 'b2', 'shared'], ['a2']),
      // No query image present: its landmark takes no part.
      q('zeta_1', 'missing', ['z1'], []),
    ];
    const B = paris6kMiniProtocolB(gt, images);
    const byId = Object.fromEntries(B.queries.map((x) => [x.id, { pos: [...x.positives].sort(), junk: [...x.junk].sort() }]));
    expect(Object.keys(byId).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'shared']);
    expect(byId.a1).toEqual({ pos: ['a2', 'a3', 'shared'], junk: ['a1', 'b1'] });
    expect(byId.b2).toEqual({ pos: ['b1', 'shared'], junk: ['a2', 'b2'] });
    // Positive for both landmarks: both groups are positives, so neither's junk may hide one.
    expect(byId.shared).toEqual({ pos: ['a1', 'a2', 'a3', 'b1', 'b2'], junk: ['shared'] });
  });
});

describe('groupsProtocol', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sightline-groups-'));
    const files = [
      'bridge/1.jpg',
      'bridge/2.JPG',
      'tower/a.png',
      'tower/day/b.webp',
      'tower/night/c.jpeg',
      'alone/only.jpg',
      'distractors/cat.jpg',
      'distractors/dog.jpg',
      'loose.jpg',
      'tower/notes.txt',
      'tower/.hidden.jpg',
      '.trash/x.jpg',
    ];
    for (const f of files) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await writeFile(path.join(dir, f), '');
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes every grouped photo a query for the rest of its group', async () => {
    const p = await groupsProtocol(dir);
    expect(p.database.map((im) => im.id)).toEqual([
      'alone/only.jpg',
      'bridge/1.jpg',
      'bridge/2.JPG',
      'distractors/cat.jpg',
      'distractors/dog.jpg',
      'loose.jpg',
      'tower/a.png',
      'tower/day/b.webp',
      'tower/night/c.jpeg',
    ]);
    expect(p.database[0].image).toBe(path.join(dir, 'alone', 'only.jpg'));
    const byId = Object.fromEntries(p.queries.map((q) => [q.id, { pos: [...q.positives].sort(), junk: [...q.junk] }]));
    expect(byId).toEqual({
      'bridge/1.jpg': { pos: ['bridge/2.JPG'], junk: ['bridge/1.jpg'] },
      'bridge/2.JPG': { pos: ['bridge/1.jpg'], junk: ['bridge/2.JPG'] },
      'tower/a.png': { pos: ['tower/day/b.webp', 'tower/night/c.jpeg'], junk: ['tower/a.png'] },
      'tower/day/b.webp': { pos: ['tower/a.png', 'tower/night/c.jpeg'], junk: ['tower/day/b.webp'] },
      'tower/night/c.jpeg': { pos: ['tower/a.png', 'tower/day/b.webp'], junk: ['tower/night/c.jpeg'] },
    });
  });

  it('refuses an empty folder', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'sightline-groups-empty-'));
    try {
      await expect(groupsProtocol(empty)).rejects.toThrow(/No images/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
