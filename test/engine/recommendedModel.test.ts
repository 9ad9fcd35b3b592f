// The recommended-model download end to end against a loopback server laid out like the public
// bucket, serving the shared MobileNetV2 0.35 weights. Nothing here touches the internet.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../app/engine/modelRegistry.js';
import alpha035Backbone from '../../app/engine/mobilenetV2Alpha035Backbone.json' with { type: 'json' };
import {
  RECOMMENDED_MODELS,
  approxDownloadBytes,
  downloadRecommendedModel,
  ensureRecommendedModel,
  expectedBackboneTensors,
  formatDownloadProgress,
  mobilenetV2BackboneTensors,
  recommendedModelUrl,
  strippedWeightName,
  type DownloadProgressEvent,
  type RecommendedModelOptions,
} from '../../app/engine/recommendedModel.js';
import { userModelsDir } from '../../app/paths.js';

const WEIGHTS_DIR = fileURLToPath(new URL('../../../shared/weights/mobilenet-v2-0.35-keras/', import.meta.url));
const BUCKET = '/teachable-machine-models/';
const MODEL_PREFIX = `${BUCKET}${RECOMMENDED_MODELS['0.35'].folder}/`;
const SERVED = ['model.json', 'weights.bin'];

interface SeenRequest {
  path: string;
  range?: string;
  ifRange?: string;
}

/** Per-test misbehaviour of the server; the one-shot ones clear themselves when used. */
interface Behaviour {
  dropWeightsAfterBytes?: number;
  ignoreRangeOnce?: boolean;
  flipWeightsByteAt?: number;
  weightsStatus?: number;
}

const seen: SeenRequest[] = [];
let behaviour: Behaviour = {};
let server: http.Server;
let origin: string;
let closedPortUrl: string;

function etagFor(name: string, body: Buffer, flipped: boolean): string {
  return `"${name}-${body.length}${flipped ? '-flipped' : ''}"`;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://loopback');
  seen.push({ path: url.pathname, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
  const name = url.pathname.startsWith(MODEL_PREFIX) ? url.pathname.slice(MODEL_PREFIX.length) : '';
  if (!SERVED.includes(name)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('No such object.');
    return;
  }
  if (name === 'weights.bin' && behaviour.weightsStatus) {
    res.writeHead(behaviour.weightsStatus, { 'content-type': 'text/plain' }).end('Backend error.');
    return;
  }
  let body = await fs.readFile(path.join(WEIGHTS_DIR, name));
  const flip = name === 'weights.bin' ? behaviour.flipWeightsByteAt : undefined;
  if (flip !== undefined) {
    body = Buffer.from(body);
    body[flip] ^= 0xff;
  }
  const etag = etagFor(name, body, flip !== undefined);
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const rangeApplies = range && (!req.headers['if-range'] || req.headers['if-range'] === etag);
  let start = 0;
  if (rangeApplies && behaviour.ignoreRangeOnce) {
    behaviour.ignoreRangeOnce = false;
  } else if (rangeApplies) {
    start = Number(range[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
  }
  const headers: http.OutgoingHttpHeaders = { 'content-length': body.length - start, etag, 'accept-ranges': 'bytes' };
  if (start > 0) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
  res.writeHead(start > 0 ? 206 : 200, headers);
  const rest = body.subarray(start);
  const drop = name === 'weights.bin' ? behaviour.dropWeightsAfterBytes : undefined;
  if (drop !== undefined) {
    behaviour.dropWeightsAfterBytes = undefined;
    // Let the first bytes reach the client before the connection dies, like a real network drop.
    res.write(rest.subarray(0, drop), () => setTimeout(() => res.socket?.destroy(), 100));
    return;
  }
  res.end(rest);
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    handle(req, res).catch((err) => res.destroy(err as Error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // A port that was just free and is closed again: connecting to it is refused.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPortUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}${BUCKET}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let tmp: string;
let savedDataDir: string | undefined;
let opts: RecommendedModelOptions;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-recommended-'));
  savedDataDir = process.env.SIGHTLINE_DATA_DIR;
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  seen.length = 0;
  behaviour = {};
  opts = {
    alpha: '0.35',
    baseUrl: `${origin}${BUCKET}`,
    cacheDir: path.join(tmp, 'cache'),
    // An empty builtin dir keeps models generated into resources/ out of these tests.
    modelDirs: { builtin: path.join(tmp, 'builtin'), user: userModelsDir() },
  };
});

afterEach(async () => {
  if (savedDataDir === undefined) delete process.env.SIGHTLINE_DATA_DIR;
  else process.env.SIGHTLINE_DATA_DIR = savedDataDir;
  await fs.rm(tmp, { recursive: true, force: true });
});

async function caught(promise: Promise<unknown>): Promise<{ code?: string; message: string; status?: number; name: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error & { code?: string; details?: { status?: number } };
    return { code: e.code, message: e.message, status: e.details?.status, name: e.name };
  }
  throw new Error('expected a rejection');
}

const downloadDir = () => path.join(opts.cacheDir, 'downloads', '0.35');
const weightsRequests = () => seen.filter((r) => r.path.endsWith('/weights.bin'));
const registeredCount = async () => (await new ModelRegistry(opts.modelDirs!).list()).length;

describe('expected backbone', () => {
  it('derives the pinned 0.35 table from the Keras architecture, and sizes the other alphas', () => {
    const table = Object.entries(alpha035Backbone.tensors).map(([name, shape]) => ({ name, shape }));
    expect(mobilenetV2BackboneTensors(0.35)).toEqual(expectedBackboneTensors('0.35'));
    expect(expectedBackboneTensors('0.35')).toHaveLength(table.length);
    expect(RECOMMENDED_MODELS['0.35'].weightsSha256).toBe(alpha035Backbone.sha256);
    for (const alpha of ['0.50', '0.75', '1.00'] as const) expect(RECOMMENDED_MODELS[alpha].weightsSha256).toBeNull();
    // Keras reports these parameter counts for include_top=False.
    expect(approxDownloadBytes('0.35') / 4).toBe(410_208);
    expect(approxDownloadBytes('1.00') / 4).toBe(2_257_984);
    const conv1 = (alpha: '0.50' | '0.75' | '1.00') => expectedBackboneTensors(alpha).find((t) => t.name === 'Conv_1/kernel')?.shape;
    expect(conv1('1.00')).toEqual([1, 1, 320, 1280]);
    expect(conv1('0.50')).toEqual([1, 1, 160, 1280]);
    expect(conv1('0.75')).toEqual([1, 1, 240, 1280]);
  });

  it('strips nested-model prefixes and variable suffixes from weight names', () => {
    expect(strippedWeightName('Conv1/kernel')).toBe('Conv1/kernel');
    expect(strippedWeightName('model3/Conv1/kernel')).toBe('Conv1/kernel');
    expect(strippedWeightName('sequential_9/model3/block_1_expand_BN/moving_mean:0')).toBe('block_1_expand_BN/moving_mean');
  });

  it('builds URLs shaped like the public bucket', () => {
    expect(RECOMMENDED_MODELS['0.50'].url).toBe(
      'https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.50_224_no_top/model.json',
    );
    expect(recommendedModelUrl('1.00', 'http://mirror.example/bucket')).toBe(
      'http://mirror.example/bucket/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.00_224_no_top/model.json',
    );
  });

  it('formats progress for a terminal line', () => {
    expect(formatDownloadProgress({ phase: 'download', file: 'weights.bin', receivedBytes: 1024 * 1024, totalBytes: 2 * 1024 * 1024 })).toBe(
      'Downloading weights.bin: 1.0 MB / 2.0 MB (50%)',
    );
    expect(formatDownloadProgress({ phase: 'download', file: 'model.json', receivedBytes: 2048, totalBytes: null })).toBe('Downloading model.json: 2.0 KB');
    expect(formatDownloadProgress({ phase: 'verify', file: 'm', receivedBytes: 0, totalBytes: 10 })).toMatch(/^Verifying m weights/);
  });
});

describe('downloadRecommendedModel', () => {
  it('downloads, verifies, converts and registers a model that runs in onnxruntime', async () => {
    const events: DownloadProgressEvent[] = [];
    const model = await downloadRecommendedModel({ ...opts, onProgress: (e) => events.push({ ...e }) });

    expect(model.meta.name).toBe('mobilenet-v2-0.35-imagenet');
    expect(model.meta.source).toBe(recommendedModelUrl('0.35', opts.baseUrl));
    expect(model.meta.licence).toBe('Apache-2.0 (Keras applications weights)');
    expect(model.meta.normalisation).toEqual({ mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });
    expect(model.meta.channels).toBe(1280);
    expect(model.dir.startsWith(opts.modelDirs!.user)).toBe(true);

    const session = await ort.InferenceSession.create(model.onnxPath);
    const input = new Float32Array(3 * 96 * 128).map((_, i) => Math.sin(i * 0.01));
    const out = await session.run({ [model.meta.inputName]: new ort.Tensor('float32', input, [1, 3, 96, 128]) });
    const feature = out[model.meta.outputName];
    expect(feature.dims).toEqual([1, 1280, 3, 4]);
    expect((feature.data as Float32Array).every(Number.isFinite)).toBe(true);
    await session.release();

    // Per file, bytes only grow and end at the file's size.
    const downloads = events.filter((e) => e.phase === 'download');
    for (const file of SERVED) {
      const own = downloads.filter((e) => e.file === file);
      const size = (await fs.stat(path.join(WEIGHTS_DIR, file))).size;
      expect(own.length).toBeGreaterThan(1);
      own.forEach((e, i) => {
        expect(e.totalBytes).toBe(size);
        if (i) expect(e.receivedBytes).toBeGreaterThanOrEqual(own[i - 1].receivedBytes);
      });
      expect(own.at(-1)!.receivedBytes).toBe(size);
    }
    expect(events.map((e) => e.phase).filter((p, i, all) => p !== all[i - 1])).toEqual(['download', 'verify', 'convert']);
    const last = events.at(-1)!;
    expect(last.receivedBytes).toBe(last.totalBytes);
    expect(formatDownloadProgress(last)).toMatch(/done/);

    // The TF.js files are not kept once the ONNX model is registered.
    await expect(fs.access(downloadDir())).rejects.toThrow();

    // Registered: no consent needed and no network touched (the base URL points nowhere).
    const before = seen.length;
    const again = await ensureRecommendedModel({ ...opts, baseUrl: closedPortUrl, consent: false });
    expect(again.meta.id).toBe(model.meta.id);
    expect(seen.length).toBe(before);
  });

  it('resumes a dropped shard with a Range request', async () => {
    behaviour.dropWeightsAfterBytes = 700_000;
    const first = await caught(downloadRecommendedModel(opts));
    expect(first.name).toBe('ModelDownloadError');
    expect(first.code).toBe('interrupted');
    expect(first.message).toMatch(/weights\.bin .*interrupted.*resume/);
    const partBytes = (await fs.stat(path.join(downloadDir(), 'weights.bin.part'))).size;
    expect(partBytes).toBeGreaterThan(0);
    expect(partBytes).toBeLessThanOrEqual(700_000);
    expect(await registeredCount()).toBe(0);

    const events: DownloadProgressEvent[] = [];
    const model = await downloadRecommendedModel({ ...opts, onProgress: (e) => events.push({ ...e }) });
    expect(model.meta.name).toBe('mobilenet-v2-0.35-imagenet');

    const resumed = weightsRequests().at(-1)!;
    expect(resumed.range).toBe(`bytes=${partBytes}-`);
    expect(resumed.ifRange).toBe(etagFor('weights.bin', await fs.readFile(path.join(WEIGHTS_DIR, 'weights.bin')), false));
    // model.json was complete after the first try and is not fetched again.
    expect(seen.filter((r) => r.path.endsWith('/model.json'))).toHaveLength(1);
    // The resumed shard's progress starts where the .part left off.
    expect(events.find((e) => e.file === 'weights.bin')!.receivedBytes).toBe(partBytes);
  });

  it('starts a shard over when the server ignores the Range request', async () => {
    behaviour.dropWeightsAfterBytes = 300_000;
    expect((await caught(downloadRecommendedModel(opts))).code).toBe('interrupted');
    behaviour.ignoreRangeOnce = true;
    const model = await downloadRecommendedModel(opts);
    expect(model.meta.name).toBe('mobilenet-v2-0.35-imagenet');
    expect(weightsRequests().at(-1)!.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('rejects and deletes corrupt weights without registering anything', async () => {
    behaviour.flipWeightsByteAt = 1000; // inside Conv1/kernel: shapes stay right, the hash does not
    const err = await caught(downloadRecommendedModel(opts));
    expect(err.code).toBe('verify');
    expect(err.message).toMatch(/hash/);
    expect(err.message).toMatch(/deleted/);
    expect(await registeredCount()).toBe(0);
    await expect(fs.access(downloadDir())).rejects.toThrow();
  });

  it('reports an unreachable host as offline', async () => {
    const err = await caught(downloadRecommendedModel({ ...opts, baseUrl: closedPortUrl }));
    expect(err.code).toBe('offline');
    expect(err.message).toMatch(
      /^Could not reach 127\.0\.0\.1:\d+ to download the recommended model \(offline\?\)\. Sightline keeps using the offline default model\./,
    );
  });

  it('reports HTTP errors with status and URL', async () => {
    const missing = await caught(downloadRecommendedModel({ ...opts, baseUrl: `${origin}/no-such-bucket/` }));
    expect(missing.code).toBe('http');
    expect(missing.status).toBe(404);
    expect(missing.message).toContain('HTTP 404');
    expect(missing.message).toContain(`${origin}/no-such-bucket/`);

    behaviour.weightsStatus = 500;
    const broken = await caught(downloadRecommendedModel(opts));
    expect(broken.code).toBe('http');
    expect(broken.message).toContain('HTTP 500');
    expect(broken.message).toContain('weights.bin');
  });

  it('cancels through an AbortSignal and keeps the partial shard', async () => {
    const controller = new AbortController();
    const err = await caught(
      downloadRecommendedModel({
        ...opts,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.file === 'weights.bin' && e.receivedBytes > 0) controller.abort();
        },
      }),
    );
    expect(err.code).toBe('cancelled');
    expect((await fs.stat(path.join(downloadDir(), 'weights.bin.part'))).size).toBeGreaterThan(0);

    seen.length = 0;
    expect((await caught(downloadRecommendedModel({ ...opts, signal: AbortSignal.abort() }))).code).toBe('cancelled');
    expect(seen).toHaveLength(0);
  });
});

describe('ensureRecommendedModel', () => {
  it('asks for consent before any network access', async () => {
    const err = await caught(ensureRecommendedModel({ ...opts, consent: false }));
    expect(err.code).toBe('consent');
    expect(err.message).toMatch(/consent/);
    expect(err.message).toMatch(/offline default model/);
    expect(seen).toHaveLength(0);
    expect(await registeredCount()).toBe(0);
  });
});
