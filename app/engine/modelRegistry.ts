// The model registry: every model the engine can run (the install-time default, the downloaded
// recommended model, user models, our trained ones) lives in a folder `<id>/` with `model.onnx`
// and `meta.json`. The id is a content hash of the ONNX bytes, so descriptors tagged with it
// go stale exactly when the network changes.
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

export const modelMetadataSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  name: z.string().min(1),
  /** `grid`: pool the rigid R-MAC grid; `rpn`: the model also outputs region proposals. */
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
});

export type ModelMetadata = z.infer<typeof modelMetadataSchema>;

export interface RegisteredModel {
  meta: ModelMetadata;
  dir: string;
  onnxPath: string;
  /** Whitening files fitted for this model live beside it. */
  whiteningDir: string;
}

export interface ModelInfo {
  name: string;
  source: string;
  licence: string;
  normalisation: InputNormalisation;
  kind?: 'grid' | 'rpn';
  quantisation?: ModelQuantisation;
}

export function modelIdFor(onnx: Uint8Array): string {
  return crypto.createHash('sha256').update(onnx).digest('hex').slice(0, 16);
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
    const id = modelIdFor(converted.onnx);
    const meta: ModelMetadata = modelMetadataSchema.parse({
      id,
      name: info.name,
      kind: info.kind ?? 'grid',
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
    });
    const root = where === 'builtin' ? this.dirs.builtin : this.dirs.user;
    const dir = path.join(root, id);
    await fs.mkdir(dir, { recursive: true });
    // Write to temporary names and rename, so a crash never leaves a half-written model behind.
    await writeAtomic(path.join(dir, 'model.onnx'), converted.onnx);
    await writeAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    return { meta, dir, onnxPath: path.join(dir, 'model.onnx'), whiteningDir: dir };
  }
}

export async function readModelDir(dir: string): Promise<RegisteredModel> {
  const meta = modelMetadataSchema.parse(JSON.parse(await fs.readFile(path.join(dir, 'meta.json'), 'utf8')));
  const onnxPath = path.join(dir, 'model.onnx');
  await fs.access(onnxPath);
  return { meta, dir, onnxPath, whiteningDir: dir };
}

export async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}
