// The recommended model: the official Keras ImageNet MobileNetV2 backbone, downloaded on first
// run (with the user's consent) from Teachable Machine's public model bucket in TF.js layers
// format, verified, converted to ONNX and registered like any user model. The offline default
// model stays in use whenever this fails, so every failure is a typed, explainable error.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { NORMALISATIONS } from '../convert/convertedModel.js';
import { convertLayersModel, readLayersModel } from '../convert/kerasLayersToOnnx.js';
import { builtinModelsDir, userModelsDir } from '../paths.js';
import { ModelRegistry, type RegisteredModel } from './modelRegistry.js';
import alpha035Backbone from './mobilenetV2Alpha035Backbone.json' with { type: 'json' };

export const RECOMMENDED_ALPHAS = ['0.35', '0.50', '0.75', '1.00'] as const;
export type RecommendedAlpha = (typeof RECOMMENDED_ALPHAS)[number];

export const DEFAULT_MODEL_BUCKET = 'https://storage.googleapis.com/teachable-machine-models/';

export interface RecommendedModelSpec {
  alpha: RecommendedAlpha;
  /** Registry name. */
  name: string;
  /** model.json's folder in the bucket (Teachable Machine formats alpha with toFixed(2)). */
  folder: string;
  /** model.json in the public bucket. */
  url: string;
  /** The no_top backbone ends here: 1280 channels at stride 32. */
  outputLayer: 'out_relu';
  /** backboneWeightsSha256 of the genuine weights, or null where only names and shapes are checked. */
  weightsSha256: string | null;
}

function spec(alpha: RecommendedAlpha, weightsSha256: string | null): RecommendedModelSpec {
  const folder = `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${alpha}_224_no_top`;
  return {
    alpha,
    name: `mobilenet-v2-${alpha}-imagenet`,
    folder,
    url: `${DEFAULT_MODEL_BUCKET}${folder}/model.json`,
    outputLayer: 'out_relu',
    weightsSha256,
  };
}

export const RECOMMENDED_MODELS: Readonly<Record<RecommendedAlpha, RecommendedModelSpec>> = {
  // Pinned from ../shared/weights/mobilenet-v2-0.35-keras (whose backbone is bit-identical to the
  // official 0.35 no_top weights) by bench/pinMobilenetV2Backbone.ts.
  '0.35': spec('0.35', '4d2118aed6d6ae80f52f42a79213aed519a2b400e190402e51aa9eab49f17b0e'),
  // No local copy of these weights exists to pin a hash from, and a guessed hash would reject the
  // genuine file; they are verified by tensor names and shapes only.
  '0.50': spec('0.50', null),
  '0.75': spec('0.75', null),
  '1.00': spec('1.00', null),
};

export function isRecommendedAlpha(value: string): value is RecommendedAlpha {
  return (RECOMMENDED_ALPHAS as readonly string[]).includes(value);
}

/** model.json's URL under `baseUrl` (a bucket root laid out like the public one). */
export function recommendedModelUrl(alpha: RecommendedAlpha, baseUrl: string = DEFAULT_MODEL_BUCKET): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return new URL(`${RECOMMENDED_MODELS[alpha].folder}/model.json`, base).href;
}

// ---------------------------------------------------------------------------------------------
// Expected backbone tensors and the weights hash

export interface TensorShape {
  name: string;
  shape: number[];
}

// Keras' `_make_divisible`, reproduced exactly (including the Python int() truncation done by
// callers) because the channel counts of every alpha follow from it.
function makeDivisible(v: number, divisor = 8): number {
  let rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/**
 * The weights of keras.applications.MobileNetV2(alpha, include_top=False), derived from its
 * architecture. Only α0.35 can be checked against real weights here (a test does), which is why
 * the other alphas rely on this derivation instead of a pinned table.
 */
export function mobilenetV2BackboneTensors(alpha: number): TensorShape[] {
  const out: TensorShape[] = [];
  const bn = (layer: string, c: number) => {
    for (const p of ['gamma', 'beta', 'moving_mean', 'moving_variance']) out.push({ name: `${layer}/${p}`, shape: [c] });
  };
  let c = makeDivisible(32 * alpha);
  out.push({ name: 'Conv1/kernel', shape: [3, 3, 3, c] });
  bn('bn_Conv1', c);
  // [filters, expansion] of block_id 0..16.
  const blocks: Array<[number, number]> = [
    [16, 1], [24, 6], [24, 6], [32, 6], [32, 6], [32, 6], [64, 6], [64, 6], [64, 6], [64, 6],
    [96, 6], [96, 6], [96, 6], [160, 6], [160, 6], [160, 6], [320, 6],
  ];
  blocks.forEach(([filters, expansion], id) => {
    const projected = makeDivisible(Math.trunc(filters * alpha));
    const prefix = id ? `block_${id}_` : 'expanded_conv_';
    let mid = c;
    if (id) {
      mid = expansion * c;
      out.push({ name: `${prefix}expand/kernel`, shape: [1, 1, c, mid] });
      bn(`${prefix}expand_BN`, mid);
    }
    out.push({ name: `${prefix}depthwise/depthwise_kernel`, shape: [3, 3, mid, 1] });
    bn(`${prefix}depthwise_BN`, mid);
    out.push({ name: `${prefix}project/kernel`, shape: [1, 1, mid, projected] });
    bn(`${prefix}project_BN`, projected);
    c = projected;
  });
  const last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  out.push({ name: 'Conv_1/kernel', shape: [1, 1, c, last] });
  bn('Conv_1_bn', last);
  return out.sort((a, b) => compareNames(a.name, b.name));
}

/** The backbone tensors a genuine download must contain, sorted by name. */
export function expectedBackboneTensors(alpha: RecommendedAlpha): TensorShape[] {
  if (alpha === '0.35') {
    // Measured from real weights rather than derived, so the pinned hash and table agree by construction.
    return Object.entries(alpha035Backbone.tensors as Record<string, number[]>)
      .map(([name, shape]) => ({ name, shape }))
      .sort((a, b) => compareNames(a.name, b.name));
  }
  return mobilenetV2BackboneTensors(Number(alpha));
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A manifest weight name reduced to `layer/param`: tfjs prefixes weights of nested models with
 * the container's name (`model3/Conv1/kernel`, `sequential_9/...`) and older exports keep a
 * TF variable suffix (`:0`); neither says anything about the weights themselves.
 */
export function strippedWeightName(manifestName: string): string {
  return manifestName.replace(/:\d+$/, '').split('/').slice(-2).join('/');
}

export interface BackboneTensorBytes extends TensorShape {
  /** The tensor's float32 values as little-endian bytes (how tfjs shards store them). */
  bytes: Uint8Array;
}

/**
 * The pinned weights hash: SHA-256 over the backbone tensors sorted by stripped name (plain
 * code-unit order; all names are ASCII), each contributing `name + '\n' + shape.join('x') + '\n'`
 * (UTF-8) followed by its little-endian float32 bytes. Head tensors and layer topology are not
 * part of it, so the same backbone gives the same hash inside any wrapper model.
 */
export function backboneWeightsSha256(tensors: BackboneTensorBytes[]): string {
  const hash = crypto.createHash('sha256');
  for (const t of [...tensors].sort((a, b) => compareNames(a.name, b.name))) {
    hash.update(`${t.name}\n${t.shape.join('x')}\n`, 'utf8');
    hash.update(t.bytes);
  }
  return hash.digest('hex');
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype?: string };
}
interface ManifestGroup {
  paths: string[];
  weights: ManifestWeight[];
}

class VerifyFailure extends Error {}

/** Weight groups of a layers-model model.json, checked enough that later steps can trust them. */
function parseManifest(modelJson: unknown): ManifestGroup[] {
  const manifest = (modelJson as { weightsManifest?: unknown } | null)?.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) throw new VerifyFailure('model.json has no weightsManifest');
  if (typeof (modelJson as { modelTopology?: unknown }).modelTopology !== 'object') {
    throw new VerifyFailure('model.json has no modelTopology (not a TF.js layers model)');
  }
  return manifest.map((g: unknown) => {
    const group = g as Partial<ManifestGroup>;
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new VerifyFailure('malformed weightsManifest entry');
    for (const p of group.paths) {
      // Shard names come from the network and become local file names: allow nothing that
      // could leave the download folder or clobber model.json.
      if (typeof p !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(p) || p === 'model.json' || p.endsWith('.part')) {
        throw new VerifyFailure(`weightsManifest lists an unacceptable file name ${JSON.stringify(p)}`);
      }
    }
    for (const w of group.weights) {
      if (typeof w?.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0) || typeof w.dtype !== 'string') {
        throw new VerifyFailure('malformed weight entry in weightsManifest');
      }
    }
    return group as ManifestGroup;
  });
}

function weightByteLength(w: ManifestWeight): number {
  const stored = w.quantization?.dtype ?? w.dtype;
  const bytesPer = ({ float32: 4, int32: 4, uint16: 2, float16: 2, uint8: 1, bool: 1 } as Record<string, number>)[stored];
  if (bytesPer === undefined) throw new VerifyFailure(`weight ${w.name} has unsupported dtype ${stored}`);
  return w.shape.reduce((a, b) => a * b, 1) * bytesPer;
}

function shardFiles(groups: ManifestGroup[]): string[] {
  return [...new Set(groups.flatMap((g) => g.paths))];
}

/**
 * Checks a downloaded layers model against the expected backbone: every tensor present once,
 * unquantised float32, with the expected shape, and (where pinned) the weights hash. Returns
 * the backbone's byte count; throws VerifyFailure with the first problem found.
 */
async function verifyDownload(dir: string, modelJson: unknown, expected: TensorShape[], sha256: string | null): Promise<number> {
  const groups = parseManifest(modelJson);
  const wanted = new Map(expected.map((t) => [t.name, t.shape]));
  const found = new Map<string, BackboneTensorBytes>();
  for (const group of groups) {
    const data = Buffer.concat(await Promise.all(group.paths.map((p) => fs.readFile(path.join(dir, p)))));
    let offset = 0;
    for (const w of group.weights) {
      const size = weightByteLength(w);
      const name = strippedWeightName(w.name);
      const shape = wanted.get(name);
      if (shape) {
        if (found.has(name)) throw new VerifyFailure(`backbone tensor ${name} appears twice`);
        if (w.dtype !== 'float32' || w.quantization) throw new VerifyFailure(`backbone tensor ${name} is ${w.quantization ? 'quantised' : w.dtype}, not float32`);
        if (w.shape.join('x') !== shape.join('x')) {
          throw new VerifyFailure(`backbone tensor ${name} has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`);
        }
        found.set(name, { name, shape: w.shape, bytes: data.subarray(offset, offset + size) });
      }
      offset += size;
    }
    if (offset !== data.length) {
      throw new VerifyFailure(`weight files ${group.paths.join(', ')} hold ${data.length} bytes but the manifest describes ${offset}`);
    }
  }
  const missing = expected.filter((t) => !found.has(t.name)).map((t) => t.name);
  if (missing.length) {
    throw new VerifyFailure(`${missing.length} backbone tensors are missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
  }
  const tensors = [...found.values()];
  if (sha256 !== null) {
    const actual = backboneWeightsSha256(tensors);
    if (actual !== sha256) throw new VerifyFailure(`the backbone weights hash is ${actual}, expected ${sha256}`);
  }
  return tensors.reduce((a, t) => a + t.bytes.length, 0);
}

// ---------------------------------------------------------------------------------------------
// Errors and progress

export type ModelDownloadErrorCode =
  /** The host could not be reached at all (no network, DNS failure, connection refused). */
  | 'offline'
  /** The server answered with an HTTP error status. */
  | 'http'
  /** The connection broke or stalled mid-file; the partial file is kept for resuming. */
  | 'interrupted'
  /** The files arrived but are not the expected weights; they were deleted. */
  | 'verify'
  /** The caller's AbortSignal fired; partial files are kept for resuming. */
  | 'cancelled'
  /** Not downloaded yet, and the user has not agreed to download it. */
  | 'consent';

const FALLBACK_NOTE = 'Sightline keeps using the offline default model.';

export class ModelDownloadError extends Error {
  constructor(
    readonly code: ModelDownloadErrorCode,
    message: string,
    readonly details: { url?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ModelDownloadError';
  }
}

export interface DownloadProgressEvent {
  phase: 'download' | 'verify' | 'convert';
  /**
   * download: the file's name (model.json or a shard) with bytes of that file, continuing from a
   * resumed `.part` size and restarting at 0 only when the server ignores the Range request.
   * verify / convert: the registry name, with backbone weight bytes processed (start and end).
   */
  file: string;
  receivedBytes: number;
  /** null while unknown (no Content-Length). */
  totalBytes: number | null;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** One terminal status line for a progress event. */
export function formatDownloadProgress(event: DownloadProgressEvent): string {
  if (event.phase === 'verify') return `Verifying ${event.file} weights${event.receivedBytes === event.totalBytes ? ': ok' : '...'}`;
  if (event.phase === 'convert') return `Converting ${event.file} to ONNX${event.receivedBytes === event.totalBytes ? ': done' : '...'}`;
  if (event.totalBytes === null) return `Downloading ${event.file}: ${formatBytes(event.receivedBytes)}`;
  const pct = event.totalBytes > 0 ? Math.floor((100 * event.receivedBytes) / event.totalBytes) : 100;
  return `Downloading ${event.file}: ${formatBytes(event.receivedBytes)} / ${formatBytes(event.totalBytes)} (${pct}%)`;
}

/** Roughly how much a download of this alpha is (its backbone weights), for consent prompts. */
export function approxDownloadBytes(alpha: RecommendedAlpha): number {
  return mobilenetV2BackboneTensors(Number(alpha)).reduce((a, t) => a + 4 * t.shape.reduce((x, y) => x * y, 1), 0);
}

// ---------------------------------------------------------------------------------------------
// Resumable HTTP download

// Error codes Node and undici use for "could not connect at all".
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN',
  'EHOSTDOWN', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT',
]);

function errorCodes(err: unknown, seen = new Set<unknown>()): string[] {
  if (!err || typeof err !== 'object' || seen.has(err)) return [];
  seen.add(err);
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof e.code === 'string' ? [e.code] : [];
  codes.push(...errorCodes(e.cause, seen));
  if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...errorCodes(inner, seen));
  return codes;
}

function describeCause(err: unknown): string {
  const codes = errorCodes(err);
  const cause = (err as { cause?: { message?: string } } | undefined)?.cause?.message;
  const message = err instanceof Error ? err.message : String(err);
  return [codes[0], cause && cause !== message ? cause : message].filter(Boolean).join(': ');
}

interface FileDownload {
  url: string;
  dest: string;
  label: string;
  signal?: AbortSignal;
  stallTimeoutMs: number;
  onProgress: (receivedBytes: number, totalBytes: number | null) => void;
}

/** What a `.part` file was downloaded against, so a resume only splices bytes of the same object. */
interface PartInfo {
  url: string;
  validator?: string;
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(() => true, () => false);
}

async function partSize(file: string): Promise<number> {
  return fs.stat(file).then((s) => s.size, () => 0);
}

function cancelledError(url: string, signal: AbortSignal): ModelDownloadError {
  return new ModelDownloadError('cancelled', 'The recommended model download was cancelled; run it again to resume.', {
    url,
    cause: signal.reason,
  });
}

function throwIfCancelled(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw cancelledError(url, signal);
}

/**
 * Downloads `url` to `dest` through `dest.part`, continuing an existing `.part` with a Range
 * request. A complete `dest` is never fetched again.
 */
async function downloadFile(job: FileDownload, restarted = false): Promise<void> {
  const { url, dest, signal } = job;
  const part = `${dest}.part`;
  const infoFile = `${dest}.part.json`;
  throwIfCancelled(signal, url);
  if (await exists(dest)) {
    const size = (await fs.stat(dest)).size;
    job.onProgress(size, size);
    return;
  }

  let offset = restarted ? 0 : await partSize(part);
  let info: PartInfo | undefined;
  if (offset > 0) {
    info = await fs.readFile(infoFile, 'utf8').then((t) => JSON.parse(t) as PartInfo, () => undefined);
    // A .part from another URL (or with no record of where it came from) cannot be trusted.
    if (info?.url !== url) offset = 0;
  }
  const headers: Record<string, string> = {
    // Range offsets count stored bytes; a transparently decompressed body would not line up.
    'accept-encoding': 'identity',
  };
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    // If the object changed since the .part began, the server sends it whole (200) instead.
    if (info?.validator) headers['if-range'] = info.validator;
  }

  const controller = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const armStallTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort(new Error(`no data for ${job.stallTimeoutMs / 1000} s`));
    }, job.stallTimeoutMs);
  };
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });

  const host = new URL(url).host;
  let received = offset;
  let total: number | null = null;
  try {
    armStallTimer();
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
    } catch (err) {
      if (signal?.aborted) throw cancelledError(url, signal);
      const codes = errorCodes(err);
      if (stalled || codes.some((c) => UNREACHABLE_CODES.has(c)) || err instanceof TypeError) {
        throw new ModelDownloadError(
          'offline',
          `Could not reach ${host} to download the recommended model (offline?). ${FALLBACK_NOTE} (${stalled ? 'no answer within the time limit' : describeCause(err)})`,
          { url, cause: err },
        );
      }
      throw err;
    }

    if (res.status === 416 && offset > 0) {
      await res.body?.cancel();
      // The .part may already be whole (a crash between the last byte and the rename).
      const whole = /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      if (whole && Number(whole[1]) === offset) {
        await finishPart(part, dest, infoFile);
        job.onProgress(offset, offset);
        return;
      }
      return await restart(job);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ModelDownloadError(
        'http',
        `Downloading ${url} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}. ${FALLBACK_NOTE}`,
        { url, status: res.status },
      );
    }

    const encoded = (res.headers.get('content-encoding') ?? 'identity').toLowerCase() !== 'identity';
    const length = res.headers.get('content-length');
    let append = false;
    if (res.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!range || Number(range[1]) !== offset) {
        // Not the continuation we asked for; start over rather than splice mismatched bytes.
        await res.body?.cancel();
        if (restarted) throw new ModelDownloadError('http', `Downloading ${url} failed: the server sent an unexpected byte range. ${FALLBACK_NOTE}`, { url, status: 206 });
        return await restart(job);
      }
      append = offset > 0;
      total = range[3] === '*' ? null : Number(range[3]);
    } else {
      offset = 0;
      received = 0;
      total = length !== null && !encoded ? Number(length) : null;
    }
    if (!append) {
      const validator = res.headers.get('etag') ?? res.headers.get('last-modified') ?? undefined;
      await fs.writeFile(infoFile, JSON.stringify({ url, validator } satisfies PartInfo));
    }

    const handle = await fs.open(part, append ? 'a' : 'w');
    try {
      job.onProgress(received, total);
      const reader = res.body?.getReader();
      if (reader) {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          armStallTimer();
          await handle.write(value);
          received += value.byteLength;
          job.onProgress(received, total);
        }
      }
    } catch (err) {
      if (signal?.aborted) throw cancelledError(url, signal);
      throw new ModelDownloadError(
        'interrupted',
        `The download of ${job.label} from ${host} was interrupted after ${formatBytes(received)}` +
          `${total !== null ? ` of ${formatBytes(total)}` : ''} (${stalled ? `no data for ${job.stallTimeoutMs / 1000} s` : describeCause(err)}). ` +
          `Run it again to resume. ${FALLBACK_NOTE}`,
        { url, cause: err },
      );
    } finally {
      await handle.close();
    }
    if (total !== null && received !== total) {
      throw new ModelDownloadError(
        'interrupted',
        `The download of ${job.label} from ${host} ended after ${formatBytes(received)} of ${formatBytes(total)}. Run it again to resume. ${FALLBACK_NOTE}`,
        { url },
      );
    }
    await finishPart(part, dest, infoFile);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

async function restart(job: FileDownload): Promise<void> {
  await fs.rm(`${job.dest}.part`, { force: true });
  return downloadFile(job, true);
}

async function finishPart(part: string, dest: string, infoFile: string): Promise<void> {
  await fs.rename(part, dest);
  await fs.rm(infoFile, { force: true });
}

// ---------------------------------------------------------------------------------------------
// Download → verify → convert → register

export interface RecommendedModelOptions {
  alpha: RecommendedAlpha;
  /** Bucket root to download from instead of the public one (mirrors, tests). */
  baseUrl?: string;
  /** Downloads go to `<cacheDir>/downloads/<alpha>/` and are removed once registered. */
  cacheDir: string;
  /** Registry folders; by default the install's builtin models and the user's models dir. */
  modelDirs?: { builtin: string; user: string };
  onProgress?: (event: DownloadProgressEvent) => void;
  signal?: AbortSignal;
  /** A connection that delivers nothing for this long counts as interrupted (default 60 s). */
  stallTimeoutMs?: number;
}

function registryFor(opts: { modelDirs?: { builtin: string; user: string } }): ModelRegistry {
  return new ModelRegistry(opts.modelDirs ?? { builtin: builtinModelsDir, user: userModelsDir() });
}

function checkAlpha(alpha: string): asserts alpha is RecommendedAlpha {
  if (!isRecommendedAlpha(alpha)) throw new Error(`No recommended model for alpha ${alpha}; choose one of ${RECOMMENDED_ALPHAS.join(', ')}.`);
}

/** Downloads (resuming what earlier tries left), verifies, converts and registers the model. */
export async function downloadRecommendedModel(opts: RecommendedModelOptions): Promise<RegisteredModel> {
  checkAlpha(opts.alpha);
  const model = RECOMMENDED_MODELS[opts.alpha];
  const url = recommendedModelUrl(opts.alpha, opts.baseUrl);
  const dir = path.join(opts.cacheDir, 'downloads', opts.alpha);
  const emit = opts.onProgress ?? (() => {});
  const fileJob = (fileUrl: string, name: string): FileDownload => ({
    url: fileUrl,
    dest: path.join(dir, name),
    label: name,
    signal: opts.signal,
    stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
    onProgress: (receivedBytes, totalBytes) => emit({ phase: 'download', file: name, receivedBytes, totalBytes }),
  });

  throwIfCancelled(opts.signal, url);
  await fs.mkdir(dir, { recursive: true });
  const rejectDownload = async (reason: string, cause?: unknown): Promise<never> => {
    // A bad download must not be resumed or reused: the next try starts from nothing.
    await fs.rm(dir, { recursive: true, force: true });
    throw new ModelDownloadError(
      'verify',
      `The downloaded recommended model (${url}) failed verification: ${reason}. The download was deleted. ${FALLBACK_NOTE}`,
      { url, cause },
    );
  };

  await downloadFile(fileJob(url, 'model.json'));
  let modelJson: unknown;
  let shards: string[];
  try {
    modelJson = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
    shards = shardFiles(parseManifest(modelJson));
  } catch (err) {
    return rejectDownload(err instanceof SyntaxError ? 'model.json is not valid JSON' : (err as Error).message, err);
  }
  for (const shard of shards) await downloadFile(fileJob(new URL(shard, url).href, shard));

  throwIfCancelled(opts.signal, url);
  const expected = expectedBackboneTensors(opts.alpha);
  const backboneBytes = expected.reduce((a, t) => a + 4 * t.shape.reduce((x, y) => x * y, 1), 0);
  emit({ phase: 'verify', file: model.name, receivedBytes: 0, totalBytes: backboneBytes });
  try {
    await verifyDownload(dir, modelJson, expected, model.weightsSha256);
  } catch (err) {
    if (!(err instanceof VerifyFailure)) throw err;
    return rejectDownload(err.message, err);
  }
  emit({ phase: 'verify', file: model.name, receivedBytes: backboneBytes, totalBytes: backboneBytes });

  throwIfCancelled(opts.signal, url);
  emit({ phase: 'convert', file: model.name, receivedBytes: 0, totalBytes: backboneBytes });
  const converted = convertLayersModel(await readLayersModel(dir), { outputLayer: model.outputLayer });
  const registered = await registryFor(opts).add(
    converted,
    {
      name: model.name,
      source: url,
      licence: 'Apache-2.0 (Keras applications weights)',
      normalisation: NORMALISATIONS.minusOneToOne,
    },
    'user',
  );
  emit({ phase: 'convert', file: model.name, receivedBytes: backboneBytes, totalBytes: backboneBytes });
  // The ONNX copy in the registry is what the engine uses; the TF.js files would only take space.
  await fs.rm(dir, { recursive: true, force: true });
  return registered;
}

/** The registered recommended model of this alpha, if an earlier download put it there. */
export async function findRecommendedModel(
  alpha: RecommendedAlpha,
  opts: { modelDirs?: { builtin: string; user: string } } = {},
): Promise<RegisteredModel | undefined> {
  checkAlpha(alpha);
  const name = RECOMMENDED_MODELS[alpha].name;
  const matches = (await registryFor(opts).list()).filter((m) => m.meta.name === name);
  // Several can exist when a converter change produced a new ONNX; the newest is the one to use.
  return matches.sort((a, b) => compareNames(b.meta.createdAt, a.meta.createdAt))[0];
}

/**
 * The recommended model, downloading it only with consent. Already registered: returned without
 * any network access, whatever `consent` says.
 */
export async function ensureRecommendedModel(opts: RecommendedModelOptions & { consent: boolean }): Promise<RegisteredModel> {
  const cached = await findRecommendedModel(opts.alpha, opts);
  if (cached) return cached;
  if (!opts.consent) {
    throw new ModelDownloadError(
      'consent',
      `The recommended model (MobileNetV2 ${opts.alpha}, ImageNet, about ${formatBytes(approxDownloadBytes(opts.alpha))}) is not downloaded yet, ` +
        `and downloading it from ${new URL(recommendedModelUrl(opts.alpha, opts.baseUrl)).host} needs your consent. ${FALLBACK_NOTE}`,
      { url: recommendedModelUrl(opts.alpha, opts.baseUrl) },
    );
  }
  return downloadRecommendedModel(opts);
}
