// "Learn from my library" on a real library of Paris photos (10 of each of five landmarks): it
// mines verified places, switches when told any result is good enough, keeps the previous
// descriptors so Undo needs no re-embedding, goes back, and leaves everything as it was when
// cancelled or when the library has too few places.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whiteningPathFor } from '../../app/engine/descriptorEngine.js';
import { LearningCancelledError, LibraryLearning, NotEnoughMaterialError } from '../../app/learn/libraryLearning.js';
import { Library } from '../../app/library/library.js';

const IMAGES = fileURLToPath(new URL('../../../shared/data/paris6k-mini/images/', import.meta.url));
const LANDMARKS = ['defense', 'eiffel_tower', 'invalides', 'louvre', 'moulinrouge'];

let tmp: string;
let library: Library;
const previousDataDir = process.env.SIGHTLINE_DATA_DIR;

async function copyPhotos(target: string, landmarks: string[], perLandmark: number): Promise<void> {
  for (const landmark of landmarks) {
    await fs.mkdir(path.join(target, landmark), { recursive: true });
    const names = (await fs.readdir(path.join(IMAGES, landmark))).filter((f) => f.endsWith('.jpg')).sort().slice(0, perLandmark);
    for (const name of names) await fs.copyFile(path.join(IMAGES, landmark, name), path.join(target, landmark, name));
  }
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-learn-'));
  // The whitening files and the undo record live in the data folder: a throwaway one.
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  await copyPhotos(path.join(tmp, 'photos'), LANDMARKS, 10);
  library = await Library.open({ dbPath: path.join(tmp, 'data', 'library.db') });
  await library.index([path.join(tmp, 'photos')]);
}, 300_000);

afterAll(async () => {
  await library?.close();
  if (previousDataDir === undefined) delete process.env.SIGHTLINE_DATA_DIR;
  else process.env.SIGHTLINE_DATA_DIR = previousDataDir;
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('learning from a library', () => {
  it('leaves everything as it was when cancelled', async () => {
    const before = library.modelId;
    const stop = new AbortController();
    const phases: string[] = [];
    const run = new LibraryLearning(library).learn({ epochs: 1 }, {
      signal: stop.signal,
      onProgress: (p) => {
        phases.push(p.phase);
        if (p.phase === 'verifying' && p.done >= 3) stop.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(LearningCancelledError);
    expect(phases).not.toContain('training');
    expect(library.modelId).toBe(before);
    await expect(fs.access(`${whiteningPathFor(library.engine.model)}.json`)).rejects.toThrow();
  }, 300_000);

  it('switches to the learned whitening, keeping what undo needs, and goes back', async () => {
    const learning = new LibraryLearning(library);
    const before = library.modelId;
    const photos = library.photos.countByStatus().indexed;
    const progress = new Set<string>();
    // Any result switches (minGain −1): this test is about the switch, not about the gain.
    const report = await learning.learn({ epochs: 1, minGain: -1 }, { onProgress: (p) => progress.add(p.phase) });

    expect([...progress]).toEqual(['mining', 'verifying', 'describing', 'training', 'evaluating', 'switching']);
    expect(report.mining.places).toBeGreaterThanOrEqual(4);
    expect(report.split.heldOut.places).toBeGreaterThanOrEqual(2);
    expect(report.split.training.places).toBeGreaterThanOrEqual(2);
    expect(report.split.training.photos + report.split.heldOut.photos).toBe(report.mining.photos - report.split.unreadable);
    expect(report.evaluation.map((s) => s.key)).toEqual(['current', 'pca', 'learned']);
    for (const s of report.evaluation) expect(s.mAP).toBeGreaterThan(0);
    expect(report.decision.switched).toBe(true);
    expect(report.whitening).toEqual({ before, after: library.modelId });
    expect(library.modelId).not.toBe(before);
    expect(library.engine.whitening?.fittedOn).toMatch(/^learned with the triplet loss on \d+ verified places/);
    // The previous descriptors stay for undo; the new ones come with the next indexer pass.
    expect(library.descriptors.count(before)).toBe(photos);
    expect(library.descriptors.count(library.modelId)).toBe(0);
    const record = await learning.undoRecord();
    expect(record).toMatchObject({ previousVersion: before, learnedVersion: library.modelId, hadUserWhitening: false, previousDescription: 'no whitening (plain R-MAC)' });

    await library.index([path.join(tmp, 'photos')]);
    const learned = library.modelId;
    expect(library.descriptors.count(learned)).toBe(photos);

    await learning.revert();
    expect(library.modelId).toBe(before);
    expect(library.engine.whitening).toBeUndefined();
    expect(library.descriptors.count(before)).toBe(photos);
    expect(library.descriptors.count(learned)).toBe(0);
    await expect(fs.access(`${whiteningPathFor(library.engine.model)}.json`)).rejects.toThrow();
    expect(await learning.undoRecord()).toBeUndefined();
    await expect(learning.revert()).rejects.toThrow(/no learned whitening to undo/);
    // Search works at once: the kept descriptors are the ones in use again.
    expect((await library.searchByPhoto(library.photos.indexedIds()[0], { top: 3 })).length).toBe(3);
  }, 600_000);

  it('says what it found and what it needs when the library has too few places', async () => {
    const small = await Library.open({ dbPath: path.join(tmp, 'small', 'library.db') });
    try {
      await copyPhotos(path.join(tmp, 'small-photos'), ['eiffel_tower'], 6);
      await small.index([path.join(tmp, 'small-photos')]);
      const run = new LibraryLearning(small).learn({ epochs: 1 });
      await expect(run).rejects.toBeInstanceOf(NotEnoughMaterialError);
      await expect(new LibraryLearning(small).learn({ epochs: 1 })).rejects.toThrow(/learning needs at least 4 places with 2 or more photos each/i);
    } finally {
      await small.close();
    }
  }, 300_000);
});
