// EnginePool end to end with real worker threads and a real model: parity with inline
// describeRaw, per-photo image errors inside a batch, crash recovery, close(), and models or
// workers that can never start.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDefaultModel } from '../../app/engine/defaultModel.js';
import { EnginePool, EngineWorkerCrashError } from '../../app/engine/enginePool.js';
import { createSession, describeRaw, type ExtractorModel, type RawDescription } from '../../app/engine/featureExtractor.js';
import { ImageInputError } from '../../app/engine/imageErrors.js';
import { ModelRegistry, type RegisteredModel } from '../../app/engine/modelRegistry.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const PHOTOS = [
  'paris6k-mini/images/eiffel_tower/paris_eiffel_000000.jpg',
  'paris6k-mini/images/eiffel_tower/paris_eiffel_000004.jpg',
  'paris6k-mini/images/louvre/paris_louvre_000004.jpg',
  'paris6k-mini/images/defense/paris_defense_000000.jpg',
  'near-dup/base_images/ukbench00120.jpg',
  'scenes/skimage/coffee.png',
].map((p) => path.join(DATA, p));
// Small inputs keep every job short; the code paths are the same at any S.
const OPTIONS = { scales: [256] };

let tmp: string;
let model: RegisteredModel;
const reference = new Map<string, RawDescription>();
const pools: EnginePool[] = [];

/** A pool that afterEach closes even when a test fails half-way. */
function pool(workers: number, m: RegisteredModel = model): EnginePool {
  // CPU explicitly: the inline reference session runs on CPU, and parity is checked bit for bit.
  const p = new EnginePool(m, { workers, threadsPerWorker: 1, executionProviders: ['cpu'] });
  pools.push(p);
  return p;
}

// The pool has no public signal for "worker ready" or "job dispatched" (it needs none), so the
// crash tests read its WorkerPool's private slots to terminate a worker at an exact moment
// instead of sleeping.
interface PoolInternals {
  slots: Array<{ ready: boolean; job?: { id: number } }>;
}
const internals = (p: EnginePool) => (p as unknown as { workers: PoolInternals }).workers;

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const allReady = (p: EnginePool) => until(() => internals(p).slots.every((s) => s.ready), 'every worker is ready');

function expectSameDescription(actual: RawDescription, expected: RawDescription): void {
  expect(actual.originalWidth).toBe(expected.originalWidth);
  expect(actual.originalHeight).toBe(expected.originalHeight);
  expect(actual.scales.length).toBe(expected.scales.length);
  let worst = 0;
  actual.scales.forEach((s, i) => {
    const e = expected.scales[i];
    expect([s.longSide, s.featureWidth, s.featureHeight, s.regions.length]).toEqual([e.longSide, e.featureWidth, e.featureHeight, e.regions.length]);
    // Arrays cross the worker boundary by structured clone: they must still be Float32Arrays.
    expect(s.mac).toBeInstanceOf(Float32Array);
    for (let k = 0; k < s.mac.length; k++) worst = Math.max(worst, Math.abs(s.mac[k] - e.mac[k]));
    s.regions.forEach((r, j) => {
      expect(r.box).toEqual(e.regions[j].box);
      expect(r.cell).toEqual(e.regions[j].cell);
      for (let k = 0; k < r.vector.length; k++) worst = Math.max(worst, Math.abs(r.vector[k] - e.regions[j].vector[k]));
    });
  });
  expect(worst).toBeLessThanOrEqual(1e-6);
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-pool-'));
  model = await buildDefaultModel(undefined, new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') }), 'user');
  const session = await createSession(model.onnxPath, 1);
  const inline: ExtractorModel = { session, inputName: model.meta.inputName, outputName: model.meta.outputName, stride: model.meta.stride, normalisation: model.meta.normalisation };
  try {
    for (const photo of PHOTOS) reference.set(photo, await describeRaw(inline, photo, OPTIONS));
  } finally {
    await session.release();
  }
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('EnginePool', () => {
  it('describes photos concurrently on 2 workers, exactly as describeRaw does inline', async () => {
    const p = pool(2);
    expect(p.size).toBe(2);
    // Every photo twice, all at once, so both workers and the queue are exercised.
    const jobs = [...PHOTOS, ...PHOTOS];
    const results = await Promise.all(jobs.map((photo) => p.describe(photo, OPTIONS)));
    results.forEach((r, i) => expectSameDescription(r, reference.get(jobs[i])!));
    // Bytes instead of a path give the same answer.
    expectSameDescription(await p.describe(new Uint8Array(await fs.readFile(PHOTOS[0])), OPTIONS), reference.get(PHOTOS[0])!);
    expect(p.respawns).toBe(0);
  });

  it('rejects bad photos of a batch with ImageInputErrors while the good ones succeed', async () => {
    await fs.writeFile(path.join(tmp, 'empty.jpg'), '');
    await fs.writeFile(path.join(tmp, 'text.jpg'), 'not a photo\n');
    const tiny = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#fff' } }).png().toBuffer();
    const batch: Array<{ source: string | Uint8Array; code?: string }> = [
      { source: PHOTOS[0] },
      { source: path.join(tmp, 'empty.jpg'), code: 'empty' },
      { source: path.join(DATA, 'near-dup/mixed_images/ukbench09268_corrupt.jpg'), code: 'not-an-image' },
      { source: PHOTOS[2] },
      { source: path.join(tmp, 'text.jpg'), code: 'not-an-image' },
      { source: path.join(tmp, 'missing.jpg'), code: 'unreadable' },
      { source: new Uint8Array(tiny), code: 'too-small' },
      { source: PHOTOS[3] },
    ];
    const p = pool(2);
    const settled = await Promise.allSettled(batch.map((b) => p.describe(b.source, OPTIONS)));
    settled.forEach((s, i) => {
      const { source, code } = batch[i];
      if (!code) {
        expect(s.status, String(source)).toBe('fulfilled');
        expectSameDescription((s as PromiseFulfilledResult<RawDescription>).value, reference.get(source as string)!);
        return;
      }
      expect(s.status, String(source)).toBe('rejected');
      const err = (s as PromiseRejectedResult).reason as ImageInputError;
      // Rebuilt on this side of the thread boundary as the real class, code and message intact.
      expect(err).toBeInstanceOf(ImageInputError);
      expect(err.code).toBe(code);
      if (typeof source === 'string') expect(err.message).toContain(path.basename(source));
    });
    // Image errors are the photo's fault, not the worker's: nothing was restarted, the pool still works.
    expect(p.respawns).toBe(0);
    expectSameDescription(await p.describe(PHOTOS[1], OPTIONS), reference.get(PHOTOS[1])!);
  });

  it.each([0, 1])('retries a job once when worker %i dies under it', async (victim) => {
    const p = pool(2);
    await allReady(p);
    const photos = [PHOTOS[0], PHOTOS[2]];
    const jobs = photos.map((photo) => p.describe(photo, OPTIONS));
    // Both workers were idle and ready, so each holds one of the jobs right now.
    expect(internals(p).slots.every((s) => s.job)).toBe(true);
    await p.terminateWorker(victim);
    const results = await Promise.all(jobs);
    results.forEach((r, i) => expectSameDescription(r, reference.get(photos[i])!));
    expect(p.respawns).toBe(1);
    // The replacement worker takes work like the original.
    await allReady(p);
    const again = await Promise.all(photos.map((photo) => p.describe(photo, OPTIONS)));
    again.forEach((r, i) => expectSameDescription(r, reference.get(photos[i])!));
  });

  it('gives up on a job whose worker dies twice, with EngineWorkerCrashError, and carries on', async () => {
    // One worker, so the retried job can only go to the replacement worker.
    const p = pool(1);
    await allReady(p);
    // A long job (three passes at 1024 px), so it is surely still running when the poll below sees it dispatched.
    const job = p.describe(PHOTOS[0], { scales: [1024, 1024, 1024] });
    const rejected = job.then(() => undefined, (e: unknown) => e);
    const id = internals(p).slots[0].job!.id;
    await p.terminateWorker(0);
    await until(() => internals(p).slots[0].job?.id === id, 'the replacement worker has the retried job');
    await p.terminateWorker(0);
    const err = await rejected;
    expect(err).toBeInstanceOf(EngineWorkerCrashError);
    expect((err as Error).message).toMatch(/inference worker exited \(code 1\); the photo failed twice and is skipped/);
    expect(p.respawns).toBe(2);
    expectSameDescription(await p.describe(PHOTOS[1], OPTIONS), reference.get(PHOTOS[1])!);
  });

  it('close() rejects queued jobs and the one in flight, and refuses new ones', async () => {
    const p = pool(1);
    await allReady(p);
    const jobs = PHOTOS.slice(0, 3).map((photo) => p.describe(photo, OPTIONS).then(() => 'resolved', (e: Error) => e.message));
    await p.close();
    expect(await Promise.all(jobs)).toEqual(['the engine pool was closed', 'the engine pool was closed', 'the engine pool was closed']);
    await expect(p.describe(PHOTOS[0], OPTIONS)).rejects.toThrow('the engine pool is closed');
  });

  it('fails every job clearly when the model cannot load, without restarting workers', async () => {
    // A registered model whose ONNX file is garbage, written by hand as a broken download would leave it.
    const id = 'badbadbadbadbad0';
    const dir = path.join(tmp, 'broken', id);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'model.onnx'), Buffer.from('this is not a protobuf, let alone an ONNX model'.repeat(20)));
    await fs.writeFile(path.join(dir, 'meta.json'), JSON.stringify({ ...model.meta, id, name: 'broken' }));
    const broken = await new ModelRegistry({ builtin: path.join(tmp, 'none'), user: path.join(tmp, 'broken') }).get(id);

    const p = pool(2, broken);
    const errors = await Promise.all(PHOTOS.slice(0, 3).map((photo) => p.describe(photo, OPTIONS).then(() => undefined, (e: Error) => e)));
    for (const e of errors) {
      expect(e).toBeInstanceOf(Error);
      expect(e!.message).toMatch(/^could not load the model: .+/);
    }
    // Later jobs get the same reason, not a bare "closed".
    await expect(p.describe(PHOTOS[0], OPTIONS)).rejects.toThrow(/could not load the model/);
    // A worker that cannot load the model stays up and says so; it is never replaced.
    await new Promise((r) => setTimeout(r, 300));
    expect(p.respawns).toBe(0);
  });

  it('stops after 3 workers die before they ever start, instead of respawning forever', async () => {
    const p = pool(1);
    const job = p.describe(PHOTOS[0], OPTIONS).then(() => undefined, (e: unknown) => e);
    for (let i = 0; i < 3; i++) {
      // Terminated at once, long before tsx and onnxruntime have loaded: a failed start each time.
      expect(internals(p).slots[0].ready).toBe(false);
      await p.terminateWorker(0);
    }
    const err = await job;
    expect(err).toBeInstanceOf(EngineWorkerCrashError);
    expect((err as Error).message).toMatch(/^inference workers cannot start \(inference worker exited/);
    expect(p.respawns).toBe(2);
    await expect(p.describe(PHOTOS[0], OPTIONS)).rejects.toThrow(/inference workers cannot start/);
  });
});
