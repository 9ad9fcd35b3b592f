// Turns whatever the user points at (an ONNX file, a TF.js layers folder, a TF.js graph
// folder, or an already registered model) into a registered model the engine can run.
import fs from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { NORMALISATIONS, type ConvertedModel, type InputNormalisation } from '../convert/convertedModel.js';
import { convertGraphModel, readGraphModel } from '../convert/tfjsGraphToOnnx.js';
import { convertLayersModel, defaultFeatureLayer, readLayersModel } from '../convert/kerasLayersToOnnx.js';
import { readModelDir, type ModelRegistry, type RegisteredModel } from './modelRegistry.js';

export interface ImportOptions {
  /** Layer (Keras) or node (graph model) whose activation is the feature map. */
  layer?: string;
  normalisation?: InputNormalisation;
  name?: string;
  licence?: string;
}

export type ModelFormat = 'onnx' | 'tfjs-layers' | 'tfjs-graph' | 'registered';

export async function detectModelFormat(target: string): Promise<ModelFormat> {
  const stat = await fs.stat(target).catch(() => undefined);
  if (!stat) throw new Error(`No model file or folder at ${target}`);
  if (stat.isFile()) {
    if (target.endsWith('.onnx')) return 'onnx';
    if (path.basename(target) === 'model.json') return detectModelFormat(path.dirname(target));
    throw new Error(`${target}: expected an .onnx file or a TF.js model folder (with model.json)`);
  }
  if (await exists(path.join(target, 'meta.json'))) return 'registered';
  if (await exists(path.join(target, 'model.onnx'))) return 'onnx';
  const modelJson = path.join(target, 'model.json');
  if (!(await exists(modelJson))) throw new Error(`${target} has neither model.json (TF.js) nor model.onnx`);
  const json = JSON.parse(await fs.readFile(modelJson, 'utf8')) as { format?: string; modelTopology?: { node?: unknown } };
  if (json.format === 'graph-model' || Array.isArray(json.modelTopology?.node)) return 'tfjs-graph';
  return 'tfjs-layers';
}

export async function importModel(target: string, registry: ModelRegistry, options: ImportOptions = {}): Promise<RegisteredModel> {
  const format = await detectModelFormat(target);
  if (format === 'registered') return readModelDir(target);
  const folder = (await fs.stat(target)).isDirectory() ? target : path.dirname(target);
  let converted: ConvertedModel;
  if (format === 'tfjs-layers') {
    const src = await readLayersModel(folder);
    converted = convertLayersModel(src, { outputLayer: options.layer ?? defaultFeatureLayer(src) });
  } else if (format === 'tfjs-graph') {
    const src = await readGraphModel(folder);
    if (!options.layer) throw new Error('A TF.js graph model needs --layer <node name> for its feature map');
    converted = convertGraphModel(src, { outputNode: options.layer, skipInputNormalisation: true });
  } else {
    converted = await describeOnnx(target.endsWith('.onnx') ? target : path.join(target, 'model.onnx'), options.layer);
  }
  return registry.add(converted, {
    name: options.name ?? path.basename(folder === target ? target : target.replace(/\.onnx$/, '')),
    source: path.resolve(target),
    licence: options.licence ?? 'user-supplied',
    normalisation: options.normalisation ?? NORMALISATIONS.minusOneToOne,
  }, 'user');
}

/** Reads an ONNX model's feature output and measures its channels and stride with a probe input. */
async function describeOnnx(file: string, outputName?: string): Promise<ConvertedModel> {
  const bytes = new Uint8Array(await fs.readFile(file));
  const session = await ort.InferenceSession.create(bytes);
  try {
    const inputName = session.inputNames[0];
    const output = outputName ?? session.outputNames[0];
    if (!session.outputNames.includes(output)) throw new Error(`${file} has no output "${output}"; outputs: ${session.outputNames.join(', ')}`);
    const probe = async (size: number) => {
      const res = await session.run({ [inputName]: new ort.Tensor('float32', new Float32Array(3 * size * size), [1, 3, size, size]) }, [output]);
      return res[output].dims as number[];
    };
    const a = await probe(256);
    if (a.length !== 4) throw new Error(`${file}: output "${output}" is ${a.length}-D; Sightline needs a [1, C, H, W] feature map`);
    const b = await probe(512);
    const stride = Math.round(256 / (b[2] - a[2]));
    return { onnx: bytes, inputName, outputName: output, featureLayer: output, channels: a[1], stride };
  } finally {
    await session.release();
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

export function parseNormalisation(spec: string): InputNormalisation {
  if (spec in NORMALISATIONS) return NORMALISATIONS[spec as keyof typeof NORMALISATIONS];
  const m = /^([\d.,]+):([\d.,]+)$/.exec(spec);
  const parts = m && [m[1], m[2]].map((s) => s.split(',').map(Number));
  if (!parts || parts.some((p) => p.length !== 3 || p.some((v) => !Number.isFinite(v))) || parts[1].some((v) => v === 0)) {
    throw new Error(`--normalise takes ${Object.keys(NORMALISATIONS).join(' | ')} or "m1,m2,m3:s1,s2,s3" (0–255 scale), got "${spec}"`);
  }
  return { mean: parts[0] as [number, number, number], std: parts[1] as [number, number, number] };
}
