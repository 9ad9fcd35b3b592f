// The core behind the UI, called the way both transports call it (through dispatchApiCall, with
// the contract's output schemas checked): folders, indexing events, photos, search by photo, region
// and dropped image, heatmaps that add up to the score, duplicate decisions with trash and undo.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchApiCall } from '../../app/api/apiDispatcher.js';
import type { ApiEvent, ApiInput, ApiMethod, ApiOutput } from '../../app/api/contract.js';
import { GRID_OVERLAY_LABEL, SightlineService } from '../../app/api/sightlineService.js';
import { buildDefaultModel } from '../../app/engine/defaultModel.js';
import { ModelRegistry } from '../../app/engine/modelRegistry.js';
import { FOLDER_TRASH_NAME } from '../../app/library/photoTrash.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const EIFFEL = path.join(DATA, 'paris6k-mini/images/eiffel_tower');
const LOUVRE = path.join(DATA, 'paris6k-mini/images/louvre');
const NEAR = path.join(DATA, 'near-dup');

let tmp: string;
let folder: string;
let service: SightlineService;
const events: ApiEvent[] = [];

async function call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
  const response = await dispatchApiCall(service, method, input, { validateOutput: true });
  if (!response.ok) throw Object.assign(new Error(response.error.message), { code: response.error.code });
  return response.value as ApiOutput<M>;
}

async function callError(method: ApiMethod, input: unknown): Promise<{ code: string; message: string }> {
  const response = await dispatchApiCall(service, method, input);
  if (response.ok) throw new Error(`${method} succeeded with ${JSON.stringify(input)}`);
  return response.error;
}

function idle(): Promise<void> {
  return new Promise((resolve) => {
    const check = async () => {
      const s = await service.getStatus();
      if (s.indexing.state === 'idle' && s.photos.pending === 0 && s.indexing.lastSummary) resolve();
      else setTimeout(check, 200);
    };
    void check();
  });
}

async function photoIdNamed(name: string): Promise<number> {
  const page = await call('listPhotos', { limit: 2000, sort: 'folder', direction: 'asc' });
  const photo = page.items.find((p) => p.name === name);
  if (!photo) throw new Error(`${name} not indexed: ${page.items.map((p) => p.name).join(', ')}`);
  return photo.id;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-service-'));
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  const model = await buildDefaultModel(undefined, new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') }), 'user');
  folder = path.join(tmp, 'photos');
  for (const [from, to, n] of [[EIFFEL, 'eiffel', 5], [LOUVRE, 'louvre', 4]] as const) {
    await fs.mkdir(path.join(folder, to), { recursive: true });
    for (const name of (await fs.readdir(from)).sort().slice(0, n)) await fs.copyFile(path.join(from, name), path.join(folder, to, name));
  }
  // Real copies, not links: the trash test moves them.
  await fs.mkdir(path.join(folder, 'dups'));
  for (const f of ['base_images/ukbench00120.jpg', 'mixed_images/ukbench00120_resize.jpg', 'mixed_images/ukbench00120_hflip.jpg', 'ukbench00120_gray.jpg', 'base_images/ukbench09268.jpg']) {
    await fs.copyFile(path.join(NEAR, f), path.join(folder, 'dups', path.basename(f)));
  }
  service = await SightlineService.open({ dbPath: path.join(tmp, 'data', 'library.db'), model: model.dir, workers: 2, watch: false });
  service.onEvent((e) => events.push(e));
}, 300_000);

afterAll(async () => {
  await service?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('SightlineService', () => {
  it('refuses folders that are relative, missing or files, with a message that says which', async () => {
    expect(await callError('addFolder', { path: 'photos' })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('full path') });
    expect(await callError('addFolder', { path: path.join(tmp, 'nope') })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('no folder') });
    const file = path.join(folder, 'dups', 'ukbench09268.jpg');
    expect(await callError('addFolder', { path: file })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('not a folder') });
    expect(await callError('addFolder', { path: 42 })).toMatchObject({ code: 'bad_request' });
    expect(await callError('startIndexing', {})).toMatchObject({ code: 'bad_request', message: expect.stringContaining('Add a folder') });
  });

  it('indexes an added folder, reporting progress as events, and pages through the photos', async () => {
    const added = await call('addFolder', { path: folder });
    expect(added.path).toBe(folder);
    await idle();
    const progress = events.filter((e) => e.type === 'indexing' && e.indexing.progress);
    expect(progress.length).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'libraryChanged' && e.reason === 'indexed')).toBe(true);
    const status = await call('getStatus', {});
    expect(status.photos.indexed).toBe(14);
    expect(status.model.regions).toBe('grid');
    expect(status.trash).toBe('folder');
    const first = await call('listPhotos', { limit: 5, offset: 0, sort: 'folder', direction: 'asc' });
    const rest = await call('listPhotos', { limit: 100, offset: 5, sort: 'folder', direction: 'asc' });
    expect(first.total).toBe(14);
    const paths = [...first.items, ...rest.items].map((p) => p.path);
    expect(paths).toEqual([...paths].sort());
    expect(new Set(paths).size).toBe(14);
  });

  it('serves thumbnails and viewer images by id, and nothing for ids it does not hold', async () => {
    const id = await photoIdNamed('ukbench09268.jpg');
    const thumb = await service.readMedia('thumb', id);
    expect(thumb?.contentType).toBe('image/jpeg');
    expect([...thumb!.bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    const image = await service.readMedia('image', id);
    expect(image?.contentType).toBe('image/jpeg');
    expect([...image!.bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect(await service.readMedia('image', 999_999)).toBeNull();
    expect(await service.readMedia('thumb', -1)).toBeNull();
    expect(await callError('getPhoto', { photoId: 999_999 })).toMatchObject({ code: 'not_found' });
  });

  it('searches by photo (never returning the query itself), by a region of it, and by a dropped image', async () => {
    const eiffel = (await fs.readdir(path.join(folder, 'eiffel'))).sort();
    const queryId = await photoIdNamed(eiffel[0]);
    const whole = await call('search', { query: { kind: 'photo', photoId: queryId }, top: 4 });
    expect(whole.hits.map((h) => h.photoId)).not.toContain(queryId);
    expect(whole.hits.filter((h) => h.path.includes('/eiffel/')).length).toBeGreaterThanOrEqual(2);
    const detail = await call('getPhoto', { photoId: queryId });
    const box = { x: detail.width! * 0.25, y: detail.height! * 0.1, width: detail.width! * 0.5, height: detail.height! * 0.8 };
    const region = await call('search', { query: { kind: 'photo', photoId: queryId, box }, top: 4 });
    expect(region.hits.length).toBe(4);
    expect(region.hits.map((h) => h.photoId)).not.toContain(queryId);
    expect(region.hits.map((h) => h.score)).toEqual([...region.hits.map((h) => h.score)].sort((a, b) => b - a));

    const bytes = await fs.readFile(path.join(folder, 'eiffel', eiffel[1]));
    const upload = await call('uploadImage', { name: eiffel[1], dataBase64: bytes.toString('base64') });
    expect(upload.uploadId).toMatch(/^[0-9a-f]{32}$/);
    const byUpload = await call('search', { query: { kind: 'upload', uploadId: upload.uploadId }, top: 3 });
    expect(byUpload.hits[0].name).toBe(eiffel[1]);
    expect(byUpload.hits[0].score).toBeGreaterThan(0.999);
    expect(await callError('uploadImage', { name: 'notes.txt', dataBase64: Buffer.from('not an image at all').toString('base64') })).toMatchObject({
      code: 'bad_request',
      message: expect.stringContaining('not an image'),
    });
    expect(await callError('search', { query: { kind: 'upload', uploadId: '0'.repeat(32) } })).toMatchObject({ code: 'not_found' });
    expect(await callError('search', { query: { kind: 'photo', photoId: queryId, box: { x: 0, y: 0, width: -5, height: 10 } } })).toMatchObject({ code: 'bad_request' });
  });

  it('splits a match score exactly into region heats, and shows the rigid grid as the region overlay', async () => {
    const eiffel = (await fs.readdir(path.join(folder, 'eiffel'))).sort();
    const [a, b] = [await photoIdNamed(eiffel[0]), await photoIdNamed(eiffel[2])];
    const map = await call('matchHeatmap', { query: { kind: 'photo', photoId: a }, resultPhotoId: b, pairs: 5 });
    const sum = (xs: { heat: number }[]) => xs.reduce((s, x) => s + x.heat, 0);
    expect(sum(map.query.regions)).toBeCloseTo(map.score, 4);
    expect(sum(map.result.regions)).toBeCloseTo(map.score, 4);
    expect(map.pairs.length).toBe(5);
    expect(map.pairs.map((p) => p.contribution)).toEqual([...map.pairs.map((p) => p.contribution)].sort((x, y) => y - x));
    // The best pair is at least the mean pair (score / number of pairs).
    expect(map.pairs[0].contribution).toBeGreaterThanOrEqual(map.score / (map.query.regions.length * map.result.regions.length));
    // Stored and fresh descriptors agree: the heatmap's score is the search's score.
    const search = await call('search', { query: { kind: 'photo', photoId: a }, top: 20 });
    expect(search.hits.find((h) => h.photoId === b)!.score).toBeCloseTo(map.score, 4);
    for (const r of map.query.regions) {
      expect(r.box.x + r.box.width).toBeLessThanOrEqual(map.query.width + 1);
      expect(r.box.y + r.box.height).toBeLessThanOrEqual(map.query.height + 1);
    }
    const overlay = await call('regionOverlay', { photoId: a });
    expect(overlay).toMatchObject({ kind: 'grid', label: GRID_OVERLAY_LABEL });
    expect(overlay.regions.length).toBeGreaterThan(1);
    expect(overlay.regions.every((r) => r.objectness === null)).toBe(true);
  });

  it('groups the near-identical copies with the original as keeper; "not duplicates" hides them until undone', async () => {
    const original = await photoIdNamed('ukbench00120.jpg');
    const near = await call('duplicateGroups', { tier: 'near' });
    const group = near.groups.find((g) => g.members.some((m) => m.photoId === original));
    expect(group, JSON.stringify(near.groups.map((g) => g.members.map((m) => m.name)))).toBeDefined();
    expect(group!.keeper).toBe(original);
    expect(group!.members[0].photoId).toBe(original);
    expect(group!.members.map((m) => m.name)).not.toContain('ukbench09268.jpg');
    expect(near.rule.length).toBeGreaterThan(20);

    const decision = await call('decideDuplicates', { action: 'not_duplicates', members: group!.members.map((m) => m.photoId) });
    expect((await call('duplicateGroups', { tier: 'near' })).groups.some((g) => g.key === group!.key)).toBe(false);
    expect(events.at(-1)).toEqual({ type: 'libraryChanged', reason: 'decisions' });
    const undone = await call('undoDecision', { decisionId: decision.decisionId });
    expect(undone).toEqual({ undone: true, restored: [], notRestored: [] });
    expect((await call('duplicateGroups', { tier: 'near' })).groups.some((g) => g.key === group!.key)).toBe(true);
    expect(await callError('decideDuplicates', { action: 'trash_others', members: [original, original + 1] })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('keeper') });
  });

  it('moves the others to a .sightline-trash folder, never deleting them, and puts them back on undo', async () => {
    const original = await photoIdNamed('ukbench00120.jpg');
    const group = (await call('duplicateGroups', { tier: 'near' })).groups.find((g) => g.keeper === original)!;
    const others = group.members.filter((m) => m.photoId !== original);
    const result = await call('decideDuplicates', { action: 'trash_others', members: group.members.map((m) => m.photoId), keeper: original });
    expect(result.trashFailures).toEqual([]);
    expect(result.trashed.sort()).toEqual(others.map((m) => m.path).sort());
    for (const m of others) await expect(fs.stat(m.path)).rejects.toThrow();
    const trashDir = path.join(folder, FOLDER_TRASH_NAME, String(result.decisionId));
    expect((await fs.readdir(trashDir)).sort()).toEqual(others.map((m) => m.name).sort());
    await expect(fs.stat(path.join(folder, 'dups', 'ukbench00120.jpg'))).resolves.toBeTruthy();
    // The trashed photos are gone from the grid at once.
    expect((await call('getStatus', {})).photos.gone).toBe(others.length);

    const undo = await call('undoDecision', { decisionId: result.decisionId });
    expect(undo.restored.sort()).toEqual(others.map((m) => m.path).sort());
    for (const m of others) await expect(fs.stat(m.path)).resolves.toBeTruthy();
    await idle();
    await new Promise((r) => setTimeout(r, 300));
    await idle();
    expect((await call('getStatus', {})).photos).toMatchObject({ indexed: 14, gone: 0 });
    // Put back, the photos are searchable again (unchanged files are not re-described, so the
    // search matrix must take them back from the store).
    const hits = await call('search', { query: { kind: 'photo', photoId: original }, top: 20 });
    for (const m of others) expect(hits.hits.map((h) => h.photoId)).toContain(m.photoId);
  });

  it('settles byte-identical copies of one photo: keep one file, trash the others, undo puts them back', async () => {
    const copy = path.join(folder, 'louvre', 'copy-of-ukbench09268.jpg');
    await fs.copyFile(path.join(folder, 'dups', 'ukbench09268.jpg'), copy);
    await call('startIndexing', {});
    await new Promise((r) => setTimeout(r, 300));
    await idle();
    const exact = (await call('duplicateGroups', { tier: 'exact' })).groups;
    expect(exact.length).toBe(1);
    const group = exact[0];
    expect(group.files.sort()).toEqual([copy, path.join(folder, 'dups', 'ukbench09268.jpg')].sort());
    expect(group.files).toContain(group.keeperFile);
    expect(await callError('decideCopies', { photoId: group.keeper, action: 'trash_others', keepPath: '/elsewhere.jpg' })).toMatchObject({ code: 'bad_request' });
    const decision = await call('decideCopies', { photoId: group.keeper, action: 'trash_others', keepPath: group.keeperFile! });
    const dropped = group.files.filter((f) => f !== group.keeperFile);
    expect(decision.trashed).toEqual(dropped);
    await expect(fs.stat(dropped[0])).rejects.toThrow();
    expect((await call('duplicateGroups', { tier: 'exact' })).groups).toEqual([]);
    // The photo itself stays: one of its files is still there.
    expect((await call('getPhoto', { photoId: group.keeper })).status).toBe('indexed');
    const undo = await call('undoDecision', { decisionId: decision.decisionId });
    expect(undo.restored).toEqual(dropped);
    await fs.rm(copy);
    await call('startIndexing', {});
    await new Promise((r) => setTimeout(r, 300));
    await idle();
  });

  it('shows where a copy matches (verified, with match lines inside both photos) and refuses another object', async () => {
    const original = await photoIdNamed('ukbench00120.jpg');
    const resized = await photoIdNamed('ukbench00120_resize.jpg');
    const other = await photoIdNamed('ukbench09268.jpg');
    const match = await call('verifyMatch', { query: { kind: 'photo', photoId: original }, resultPhotoId: resized, maxLines: 20 });
    expect(match.verified).toBe(true);
    expect(match.reason).toBeNull();
    expect(match.lines.length).toBe(20);
    expect(match.inliers).toBeGreaterThanOrEqual(20);
    for (const [x1, y1, x2, y2] of match.lines) {
      expect(x1).toBeLessThanOrEqual(match.query.width);
      expect(y1).toBeLessThanOrEqual(match.query.height);
      expect(x2).toBeLessThanOrEqual(match.result.width);
      expect(y2).toBeLessThanOrEqual(match.result.height);
    }
    const no = await call('verifyMatch', { query: { kind: 'photo', photoId: original }, resultPhotoId: other });
    expect(no.verified).toBe(false);
    expect(no.reason).toBeTruthy();
    // A box query matches with the keypoints inside the box only.
    const box = { x: 0, y: 0, width: match.query.width / 2, height: match.query.height / 2 };
    const part = await call('verifyMatch', { query: { kind: 'photo', photoId: original, box }, resultPhotoId: resized, maxLines: 500 });
    for (const [x1, y1] of part.lines) {
      expect(x1).toBeLessThan(box.width);
      expect(y1).toBeLessThan(box.height);
    }
  });

  it('clusters places with a representative each', async () => {
    const { places } = await call('places', {});
    for (const p of places) {
      expect(p.members[0]).toBe(p.representative);
      expect(p.count).toBe(p.members.length);
    }
  });

  it('answers unknown methods and malformed payloads with errors, not exceptions', async () => {
    expect(await callError('deleteEverything' as ApiMethod, {})).toMatchObject({ code: 'not_found' });
    expect(await callError('listPhotos', { limit: 0 })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('limit') });
    expect(await callError('listPhotos', { sort: 'size' })).toMatchObject({ code: 'bad_request' });
    expect(await callError('getStatus', { extra: 1 })).toMatchObject({ code: 'bad_request' });
    expect(await callError('removeFolder', { folderId: 12345 })).toMatchObject({ code: 'not_found' });
  });
});
