// The library end to end through its service: index a hostile folder plus real photos, then
// search, move a file, delete one, and check duplicate groups and decisions.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDefaultModel } from '../../app/engine/defaultModel.js';
import { ModelRegistry } from '../../app/engine/modelRegistry.js';
import { Library } from '../../app/library/library.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const EIFFEL = path.join(DATA, 'paris6k-mini/images/eiffel_tower');
const LOUVRE = path.join(DATA, 'paris6k-mini/images/louvre');

let tmp: string;
let folder: string;
let library: Library;
let modelDir: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-library-'));
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  const model = await buildDefaultModel(undefined, new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') }), 'user');
  modelDir = model.dir;
  folder = path.join(tmp, 'photos');
  await fs.mkdir(path.join(folder, 'eiffel'), { recursive: true });
  await fs.mkdir(path.join(folder, 'louvre'));
  await fs.mkdir(path.join(folder, 'dups'));
  for (const n of (await fs.readdir(EIFFEL)).sort().slice(0, 6)) await fs.symlink(path.join(EIFFEL, n), path.join(folder, 'eiffel', n));
  for (const n of (await fs.readdir(LOUVRE)).sort().slice(0, 6)) await fs.symlink(path.join(LOUVRE, n), path.join(folder, 'louvre', n));
  for (const f of ['base_images/ukbench00120.jpg', 'mixed_images/ukbench00120_resize.jpg', 'mixed_images/ukbench00120_hflip.jpg', 'mixed_images/ukbench00120_rotation.jpg', 'ukbench00120_gray.jpg', 'base_images/ukbench09268.jpg']) {
    await fs.symlink(path.join(DATA, 'near-dup', f), path.join(folder, 'dups', path.basename(f)));
  }
  // Hostile files: each must be recorded with its reason, none may stop indexing.
  const hostile = path.join(folder, 'hostile');
  await fs.mkdir(hostile);
  const photo = await fs.readFile(path.join(EIFFEL, (await fs.readdir(EIFFEL)).sort()[0]));
  await fs.writeFile(path.join(hostile, 'truncated.jpg'), photo.subarray(0, Math.floor(photo.length * 0.4)));
  await fs.writeFile(path.join(hostile, 'empty.jpg'), '');
  await fs.writeFile(path.join(hostile, 'notes.jpg'), 'this is not a photo');
  await fs.writeFile(path.join(hostile, Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x6a, 0x70, 0x67]).toString('latin1')), photo);
  await fs.symlink(hostile, path.join(hostile, 'loop'));
  await fs.symlink(path.join(DATA, 'near-dup/mixed_images/ukbench09268_corrupt.jpg'), path.join(hostile, 'ukbench09268_corrupt.jpg'));
  await sharp({ create: { width: 20, height: 20, channels: 3, background: '#808080' } }).png().toFile(path.join(hostile, 'tiny.png'));
  library = await Library.open({ dbPath: path.join(tmp, 'data', 'library.db'), model: modelDir, workers: 2 });
}, 120_000);

afterAll(async () => {
  await library?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('Library', () => {
  it('indexes real photos, records every hostile file with its reason, and reports progress', async () => {
    const phases = new Set<string>();
    const summary = await library.index([folder], (p) => phases.add(p.phase));
    expect(summary.cancelled).toBe(false);
    expect([...phases]).toEqual(expect.arrayContaining(['scan', 'hash', 'describe', 'done']));
    const status = library.status();
    // 12 landmark photos + 6 UKBench files + the photo under a non-UTF-8 name (same bytes as an Eiffel photo: one photo, two files).
    expect(status.photos.indexed).toBe(18);
    const failures = library.failures.list();
    const byName = new Map(failures.map((f) => [path.basename(f.displayPath), f.code]));
    expect(byName.get('truncated.jpg')).toBe('corrupt');
    expect(byName.get('empty.jpg')).toBe('empty');
    expect(byName.get('notes.jpg')).toBe('not-an-image');
    expect(byName.get('ukbench09268_corrupt.jpg')).toBe('not-an-image');
    expect(byName.get('tiny.png')).toBe('too-small');
    expect([...byName.values()]).toContain('symlink-loop');
  });

  it('finds Eiffel photos for an Eiffel query, and the photo itself first for a whole-photo query', async () => {
    const query = path.join(EIFFEL, (await fs.readdir(EIFFEL)).sort()[1]);
    const hits = await library.searchByFile(query, { top: 6 });
    expect(hits[0].path).toContain('paris_eiffel_');
    expect(hits[0].score).toBeGreaterThan(0.999);
    // Unwhitened scores are flat (every pair ≥ 0.9), yet the Eiffel photos still lead: of the 5
    // other Eiffel photos (one is also filed under a non-UTF-8 name), at least 3 are in the top 5.
    const eiffelLike = hits.slice(1, 6).filter((h) => h.path.includes('/eiffel/') || h.path.includes('/hostile/bad')).length;
    expect(eiffelLike, hits.map((h) => `${h.score.toFixed(3)} ${h.path}`).join('\n')).toBeGreaterThanOrEqual(3);
  });

  it('groups resized, grey and mirrored copies with their original, and not with another object', async () => {
    const { groups } = await library.duplicateGroups('near');
    const withOriginal = groups.find((g) => g.members.some((id) => library.photos.filesOf(id).some((f) => f.displayPath.endsWith('ukbench00120.jpg'))));
    expect(withOriginal).toBeDefined();
    const names = withOriginal!.members.flatMap((id) => library.photos.filesOf(id).map((f) => path.basename(f.displayPath)));
    expect(names).toEqual(expect.arrayContaining(['ukbench00120.jpg', 'ukbench00120_resize.jpg', 'ukbench00120_hflip.jpg', 'ukbench00120_rotation.jpg', 'ukbench00120_gray.jpg']));
    expect(names).not.toContain('ukbench09268.jpg');
    expect(withOriginal!.keeperReason.length).toBeGreaterThan(0);
    // The same content under two names is the exact tier.
    expect((await library.duplicateGroups('exact')).groups.length).toBe(1);
  });

  it('splits places only further when edges must verify geometrically', async () => {
    const plain = await library.places();
    expect(plain.length).toBeGreaterThan(0);
    const verified = await library.places({ verified: true });
    // Verification only removes edges: every verified place lies inside one unverified place.
    for (const place of verified) expect(plain.some((p) => place.members.every((m) => p.members.includes(m)))).toBe(true);
    expect(verified.reduce((n, p) => n + p.count, 0)).toBeLessThanOrEqual(plain.reduce((n, p) => n + p.count, 0));
  });

  it('keeps a moved photo (same content, new name) and marks a deleted one gone', async () => {
    const before = library.status().photos;
    const matrix = library.descriptorMatrix();
    const sizeBefore = matrix.size;
    const eiffelLinks = (await fs.readdir(path.join(folder, 'eiffel'))).sort();
    await fs.rename(path.join(folder, 'eiffel', eiffelLinks[2]), path.join(folder, 'louvre', `moved-${eiffelLinks[2]}`));
    await fs.rm(path.join(folder, 'eiffel', eiffelLinks[3]));
    const summary = await library.index([folder]);
    expect(summary.added).toBe(0);
    const after = library.status().photos;
    expect(after.indexed).toBe(before.indexed - 1);
    expect(after.gone).toBe(1);
    // The search matrix followed without a reload: same object, the gone photo taken out.
    expect(library.descriptorMatrix()).toBe(matrix);
    expect(matrix.size).toBe(sizeBefore - 1);
    const goneId = library.photos.idsNotIndexed().find((id) => library.photos.get(id)?.status === 'gone')!;
    expect(matrix.has(goneId)).toBe(false);
  });

  it('never groups a pair the user marked "not duplicates" again', async () => {
    const group = (await library.duplicateGroups('near')).groups[0];
    const hashes = group.members.map((id) => library.photos.get(id)!.contentHash);
    for (let i = 0; i < hashes.length; i++) for (let j = i + 1; j < hashes.length; j++) library.decisions.addPair('not_duplicates', hashes[i], hashes[j]);
    const again = (await library.duplicateGroups('near')).groups;
    expect(again.some((g) => g.members.filter((id) => group.members.includes(id)).length > 1)).toBe(false);
  });

  it('re-embeds only what is stale when the whitening (and so the descriptor version) changes', async () => {
    const oldVersion = library.modelId;
    // One photo as a library indexed before JPEG thumbnails left it: a WebP thumbnail on disk.
    const photo = library.photos.get(library.photos.keeperFacts()[0].id)!;
    const webp = photo.thumbnail!.replace(/\.jpg$/, '.webp');
    await fs.rename(path.join(library.thumbnails.dir, ...photo.thumbnail!.split('/')), path.join(library.thumbnails.dir, ...webp.split('/')));
    library.db.prepare('UPDATE photos SET thumbnail = ? WHERE id = ?').run(webp, photo.id);
    await library.whitenOnLibrary();
    expect(library.modelId).not.toBe(oldVersion);
    expect(library.descriptors.count(library.modelId)).toBe(0);
    await library.index([folder]);
    expect(library.descriptors.count(library.modelId)).toBe(library.status().photos.indexed);
    expect(library.descriptors.count(oldVersion)).toBe(0);
    // Re-embedding wrote a JPEG thumbnail and removed the WebP one instead of orphaning it.
    const after = library.photos.get(photo.id)!;
    expect(after.thumbnail).toMatch(/\.jpg$/);
    await expect(fs.stat(path.join(library.thumbnails.dir, ...after.thumbnail!.split('/')))).resolves.toBeTruthy();
    await expect(fs.stat(path.join(library.thumbnails.dir, ...webp.split('/')))).rejects.toThrow();
  });

  it('watches its folders and indexes a photo that appears', async () => {
    const indexed: number[] = [];
    const watch = library.watch([folder], { onIndexed: (s) => indexed.push(s.added) }, { debounceMs: 200, settleMs: 200 });
    await watch.ready;
    const before = library.status().photos.indexed;
    const matrix = library.descriptorMatrix();
    const sizeBefore = matrix.size;
    const newcomer = (await fs.readdir(LOUVRE)).sort()[20];
    await fs.symlink(path.join(LOUVRE, newcomer), path.join(folder, 'louvre', newcomer));
    const deadline = Date.now() + 30_000;
    while (!indexed.some((n) => n > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await watch.close();
    expect(indexed.some((n) => n === 1)).toBe(true);
    expect(library.status().photos.indexed).toBe(before + 1);
    // Added to the search matrix as it was described, not by reloading every descriptor.
    expect(library.descriptorMatrix()).toBe(matrix);
    expect(matrix.size).toBe(sizeBefore + 1);
  });

  it('can be paused, resumed and cancelled while indexing', async () => {
    const more = path.join(tmp, 'more');
    await fs.mkdir(more);
    for (const n of (await fs.readdir(LOUVRE)).sort().slice(30, 42)) await fs.symlink(path.join(LOUVRE, n), path.join(more, n));
    let sawDescribe = false;
    let pausedAt = -1;
    const run = library.index([more], (p) => {
      if (p.phase === 'describe' && p.done >= 2 && !sawDescribe) {
        sawDescribe = true;
        library.pauseIndexing();
        pausedAt = library.status().photos.indexed;
        setTimeout(() => {
          // Nothing more was committed while paused (photos in flight may finish).
          expect(library.status().photos.indexed - pausedAt).toBeLessThanOrEqual(4);
          library.cancelIndexing();
        }, 500);
      }
    });
    const summary = await run;
    expect(sawDescribe).toBe(true);
    expect(summary.cancelled).toBe(true);
    const pending = library.status().photos.pending;
    expect(pending).toBeGreaterThan(0);
    // The next run picks up exactly what was left.
    const resumed = await library.index([more]);
    expect(resumed.cancelled).toBe(false);
    expect(library.status().photos.pending).toBe(0);
  });

  it('reports a vanished folder without losing its photos', async () => {
    const photosBefore = library.status().photos.indexed;
    const summary = await library.index([path.join(tmp, 'no-such-folder')]);
    expect(summary.cancelled).toBe(false);
    const missing = library.status().folders.find((f) => f.path.endsWith('no-such-folder'));
    expect(missing?.status).toBe('missing');
    expect(library.status().photos.indexed).toBe(photosBefore);
  });
});
