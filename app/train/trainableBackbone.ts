// A backbone CNN in TF.js whose weights the triplet loss can move, built from the same TF.js
// weights the engine's ONNX models are converted from, and exported back to ONNX through the same
// converters once trained. Two kinds exist: Keras layers models (layersBackbone.ts) and TF.js
// graph models such as the offline default's nsfwjs MobileNetV2 (graphBackbone.ts).
import type * as tf from '@tensorflow/tfjs';
import type { ConvertedModel, InputNormalisation } from '../convert/convertedModel.js';

export interface TrainableBackbone {
  /** Where it came from, for model metadata and reports. */
  readonly source: string;
  readonly licence: string;
  readonly normalisation: InputNormalisation;
  /** The layer / node whose activation is the feature map. */
  readonly featureLayer: string;
  readonly channels: number;
  readonly stride: number;
  /**
   * The trainable units from input to output: convolutions (Keras: with the BatchNormalization
   * that follows them). `top N` trains the last N of these.
   */
  readonly units: readonly string[];
  /**
   * Splits the network at the given units: everything before the first trainable unit is frozen
   * and run once per image; the rest is trained. An empty set trains nothing (the frozen part is
   * the whole backbone).
   */
  split(trainable: ReadonlySet<string>): BackboneSplit;
  /** The current weights as an ONNX feature extractor, through app/convert. */
  exportOnnx(): ConvertedModel;
  /** The same up to another layer / node (a split's frontier), to run the frozen part in onnxruntime. */
  exportOnnxAt(layer: string): ConvertedModel;
  dispose(): void;
}

export interface BackboneSplit {
  /** The variables of the trainable units. */
  readonly variables: tf.Variable[];
  /** The layer / node each frozen() tensor is the output of; null for the image itself. */
  readonly frontierLayers: ReadonlyArray<string | null>;
  /** NHWC normalised image [1, H, W, 3] → the tensors the trainable part starts from. */
  frozen(image: tf.Tensor4D): tf.Tensor[];
  /** Those tensors → the feature map [1, h, w, C]. */
  trainable(frontier: tf.Tensor[]): tf.Tensor4D;
}

export type TrainedLayers = { kind: 'whitening' } | { kind: 'top'; units: number } | { kind: 'all' };

/** The unit names `--train` selects. */
export function selectUnits(backbone: Pick<TrainableBackbone, 'units'>, layers: TrainedLayers): Set<string> {
  switch (layers.kind) {
    case 'whitening': return new Set();
    case 'all': return new Set(backbone.units);
    case 'top': return new Set(backbone.units.slice(Math.max(0, backbone.units.length - layers.units)));
  }
}

export function parseTrainedLayers(spec: string): TrainedLayers {
  if (spec === 'whitening' || spec === 'all') return { kind: spec };
  const m = /^top(?::(\d+))?$/.exec(spec);
  if (m) {
    const units = m[1] === undefined ? DEFAULT_TOP_UNITS : Number(m[1]);
    if (units < 1) throw new Error('--train top:N needs N ≥ 1');
    return { kind: 'top', units };
  }
  throw new Error(`--train takes whitening | top[:N] | all, got "${spec}"`);
}

/** One inverted-residual block of a MobileNetV2 (expand, depthwise, project). */
export const DEFAULT_TOP_UNITS = 3;

export function describeTrainedLayers(layers: TrainedLayers): string {
  return layers.kind === 'top' ? `top:${layers.units}` : layers.kind;
}
