// "Learn from my library" through the API, the way both transports call it (dispatchApiCall with
// output validation): it refuses to start while indexing runs, reports its progress as events,
// switches (the margin is lowered so that any result switches: this is about the flow), lets the
// library re-embed, and reverts.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchApiCall } from '../../app/api/apiDispatcher.js';
import type { ApiEvent, ApiInput, ApiMethod, ApiOutput, LearningState } from '../../app/api/contract.js';
import { SightlineService } from '../../app/api/sightlineService.js';

const IMAGES = fileURLToPath(new URL('../../../shared/data/paris6k-mini/images/', import.meta.url));

let tmp: string;
let service: SightlineService;
const events: ApiEvent[] = [];
const previousDataDir = process.env.SIGHTLINE_DATA_DIR;

async function call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
  const response = await dispatchApiCall(service, method, input, { validateOutput: true });
  if (!response.ok) throw Object.assign(new Error(response.error.message), { code: response.error.code });
  return response.value as ApiOutput<M>;
}

function until<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 300_000): Promise<T> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = async () => {
      const value = await check();
      if (value !== undefined) resolve(value);
      else if (Date.now() - started > timeoutMs) reject(new Error('timed out'));
      else setTimeout(poll, 200);
    };
    void poll();
  });
}

const indexedAndIdle = async () => {
  const s = await service.getStatus();
  return s.indexing.state === 'idle' && s.photos.pending === 0 && s.indexing.lastSummary ? s : undefined;
};

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-learn-api-'));
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  for (const landmark of ['defense', 'eiffel_tower', 'invalides', 'louvre', 'moulinrouge']) {
    await fs.mkdir(path.join(tmp, 'photos', landmark), { recursive: true });
    const names = (await fs.readdir(path.join(IMAGES, landmark))).filter((f) => f.endsWith('.jpg')).sort().slice(0, 10);
    for (const name of names) await fs.copyFile(path.join(IMAGES, landmark, name), path.join(tmp, 'photos', landmark, name));
  }
  service = await SightlineService.open({ dbPath: path.join(tmp, 'data', 'library.db'), watch: false, learning: { minGain: -1 } });
  service.onEvent((e) => events.push(e));
}, 300_000);

afterAll(async () => {
  await service?.close();
  if (previousDataDir === undefined) delete process.env.SIGHTLINE_DATA_DIR;
  else process.env.SIGHTLINE_DATA_DIR = previousDataDir;
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('learning through the API', () => {
  it('starts idle, explains what it needs, and waits for indexing to finish', async () => {
    const state = await call('learningStatus', {});
    expect(state).toMatchObject({ state: 'idle', progress: null, lastRun: null, undo: null, current: 'no whitening (plain R-MAC)' });
    expect(state.requirements).toEqual({ minPlaces: 4, minPhotosPerPlace: 2, heldOutShare: 0.25 });
    await expect(call('learnFromLibrary', {})).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/no indexed photos/) });
    await call('addFolder', { path: path.join(tmp, 'photos') });
    await expect(call('learnFromLibrary', {})).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/^Indexing is still running/) });
    await until(indexedAndIdle);
    await expect(call('revertLearning', {})).rejects.toMatchObject({ code: 'conflict' });
  }, 300_000);

  it('reports progress by phase, switches, and re-embeds the library', async () => {
    events.length = 0;
    const started = await call('learnFromLibrary', { epochs: 1 });
    expect(started.state).toBe('running');
    await expect(call('learnFromLibrary', {})).rejects.toMatchObject({ code: 'conflict' });
    const done = await until(async () => {
      const s = await call('learningStatus', {});
      return s.state === 'idle' ? s : undefined;
    });
    expect(done.lastRun?.outcome, done.lastRun?.error ?? '').toBe('finished');
    const report = done.lastRun!.report!;
    expect(report.decision.switched).toBe(true);
    expect(report.evaluation.map((s) => s.key)).toEqual(['current', 'pca', 'learned']);
    expect(done.current).toMatch(/learned with the triplet loss/);
    expect(done.undo).toMatchObject({ previous: 'no whitening (plain R-MAC)' });

    const learningEvents = events.filter((e): e is Extract<ApiEvent, { type: 'learning' }> => e.type === 'learning').map((e) => e.learning as LearningState);
    const phases = [...new Set(learningEvents.flatMap((s) => (s.progress ? [s.progress.phase] : [])))];
    expect(phases[0]).toBe('mining');
    expect(phases).toContain('verifying');
    expect(phases).toContain('training');
    expect(events).toContainEqual({ type: 'libraryChanged', reason: 'whitening' });

    // The switch re-embeds: indexing runs again and every photo gets a descriptor of the new whitening.
    const status = await until(async () => {
      const s = await indexedAndIdle();
      return s && s.model.whitened ? s : undefined;
    });
    expect(status.model.id).toBe(report.whitening.after);
    const photoId = (await call('listPhotos', { limit: 1 })).items[0].id;
    expect((await call('search', { query: { kind: 'photo', photoId }, top: 5 })).hits).toHaveLength(5);
  }, 600_000);

  it('goes back to the previous whitening', async () => {
    events.length = 0;
    const reverted = await call('revertLearning', {});
    expect(reverted.undo).toBeNull();
    expect(reverted.current).toBe('no whitening (plain R-MAC)');
    expect((await service.getStatus()).model.whitened).toBe(false);
    expect(events).toContainEqual({ type: 'libraryChanged', reason: 'whitening' });
    await until(indexedAndIdle);
    const hits = (await call('search', { query: { kind: 'photo', photoId: (await call('listPhotos', { limit: 1 })).items[0].id }, top: 5 })).hits;
    expect(hits).toHaveLength(5);
  }, 300_000);
});
