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
import { DEFAULT_MODEL_MARKER, builtinDefaultModelId, defaultRegistry } from './modelResolver.js';
import { ModelRegistry, writeAtomic, type RegisteredModel } from './modelRegistry.js';

export const DEFAULT_MODEL_SOURCE = 'mobilenet_v2_mid' as const;
export const DEFAULT_MODEL_LAYER = 'expanded_conv_11/expand/Relu6';

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

export async function prepareDefaultModel(options: PrepareDefaultOptions = {}): Promise<RegisteredModel> {
  const registry = options.registry ?? defaultRegistry();
  const markerDir = options.markerDir ?? builtinModelsDir;
  const existing = await builtinDefaultModelId();
  if (existing && !options.force && !options.markerDir) {
    const found = await registry.get(existing).catch(() => undefined);
    if (found) return found;
  }
  options.log?.(`Building the offline default model from nsfwjs ${DEFAULT_MODEL_SOURCE} (${options.layer ?? DEFAULT_MODEL_LAYER})…`);
  const model = await buildDefaultModel(options.layer ?? DEFAULT_MODEL_LAYER, registry);
  await fs.mkdir(markerDir, { recursive: true });
  await writeAtomic(path.join(markerDir, DEFAULT_MODEL_MARKER), JSON.stringify({ id: model.meta.id, name: model.meta.name }, null, 2) + '\n');
  return model;
}
