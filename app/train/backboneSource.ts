// Which TF.js weights a backbone is trained from: the offline default's source (nsfwjs's graph
// model, the weights the default ONNX model is converted from at install time), a TF.js layers
// or graph folder, or a registered model whose recorded source is such a folder. A model that
// exists only as ONNX has no TF.js weights to train; its whitening can still be learned.
import fs from 'node:fs/promises';
import path from 'node:path';
import { NORMALISATIONS, type InputNormalisation } from '../convert/convertedModel.js';
import { nsfwjsPackageInfo, readNsfwjsModel } from '../convert/nsfwjsWeights.js';
import { readGraphModel } from '../convert/tfjsGraphToOnnx.js';
import { DEFAULT_MODEL_LAYER, DEFAULT_MODEL_SOURCE } from '../engine/defaultModel.js';
import { detectModelFormat } from '../engine/modelImport.js';
import { builtinDefaultModelId, defaultRegistry } from '../engine/modelResolver.js';
import type { ModelRegistry, RegisteredModel } from '../engine/modelRegistry.js';
import { readSettings } from '../settings.js';
import { GraphBackbone } from './graphBackbone.js';
import { LayersBackbone } from './layersBackbone.js';
import type { TrainableBackbone } from './trainableBackbone.js';

export const DEFAULT_BACKBONE_SPEC = 'default';

export interface BackboneSourceOptions {
  /** Feature layer / node for a TF.js folder (default: the converter's choice for layers models). */
  layer?: string;
  normalisation?: InputNormalisation;
  registry?: ModelRegistry;
}

export class NoTrainableSourceError extends Error {
  constructor(model: RegisteredModel) {
    super(`Model ${model.meta.id} (${model.meta.name}) exists only as ONNX (source: ${model.meta.source}); its backbone has no TF.js weights to fine-tune. Train its whitening with \`sightline train whitening\`, or pass --model a TF.js folder.`);
    this.name = 'NoTrainableSourceError';
  }
}

/** The offline default's backbone, from the nsfwjs package's graph model. */
export async function loadDefaultBackbone(layer = DEFAULT_MODEL_LAYER): Promise<GraphBackbone> {
  const pkg = nsfwjsPackageInfo();
  return new GraphBackbone(await readNsfwjsModel(DEFAULT_MODEL_SOURCE), {
    outputNode: layer,
    source: `npm package nsfwjs@${pkg.version}, dist/models/${DEFAULT_MODEL_SOURCE} (TF.js graph model), node ${layer}`,
    licence: `${pkg.license} (nsfwjs)`,
  });
}

async function isTfjsFolder(p: string): Promise<boolean> {
  return fs.access(path.join(p, 'model.json')).then(() => true, () => false);
}

async function loadFolder(dir: string, options: BackboneSourceOptions): Promise<TrainableBackbone> {
  const format = await detectModelFormat(dir);
  if (format === 'tfjs-layers') {
    return LayersBackbone.load(dir, { featureLayer: options.layer, normalisation: options.normalisation ?? NORMALISATIONS.minusOneToOne });
  }
  if (format === 'tfjs-graph') {
    if (!options.layer) throw new Error(`${dir} is a TF.js graph model: name its feature node with --layer`);
    return new GraphBackbone(await readGraphModel(dir), { outputNode: options.layer, source: path.resolve(dir), licence: 'user-supplied' });
  }
  throw new Error(`${dir} is not a TF.js model folder (format ${format}); only TF.js weights can be fine-tuned`);
}

/**
 * `spec`: `default`, a TF.js folder, or a registered model id / name; undefined means the model
 * in use (`sightline model use`), else the offline default.
 */
export async function loadTrainableBackbone(spec: string | undefined, options: BackboneSourceOptions = {}): Promise<TrainableBackbone> {
  const registry = options.registry ?? defaultRegistry();
  const builtin = await builtinDefaultModelId();
  const wanted = spec ?? (await readSettings()).model ?? DEFAULT_BACKBONE_SPEC;
  if (wanted === DEFAULT_BACKBONE_SPEC) return loadDefaultBackbone(options.layer);
  if (await isTfjsFolder(wanted)) return loadFolder(wanted, options);
  let model = await registry.get(wanted);
  // An int8 model (`sightline model quantize`, the int8 offline default) trains from the float
  // model it was quantised from; the result is a float model, which can be quantised in turn.
  const quantisedFrom = (model.meta as { quantisation?: { from?: string } }).quantisation?.from;
  if (quantisedFrom) model = await registry.get(quantisedFrom);
  if (model.meta.id === builtin || model.meta.source.startsWith(`npm package nsfwjs@`)) return loadDefaultBackbone(options.layer ?? model.meta.featureLayer);
  if (await isTfjsFolder(model.meta.source)) {
    return loadFolder(model.meta.source, { ...options, layer: options.layer ?? model.meta.featureLayer, normalisation: options.normalisation ?? model.meta.normalisation });
  }
  throw new NoTrainableSourceError(model);
}
