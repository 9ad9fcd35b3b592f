// The model registry: every model the engine can run (the install-time default, the downloaded
// recommended model, user models, our trained ones) lives in a folder `<id>/` with `model.onnx`
// and `meta.json`; a model of kind 'rpn' also has its region proposal head there (`rpn-head.onnx`).
// The id is a content hash of everything that decides the descriptor (the ONNX bytes, and for an
// RPN model the head and its anchors and proposal settings), so descriptors tagged with it go
// stale exactly when the network changes.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { ConvertedModel, InputNormalisation } from '../convert/convertedModel.js';

const normalisationSchema = z.object({
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number(), z.number(), z.number()]),
});

const quantisationSchema = z.object({
  precision: z.literal('int8'),
  /** Id and name of the float model it was quantised from. */
  from: z.string(),
  fromName: z.string(),
  weights: z.string(),
  activations: z.string(),
});

export type ModelQuantisation = z.infer<typeof quantisationSchema>;

/** The file name the head of an RPN model gets in its folder. */
export const RPN_HEAD_FILE = 'rpn-head.onnx';

// Mirrors AnchorSpec and ProposalOptions (app/engine/rpnAnchors.ts): a meta.json written by hand or
// by an older build must not reach the worker with anchors that generateAnchors cannot use.
const rpnSchema = z.object({
  /** The head's ONNX file in the model folder: backbone features → objectness, box deltas. */
  head: z.string().regex(/^[\w.-]+\.onnx$/),
  anchors: z.object({
    stride: z.number().int().positive(),
    sizes: z.array(z.number().positive()).min(1),
    ratios: z.array(z.number().positive()).min(1),
  }),
  proposals: z.object({
    topK: z.number().int().positive(),
    nmsIou: z.number().gt(0).lte(1),
    minSize: z.number().nonnegative(),
    preNmsTop: z.number().int().positive(),
  }),
  /** The grid model whose backbone the head was trained on. */
  base: z.string().optional(),
});

export type RpnMetadata = z.infer<typeof rpnSchema>;

export const modelMetadataSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  name: z.string().min(1),
  /** `grid`: pool the rigid R-MAC grid; `rpn`: pool the proposals of the head in `rpn`. */
  kind: z.enum(['grid', 'rpn']),
  source: z.string(),
  licence: z.string(),
  inputName: z.string(),
  outputName: z.string(),
  featureLayer: z.string(),
  channels: z.number().int().positive(),
  stride: z.number().int().positive(),
  normalisation: normalisationSchema,
  createdAt: z.string(),
  /** Present on an int8 model made by `sightline model quantize`: how, and from which float model. */
  quantisation: quantisationSchema.optional(),
  /** Present exactly when kind is 'rpn': the head pooled instead of the grid, and its settings. */
  rpn: rpnSchema.optional(),
}).refine((m) => (m.kind === 'rpn') === (m.rpn !== undefined), { message: "a model of kind 'rpn' needs its rpn head, and only such a model has one", path: ['rpn'] });

export type ModelMetadata = z.infer<typeof modelMetadataSchema>;

export interface RegisteredModel {
  meta: ModelMetadata;
  dir: string;
  onnxPath: string;
  /** Whitening files fitted for this model live beside it. */
  whiteningDir: string;
  /** The region proposal head's ONNX (kind 'rpn' only). */
  rpnHeadPath?: string;
}

/** What turns a backbone into an RPN model: the head's ONNX and how its output becomes regions. */
export interface RpnHeadInfo extends Omit<RpnMetadata, 'head'> {
  onnx: Uint8Array;
}

export interface ModelInfo {
  name: string;
  source: string;
  licence: string;
  normalisation: InputNormalisation;
  kind?: 'grid' | 'rpn';
  /** Given, the model is of kind 'rpn' (whatever `kind` says). */
  rpn?: RpnHeadInfo;
  quantisation?: ModelQuantisation;
}

/**
 * A grid model's id is the hash of its ONNX alone, so ids made before RPN models existed never
 * change. An RPN model's id also covers the head and the settings that turn its output into the
 * pooled regions: change any of them and the descriptors change, so the id must too.
 */
export function modelIdFor(onnx: Uint8Array, rpn?: RpnHeadInfo): string {
  const h = crypto.createHash('sha256').update(onnx);
  if (rpn) {
    const { anchors: a, proposals: p } = rpn;
    // Keys spelled out: the id must not depend on the order an object's keys were made in.
    const settings = JSON.stringify({ anchors: { stride: a.stride, sizes: a.sizes, ratios: a.ratios }, proposals: { topK: p.topK, nmsIou: p.nmsIou, minSize: p.minSize, preNmsTop: p.preNmsTop } });
    // Lengths first, so no other split of the same bytes into backbone and head hashes alike.
    h.update(`\0sightline-rpn\0${rpn.onnx.byteLength}\0${settings}\0`).update(rpn.onnx);
  }
  return h.digest('hex').slice(0, 16);
}

export class ModelNotFoundError extends Error {
  constructor(readonly wanted: string, known: string[]) {
    super(`No model "${wanted}". Known models: ${known.length ? known.join(', ') : '(none)'}. Add one with \`sightline model add\`.`);
    this.name = 'ModelNotFoundError';
  }
}

export class ModelRegistry {
  /** Folders searched in order; the last one is where `add` writes unless told otherwise. */
  constructor(private readonly dirs: { builtin: string; user: string }) {}

  async list(): Promise<RegisteredModel[]> {
    const found = new Map<string, RegisteredModel>();
    for (const root of [this.dirs.builtin, this.dirs.user]) {
      let entries: string[];
      try {
        entries = await fs.readdir(root);
      } catch {
        continue;
      }
      for (const entry of entries.sort()) {
        const dir = path.join(root, entry);
        const model = await readModelDir(dir).catch(() => undefined);
        if (model && !found.has(model.meta.id)) found.set(model.meta.id, model);
      }
    }
    return [...found.values()];
  }

  /** Finds a model by id, unique id prefix, name, or the path of a registered model folder. */
  async get(wanted: string): Promise<RegisteredModel> {
    const all = await this.list();
    const exact = all.find((m) => m.meta.id === wanted || m.meta.name === wanted || path.resolve(m.dir) === path.resolve(wanted));
    if (exact) return exact;
    const byPrefix = all.filter((m) => wanted.length >= 4 && m.meta.id.startsWith(wanted));
    if (byPrefix.length === 1) return byPrefix[0];
    throw new ModelNotFoundError(wanted, all.map((m) => `${m.meta.id} (${m.meta.name})`));
  }

  async add(converted: ConvertedModel, info: ModelInfo, where: 'builtin' | 'user' = 'user'): Promise<RegisteredModel> {
    if (info.rpn && info.rpn.anchors.stride !== converted.stride) {
      throw new Error(`the RPN head's anchors assume stride ${info.rpn.anchors.stride}, the backbone's feature map has stride ${converted.stride}`);
    }
    const id = modelIdFor(converted.onnx, info.rpn);
    const meta: ModelMetadata = modelMetadataSchema.parse({
      id,
      name: info.name,
      kind: info.rpn ? 'rpn' : info.kind ?? 'grid',
      source: info.source,
      licence: info.licence,
      inputName: converted.inputName,
      outputName: converted.outputName,
      featureLayer: converted.featureLayer,
      channels: converted.channels,
      stride: converted.stride,
      normalisation: info.normalisation,
      createdAt: new Date().toISOString(),
      quantisation: info.quantisation,
      rpn: info.rpn ? { head: RPN_HEAD_FILE, anchors: info.rpn.anchors, proposals: info.rpn.proposals, base: info.rpn.base } : undefined,
    });
    const root = where === 'builtin' ? this.dirs.builtin : this.dirs.user;
    const dir = path.join(root, id);
    await fs.mkdir(dir, { recursive: true });
    // Write to temporary names and rename, so a crash never leaves a half-written model behind.
    await writeAtomic(path.join(dir, 'model.onnx'), converted.onnx);
    // The head before meta.json: a folder whose meta names a head is complete.
    if (info.rpn) await writeAtomic(path.join(dir, RPN_HEAD_FILE), info.rpn.onnx);
    await writeAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    return modelAt(dir, meta);
  }
}

function modelAt(dir: string, meta: ModelMetadata): RegisteredModel {
  const model: RegisteredModel = { meta, dir, onnxPath: path.join(dir, 'model.onnx'), whiteningDir: dir };
  if (meta.rpn) model.rpnHeadPath = path.join(dir, meta.rpn.head);
  return model;
}

export async function readModelDir(dir: string): Promise<RegisteredModel> {
  const meta = modelMetadataSchema.parse(JSON.parse(await fs.readFile(path.join(dir, 'meta.json'), 'utf8')));
  const model = modelAt(dir, meta);
  await fs.access(model.onnxPath);
  if (model.rpnHeadPath) await fs.access(model.rpnHeadPath);
  return model;
}

/** A registered RPN model's head, as ModelRegistry.add takes it (to register a variant of it). */
export async function rpnHeadInfoOf(model: RegisteredModel): Promise<RpnHeadInfo | undefined> {
  if (!model.meta.rpn || !model.rpnHeadPath) return undefined;
  const { anchors, proposals, base } = model.meta.rpn;
  return { onnx: new Uint8Array(await fs.readFile(model.rpnHeadPath)), anchors, proposals, base };
}

export async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}
