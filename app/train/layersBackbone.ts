// A Keras layers model (TF.js layers format, e.g. ../shared/weights/mobilenet-v2-0.35-keras) as
// a trainable backbone: TF.js loads it, the network is cut at the feature layer, and the layers
// after the last frozen unit are replayed on new inputs, so the frozen part runs once per image
// and only the trained part runs at each step. BatchNormalization keeps its moving statistics
// (inference mode): batches here are single photos of different sizes.
import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ConvertedModel, InputNormalisation } from '../convert/convertedModel.js';
import { convertLayersModel, defaultFeatureLayer, readLayersModel, type LayersModelSource } from '../convert/kerasLayersToOnnx.js';
import type { BackboneSplit, TrainableBackbone } from './trainableBackbone.js';

type Json = Record<string, unknown>;

export interface LayersBackboneOptions {
  /** Layer whose activation is the feature map (default: the converter's default feature layer). */
  featureLayer?: string;
  normalisation: InputNormalisation;
  source?: string;
  licence?: string;
}

/** model.json with every input layer made size-agnostic (../shared/weights/README.md). */
async function readTopologyForAnySize(dir: string): Promise<{ topology: Json; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer }> {
  const json = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8')) as Json & { weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
  const topology = json.modelTopology as Json;
  const unfix = (layers: unknown) => {
    if (!Array.isArray(layers)) return;
    for (const l of layers as Json[]) {
      const config = (l.config ?? {}) as Json;
      if (l.class_name === 'InputLayer') config.batch_input_shape = [null, null, null, 3];
      unfix(config.layers ?? (Array.isArray(l.config) ? l.config : undefined));
    }
  };
  const root = (topology.model_config ?? topology) as Json;
  unfix(((root.config ?? {}) as Json).layers ?? root.config);
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFile(path.join(dir, p)))));
  const data = Buffer.concat(shards);
  return { topology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer };
}

function isModel(layer: tf.layers.Layer): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

/** The (nested) model that holds `name` directly, and the chain of models above it. */
function findOwner(model: tf.LayersModel, name: string, chain: tf.LayersModel[] = []): tf.LayersModel[] | undefined {
  if (model.layers.some((l) => l.name === name)) return [...chain, model];
  for (const l of model.layers) {
    if (!isModel(l)) continue;
    const found = findOwner(l, name, [...chain, model]);
    if (found) return found;
  }
  return undefined;
}

export class LayersBackbone implements TrainableBackbone {
  readonly units: readonly string[];
  readonly channels: number;
  readonly stride: number;
  private readonly sub: tf.LayersModel;
  private readonly unitLayers = new Map<string, tf.layers.Layer[]>();
  private readonly topLevel: tf.LayersModel;

  private constructor(
    private readonly src: LayersModelSource,
    model: tf.LayersModel,
    readonly featureLayer: string,
    readonly normalisation: InputNormalisation,
    readonly source: string,
    readonly licence: string,
  ) {
    this.topLevel = model;
    const converted = convertLayersModel(src, { outputLayer: featureLayer });
    this.channels = converted.channels;
    this.stride = converted.stride;
    const layerName = featureLayer.split('/').pop()!;
    const chain = findOwner(model, layerName);
    if (!chain) throw new Error(`no layer ${featureLayer} in the TF.js model`);
    // The feature layer's model must be what the image reaches first at every nesting level,
    // or its own input would not be the photo.
    for (let i = 0; i + 1 < chain.length; i++) {
      const first = chain[i].layers.find((l) => l.getClassName() !== 'InputLayer');
      if (first !== chain[i + 1]) throw new Error(`${featureLayer}: its model ${chain[i + 1].name} is not the first layer of ${chain[i].name}; such nesting is not supported for training`);
    }
    const owner = chain[chain.length - 1];
    this.sub = tf.model({ inputs: owner.inputs, outputs: owner.getLayer(layerName).output as tf.SymbolicTensor });
    const unitOf = new Map<tf.layers.Layer, string>();
    const units: string[] = [];
    for (const layer of this.sub.layers) {
      if (layer.weights.length === 0) continue;
      if (layer.inboundNodes.length !== 1) throw new Error(`layer ${layer.name} is applied ${layer.inboundNodes.length} times; shared layers are not supported for training`);
      const from = layer.inboundNodes[0].inboundLayers[0];
      const owned = layer.getClassName() === 'BatchNormalization' && from ? unitOf.get(from) : undefined;
      const unit = owned ?? layer.name;
      if (!owned) units.push(unit);
      unitOf.set(layer, unit);
      this.unitLayers.set(unit, [...(this.unitLayers.get(unit) ?? []), layer]);
    }
    this.units = units;
  }

  static async load(dir: string, options: LayersBackboneOptions): Promise<LayersBackbone> {
    const src = await readLayersModel(dir);
    const featureLayer = options.featureLayer ?? defaultFeatureLayer(src);
    const { topology, weightSpecs, weightData } = await readTopologyForAnySize(dir);
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs, weightData }));
    return new LayersBackbone(src, model, featureLayer, options.normalisation, options.source ?? path.resolve(dir), options.licence ?? 'user-supplied');
  }

  split(trainable: ReadonlySet<string>): BackboneSplit {
    for (const unit of trainable) if (!this.unitLayers.has(unit)) throw new Error(`no trainable unit ${unit} in ${this.source}`);
    const trainedLayers = new Set([...trainable].flatMap((u) => this.unitLayers.get(u)!));
    const top = new Set<tf.layers.Layer>();
    const originalNode = (l: tf.layers.Layer) => l.inboundNodes[0];
    for (const layer of this.sub.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      if (trainedLayers.has(layer) || originalNode(layer).inboundLayers.some((l) => top.has(l))) top.add(layer);
    }
    const input = this.sub.inputs[0];
    const output = this.sub.outputs[0];
    const frontier: tf.SymbolicTensor[] = [];
    if (top.size === 0) frontier.push(output);
    for (const layer of this.sub.layers) {
      if (!top.has(layer)) continue;
      const node = originalNode(layer);
      node.inputTensors.forEach((t, i) => {
        if (!top.has(node.inboundLayers[i]) && !frontier.includes(t)) frontier.push(t);
      });
    }
    const frozenOutputs = frontier.filter((t) => t !== input);
    const frozenModel = frozenOutputs.length ? tf.model({ inputs: input, outputs: frozenOutputs }) : undefined;

    let trainModel: tf.LayersModel | undefined;
    if (top.size) {
      const mapped = new Map<number, tf.SymbolicTensor>();
      const newInputs = frontier.map((t) => {
        const fresh = tf.input({ shape: t.shape.slice(1) as number[], dtype: t.dtype });
        mapped.set(t.id, fresh);
        return fresh;
      });
      for (const layer of this.sub.layers) {
        if (!top.has(layer)) continue;
        const node = originalNode(layer);
        const ins = node.inputTensors.map((t) => {
          const m = mapped.get(t.id);
          if (!m) throw new Error(`internal: input of ${layer.name} is neither trained nor on the frontier`);
          return m;
        });
        const outs = [layer.apply(ins.length === 1 ? ins[0] : ins) as tf.SymbolicTensor | tf.SymbolicTensor[]].flat();
        node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]));
      }
      const out = mapped.get(output.id);
      if (!out) throw new Error('internal: the replayed layers do not reach the feature layer');
      trainModel = tf.model({ inputs: newInputs, outputs: out });
    }
    const variables = [...trainedLayers].flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
    return {
      variables,
      frontierLayers: frontier.map((t) => (t === input ? null : t.sourceLayer.name)),
      frozen: (image) => tf.tidy(() => {
        const outs = frozenModel ? [frozenModel.predict(image) as tf.Tensor | tf.Tensor[]].flat() : [];
        return frontier.map((t) => (t === input ? image : outs[frozenOutputs.indexOf(t)]));
      }),
      trainable: (tensors) => (trainModel ? trainModel.apply(tensors.length === 1 ? tensors[0] : tensors, { training: false }) as tf.Tensor4D : tensors[0] as tf.Tensor4D),
    };
  }

  exportOnnx(): ConvertedModel {
    return this.exportOnnxAt(this.featureLayer);
  }

  exportOnnxAt(layer: string): ConvertedModel {
    const keys = [...this.src.weights.keys()];
    const weights = new Map(this.src.weights);
    for (const layer of this.sub.layers) {
      for (const w of layer.weights) {
        const name = w.originalName.replace(/:\d+$/, '');
        const key = keys.find((k) => k.replace(/:\d+$/, '') === name)
          ?? uniqueOrUndefined(keys.filter((k) => k.endsWith(`/${name}`)))
          ?? uniqueOrUndefined(keys.filter((k) => k.endsWith(`/${layer.name}/${name.split('/').pop()}`)));
        if (!key) throw new Error(`cannot find weight ${w.originalName} of layer ${layer.name} in the model's weight manifest`);
        weights.set(key, Float32Array.from(w.read().dataSync()));
      }
    }
    return convertLayersModel({ modelJson: this.src.modelJson, weights }, { outputLayer: layer });
  }

  dispose(): void {
    this.topLevel.dispose();
  }
}

function uniqueOrUndefined(keys: string[]): string | undefined {
  return keys.length === 1 ? keys[0] : undefined;
}
