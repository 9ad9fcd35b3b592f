// The offline default model: built at install time (npm's `prepare`) or on first run by our own
// converter from weights that an npm registry package ships, so Sightline works with no
// network at all. nsfwjs (MIT) ships a MobileNetV2 (width 1.4) fine-tuned from ImageNet; its
// mid-level conv features are the best R-MAC backbone found among registry packages (see
// bench/results.md for the comparison that chose the layer).
import fs from 'node:fs/promises';
import path from 'node:path';
import { convertGraphModel } from '../convert/tfjsGraphToOnnx.js';
import { nsfwjsPackageInfo, readNsfwjsModel } from '../convert/nsfwjsWeights.js';
import { builtinModelsDir } from '../paths.js';
import shippedCalibration from './defaultModelCalibration.json' with { type: 'json' };
import { quantizeRegisteredModel, type CalibrationTable } from './modelQuantisation.js';
import { DEFAULT_MODEL_MARKER, defaultRegistry } from './modelResolver.js';
import { ModelRegistry, writeAtomic, type RegisteredModel } from './modelRegistry.js';

export const DEFAULT_MODEL_SOURCE = 'mobilenet_v2_mid' as const;
export const DEFAULT_MODEL_LAYER = 'expanded_conv_11/expand/Relu6';

/**
 * Activation ranges of the float default model, measured once with `sightline model quantize
 * --calibrate ../shared/data/scenes ../shared/data/near-dup/base_images --save-calibration …`
 * and shipped, because an install has no photos to calibrate on. They are tied to the float
 * model's id: a different nsfwjs release or layer gets the float model as its default instead.
 */
export const DEFAULT_MODEL_CALIBRATION = shippedCalibration as CalibrationTable;

/**
 * What the offline default is built as. The marker records it, so an install made by an older
 * recipe (the float model before int8 became the default) is rebuilt by the next prepare.
 */
export const DEFAULT_MODEL_RECIPE = `nsfwjs ${DEFAULT_MODEL_SOURCE} @ ${DEFAULT_MODEL_LAYER}, int8 QDQ from the shipped calibration`;

/**
 * 7-bit weights: a uint8 × int8 pair then always fits the int16 that AVX2 CPUs without VNNI (Zen 2
 * and 3, older Intel) add pairs into, so the default is as accurate there as it measures here.
 * It cost at most 0.6 mAP point against 8-bit weights on Paris6k-mini, at the same speed.
 */
const DEFAULT_MODEL_WEIGHT_BITS = 7;

interface DefaultModelMarker {
  id?: string;
  name?: string;
  recipe?: string;
  /** The float model the int8 default was quantised from (registered beside it). */
  float?: string;
}

export interface PrepareDefaultOptions {
  force?: boolean;
  layer?: string;
  log?: (line: string) => void;
  registry?: ModelRegistry;
  /** Where the default marker is written (defaults to resources/models). */
  markerDir?: string;
}

export async function buildDefaultModel(layer = DEFAULT_MODEL_LAYER, registry = defaultRegistry(), where: 'builtin' | 'user' = 'builtin'): Promise<RegisteredModel> {
  const src = await readNsfwjsModel(DEFAULT_MODEL_SOURCE);
  const converted = convertGraphModel(src, { outputNode: layer, skipInputNormalisation: true });
  const pkg = nsfwjsPackageInfo();
  return registry.add(converted, {
    name: `nsfwjs-mobilenet-v2-mid@${layer.split('/').slice(0, 2).join('/')}`,
    source: `npm package nsfwjs@${pkg.version}, dist/models/${DEFAULT_MODEL_SOURCE} (TF.js graph model, uint8-quantised), node ${converted.featureLayer}`,
    licence: `${pkg.license} (nsfwjs)`,
    normalisation: converted.inputNormalisation,
  }, where);
}

/** The int8 variant of the float default, from the shipped calibration; undefined when that calibration was measured on another float model. */
export async function buildDefaultInt8Model(float: RegisteredModel, registry = defaultRegistry(), where: 'builtin' | 'user' = 'builtin'): Promise<RegisteredModel | undefined> {
  if (DEFAULT_MODEL_CALIBRATION.sourceModelId !== float.meta.id) return undefined;
  return quantizeRegisteredModel(float, DEFAULT_MODEL_CALIBRATION, registry, { where, name: `${float.meta.name} int8`, weightBits: DEFAULT_MODEL_WEIGHT_BITS });
}

export async function prepareDefaultModel(options: PrepareDefaultOptions = {}): Promise<RegisteredModel> {
  const registry = options.registry ?? defaultRegistry();
  const markerDir = options.markerDir ?? builtinModelsDir;
  const marker = await readMarker(markerDir);
  if (marker?.id && marker.recipe === DEFAULT_MODEL_RECIPE && !options.force && !options.layer) {
    const found = await registry.get(marker.id).catch(() => undefined);
    if (found) return found;
  }
  const layer = options.layer ?? DEFAULT_MODEL_LAYER;
  options.log?.(`Building the offline default model from nsfwjs ${DEFAULT_MODEL_SOURCE} (${layer})…`);
  const float = await buildDefaultModel(layer, registry);
  const int8 = await buildDefaultInt8Model(float, registry);
  if (int8) options.log?.(`Quantised it to int8 (${int8.meta.id}); the float model stays registered as ${float.meta.id}.`);
  else options.log?.(`No shipped int8 calibration for ${float.meta.id}: the float model is the default.`);
  const model = int8 ?? float;
  await fs.mkdir(markerDir, { recursive: true });
  const next: DefaultModelMarker = { id: model.meta.id, name: model.meta.name, recipe: DEFAULT_MODEL_RECIPE, float: int8 ? float.meta.id : undefined };
  await writeAtomic(path.join(markerDir, DEFAULT_MODEL_MARKER), JSON.stringify(next, null, 2) + '\n');
  return model;
}

async function readMarker(dir: string): Promise<DefaultModelMarker | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, DEFAULT_MODEL_MARKER), 'utf8')) as DefaultModelMarker;
  } catch {
    return undefined;
  }
}
