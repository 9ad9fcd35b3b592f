// The cleaning algorithm with its image work replaced by scripted answers: the shortlist, the
// graph, the largest component, the boxes and the journal are checked against hand-worked cases.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageInputError } from '../../app/engine/imageErrors.js';
import { CleaningJournal, cleanDataset, listDataset, shortlistPairs } from '../../app/match/datasetCleaning.js';
import type { PairVerification } from '../../app/match/geometricVerification.js';

let tmp: string;

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
};

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-clean-'));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('shortlistPairs', () => {
  it('pairs each photo with its k most similar, once per unordered pair, skipping photos without a descriptor', () => {
    // Angles 0°, 10°, 25°, 90°, 100° on the unit circle: neighbours by cosine are obvious, without ties.
    const at = (deg: number) => unit(Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180));
    const vectors = [at(0), at(10), at(25), at(90), at(100), undefined];
    expect(shortlistPairs(vectors, 1)).toEqual([[0, 1], [1, 2], [3, 4]]);
    // k = 2: 0→{1,2}, 1→{0,2}, 2→{1,0}, 3→{4,2}, 4→{3,2}.
    expect(shortlistPairs(vectors, 2)).toEqual([[0, 1], [0, 2], [1, 2], [2, 3], [2, 4], [3, 4]]);
  });
});

async function writeDataset(root: string, classes: Record<string, string[]>): Promise<void> {
  const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#808080' } }).png().toBuffer();
  for (const [name, photos] of Object.entries(classes)) {
    await fs.mkdir(path.join(root, name), { recursive: true });
    for (const p of photos) await fs.writeFile(path.join(root, name, p), png);
  }
}

function verdict(verified: boolean, boxA: PairVerification['boxA'] = null, boxB: PairVerification['boxB'] = null): PairVerification {
  return { verified, reason: verified ? undefined : 'scripted', matches: 40, inliers: verified ? 30 : 3, inlierRatio: verified ? 0.75 : 0.075, model: verified ? 'homography' : null, transform: null, boxA, boxB, inlierPairs: [] };
}

describe('cleanDataset', () => {
  it('lists class folders and the images in them by content, following links and skipping other files', async () => {
    const root = path.join(tmp, 'listing');
    await writeDataset(root, { b: ['2.png', '1.png'], a: ['x.png'] });
    await fs.writeFile(path.join(root, 'b', 'notes.txt'), 'not a photo');
    await fs.writeFile(path.join(root, 'b', '.hidden.png'), 'hidden');
    await fs.symlink(path.join(root, 'a', 'x.png'), path.join(root, 'b', '3.png'));
    expect(await listDataset(root)).toEqual([{ name: 'a', photos: ['a/x.png'] }, { name: 'b', photos: ['b/1.png', 'b/2.png', 'b/3.png'] }]);
  });

  it('keeps the largest verified component per class, explains every drop, and merges inlier boxes', async () => {
    const root = path.join(tmp, 'graph');
    await writeDataset(root, { castle: ['a.png', 'b.png', 'c.png', 'd.png', 'e.png', 'f.png', 'broken.png'], lonely: ['x.png', 'y.png'] });
    // Descriptors put a, b, c close together, d and e close together, f apart.
    const vectors: Record<string, Float32Array> = {
      a: unit(1, 0, 0, 0), b: unit(1, 0.1, 0, 0), c: unit(1, 0.2, 0, 0), d: unit(0, 1, 0, 0), e: unit(0, 1, 0.1, 0), f: unit(0, 0, 0, 1), x: unit(1, 0, 0, 0), y: unit(0, 1, 0, 0),
    };
    const verifiedPairs: Record<string, PairVerification> = {
      'a|b': verdict(true, { x: 10, y: 10, width: 50, height: 50 }, { x: 0, y: 0, width: 20, height: 20 }),
      'b|c': verdict(true, { x: 5, y: 30, width: 10, height: 100 }, { x: 1, y: 2, width: 3, height: 4 }),
      'd|e': verdict(true, { x: 0, y: 0, width: 1, height: 1 }, { x: 0, y: 0, width: 1, height: 1 }),
    };
    const asked: string[] = [];
    const deps = {
      describe: async (file: string) => {
        const name = path.basename(file, '.png');
        if (name === 'broken') throw new ImageInputError('corrupt', 'image data is damaged or truncated', file);
        return vectors[name];
      },
      verify: async (fa: string, fb: string) => {
        const key = `${path.basename(fa, '.png')}|${path.basename(fb, '.png')}`;
        asked.push(key);
        return verifiedPairs[key] ?? verdict(false);
      },
    };
    const settings = { shortlist: 2, descriptorVersion: 'stub', verificationVersion: 'stub' };
    const journalFile = path.join(tmp, 'graph.journal.jsonl');
    const journal = await CleaningJournal.open(journalFile);
    const report = await cleanDataset(root, settings, deps, journal);
    await journal.close();

    const byName = new Map(report.photos.map((p) => [path.basename(p.path, '.png'), p]));
    expect([...byName.entries()].filter(([, p]) => p.kept).map(([n]) => n).sort()).toEqual(['a', 'b', 'c']);
    expect(byName.get('d')!.reason).toBe('outside the largest group of its class (its group has 2 photos, the largest 3)');
    expect(byName.get('f')!.reason).toMatch(/^no verified match among its \d+ candidates$/);
    expect(byName.get('broken')!.reason).toBe('unreadable: ' + new ImageInputError('corrupt', 'image data is damaged or truncated', path.join(root, 'castle', 'broken.png')).message);
    // b took part in a|b (as B) and b|c (as A): its box is the union of both.
    expect(byName.get('b')!.box).toEqual({ x: 0, y: 0, width: 20, height: 130 });
    expect(byName.get('b')!.neighbours.map((n) => n.path)).toEqual(['castle/a.png', 'castle/c.png']);
    expect(byName.get('a')!.box).toEqual({ x: 10, y: 10, width: 50, height: 50 });
    // A class where nothing verifies keeps nothing: one photo alone is no evidence.
    expect(byName.get('x')!.kept).toBe(false);
    expect(report.classes).toEqual([
      expect.objectContaining({ name: 'castle', photos: 7, kept: 3, dropped: 4, verifiedPairs: 3, components: 2 }),
      expect.objectContaining({ name: 'lonely', photos: 2, kept: 0, dropped: 2, verifiedPairs: 0, components: 0 }),
    ]);
    // Each photo's 2 nearest within its class, deduplicated: far fewer than all pairs.
    expect(new Set(asked).size).toBe(asked.length);
    expect(report.stats.candidatePairs).toBe(asked.length);

    // A second run reads everything from the journal: nothing is described or verified again.
    const again = await CleaningJournal.open(journalFile);
    const resumed = await cleanDataset(root, settings, {
      describe: async () => { throw new Error('described again'); },
      verify: async () => { throw new Error('verified again'); },
    }, again);
    await again.close();
    expect(resumed.photos).toEqual(report.photos);
    expect(resumed.stats).toMatchObject({ described: 0, verified: 0, verifiedFromJournal: report.stats.candidatePairs });

    // Other verification settings make the journal's pair verdicts stale; its descriptors stay valid.
    const changed = await CleaningJournal.open(journalFile);
    let verifiedAgain = 0;
    await cleanDataset(root, { ...settings, verificationVersion: 'other' }, {
      describe: async () => { throw new Error('described again'); },
      verify: async (fa, fb) => { verifiedAgain++; return deps.verify(fa, fb); },
    }, changed);
    await changed.close();
    expect(verifiedAgain).toBe(report.stats.candidatePairs);
  });

  it('resumes from a journal whose last line was cut short by a crash', async () => {
    const root = path.join(tmp, 'torn');
    await writeDataset(root, { only: ['a.png', 'b.png', 'c.png'] });
    const settings = { shortlist: 2, descriptorVersion: 'stub', verificationVersion: 'stub' };
    const deps = {
      describe: async (file: string) => unit(1, path.basename(file).charCodeAt(0) / 1000),
      verify: async () => verdict(true, { x: 0, y: 0, width: 1, height: 1 }, { x: 0, y: 0, width: 1, height: 1 }),
    };
    const file = path.join(tmp, 'torn.journal.jsonl');
    const journal = await CleaningJournal.open(file);
    const full = await cleanDataset(root, settings, deps, journal);
    await journal.close();
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.slice(0, text.length - 20));
    const reopened = await CleaningJournal.open(file);
    let verified = 0;
    const resumed = await cleanDataset(root, settings, { ...deps, verify: async () => { verified++; return deps.verify(); } }, reopened);
    await reopened.close();
    expect(verified).toBe(1);
    expect(resumed.photos).toEqual(full.photos);
    // The torn line did not swallow the entry appended after it.
    const final = await CleaningJournal.open(file);
    expect(final.entries.filter((e) => e.t === 'pair')).toHaveLength(full.stats.candidatePairs);
    await final.close();
  });
});
