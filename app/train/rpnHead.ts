// The RPN head (DESIGN.md §1.4) in TF.js: a 3×3 conv + ReLU on the frozen backbone's feature
// map, then two 1×1 convs, objectness (one logit per anchor) and box deltas (4 per anchor).
// The 3×3 conv is factored as a linear 1×1 conv C → `reduced` followed by a 3×3 conv, i.e. a
// 3×3 conv whose weights have rank ≤ `reduced` over the input channels. With C = 816 the full
// conv costs ~0.7 GMAC per photo and its filter gradient (plain JS on wasm, wasmGradientKernels)
// made one epoch minutes long on two cores; factored through 64 channels it is ~15× cheaper.
// Plain variables rather than tf.layers, so the weights map one-to-one onto ONNX Conv nodes
// and a checkpoint is six named arrays.
import * as tf from '@tensorflow/tfjs';
import type { AnchorTargets } from '../engine/rpnAnchors.js';

export interface RpnHeadShape {
  /** Channels of the backbone feature map. */
  channels: number;
  /** Channels of the 3×3 conv. */
  hidden: number;
  /** Rank of the 3×3 conv over input channels (the linear 1×1 reduction); 0 = unfactored. */
  reduced: number;
  /** Anchors per cell. */
  anchors: number;
}

export interface RpnHeadWeights {
  shape: RpnHeadShape;
  /** name → [dims, values], as tf tensors hold them (HWIO filters). */
  tensors: Record<string, { shape: number[]; values: number[] }>;
}

const NAMES = ['reduceW', 'convW', 'convB', 'objW', 'objB', 'regW', 'regB'] as const;
type WeightName = (typeof NAMES)[number];

export interface RpnHeadOutput {
  /** [cells·A] objectness logits, generateAnchors' order. */
  objectness: tf.Tensor1D;
  /** [cells·A, 4] box deltas. */
  deltas: tf.Tensor2D;
}

export class RpnHead {
  readonly variables: Record<WeightName, tf.Variable>;

  constructor(readonly shape: RpnHeadShape, seed = 1, initial?: RpnHeadWeights) {
    const { channels, hidden, anchors, reduced } = shape;
    if (initial) {
      const s = initial.shape;
      if (s.channels !== channels || s.hidden !== hidden || s.anchors !== anchors || s.reduced !== reduced) throw new Error(`RPN checkpoint has shape ${JSON.stringify(s)}, expected ${JSON.stringify(shape)}`);
    }
    const make = (name: WeightName, dims: number[], init: () => tf.Tensor) => tf.variable(initial ? tf.tensor(initial.tensors[name].values, dims) : init(), true, `rpn_${name}_${seed}_${Math.random().toString(36).slice(2)}`);
    // He-normal for the ReLU conv; the two outputs start at σ = 0.01 (Faster R-CNN), so the
    // first objectness is ≈ ½ everywhere and the first deltas ≈ 0, i.e. the anchors themselves.
    const convIn = reduced > 0 ? reduced : channels;
    this.variables = {
      // Unfactored, the reduction is a fixed 1×1 identity that apply() skips.
      reduceW: make('reduceW', reduced > 0 ? [1, 1, channels, reduced] : [1], () => (reduced > 0 ? tf.randomNormal([1, 1, channels, reduced], 0, Math.sqrt(1 / channels), 'float32', seed + 3) : tf.ones([1]))),
      convW: make('convW', [3, 3, convIn, hidden], () => tf.randomNormal([3, 3, convIn, hidden], 0, Math.sqrt(2 / (9 * convIn)), 'float32', seed)),
      convB: make('convB', [hidden], () => tf.zeros([hidden])),
      objW: make('objW', [1, 1, hidden, anchors], () => tf.randomNormal([1, 1, hidden, anchors], 0, 0.01, 'float32', seed + 1)),
      objB: make('objB', [anchors], () => tf.zeros([anchors])),
      regW: make('regW', [1, 1, hidden, 4 * anchors], () => tf.randomNormal([1, 1, hidden, 4 * anchors], 0, 0.01, 'float32', seed + 2)),
      regB: make('regB', [4 * anchors], () => tf.zeros([4 * anchors])),
    };
  }

  /** features: [1, H, W, C] (NHWC). */
  apply(features: tf.Tensor4D): RpnHeadOutput {
    return tf.tidy(() => {
      const v = this.variables;
      const input: tf.Tensor4D = this.shape.reduced > 0 ? tf.conv2d(features, v.reduceW as tf.Tensor4D, 1, 'valid') : features;
      const hidden = tf.relu(tf.add(tf.conv2d(input, v.convW as tf.Tensor4D, 1, 'same'), v.convB)) as tf.Tensor4D;
      const objectness = tf.add(tf.conv2d(hidden, v.objW as tf.Tensor4D, 1, 'valid'), v.objB);
      const deltas = tf.add(tf.conv2d(hidden, v.regW as tf.Tensor4D, 1, 'valid'), v.regB);
      // NHWC with A (resp. 4A) channels flattens in exactly generateAnchors' order.
      return { objectness: tf.reshape(objectness, [-1]) as tf.Tensor1D, deltas: tf.reshape(deltas, [-1, 4]) as tf.Tensor2D };
    });
  }

  async save(): Promise<RpnHeadWeights> {
    const tensors: RpnHeadWeights['tensors'] = {};
    for (const name of NAMES) tensors[name] = { shape: this.variables[name].shape, values: Array.from(await this.variables[name].data()) };
    return { shape: this.shape, tensors };
  }

  dispose(): void {
    for (const name of NAMES) this.variables[name].dispose();
  }

  /** The variables an optimiser updates (the identity placeholder of an unfactored head is not one). */
  trainable(): tf.Variable[] {
    return NAMES.filter((n) => n !== 'reduceW' || this.shape.reduced > 0).map((n) => this.variables[n]);
  }
}

/** Which anchors a training step looks at, and their targets: built in TS from AnchorTargets. */
export interface RpnBatch {
  /** [N] 1 for a sampled positive, else 0. */
  positive: tf.Tensor1D;
  /** [N] 1 for a sampled anchor (positive or negative), else 0. */
  sampled: tf.Tensor1D;
  /** [N, 4] regression targets (used where positive). */
  deltas: tf.Tensor2D;
}

/**
 * Faster R-CNN's mini-batch: up to `size` anchors of one photo, at most half of them positive,
 * the rest negatives, drawn with `random`. Without the sampling the ~7000 anchors of a photo,
 * nearly all background, would teach the head to say "background" everywhere.
 */
export function sampleAnchors(targets: AnchorTargets, random: () => number, size = 256, positiveFraction = 0.5): RpnBatch {
  const n = targets.labels.length;
  const positives: number[] = [];
  const negatives: number[] = [];
  for (let i = 0; i < n; i++) {
    if (targets.labels[i] === 1) positives.push(i);
    else if (targets.labels[i] === 0) negatives.push(i);
  }
  const pick = (from: number[], count: number) => {
    // Partial Fisher–Yates: the first `count` entries become a uniform sample.
    for (let i = 0; i < Math.min(count, from.length); i++) {
      const j = i + Math.floor(random() * (from.length - i));
      [from[i], from[j]] = [from[j], from[i]];
    }
    return from.slice(0, count);
  };
  const pos = pick(positives, Math.floor(size * positiveFraction));
  const neg = pick(negatives, size - pos.length);
  const positive = new Float32Array(n);
  const sampled = new Float32Array(n);
  for (const i of pos) positive[i] = sampled[i] = 1;
  for (const i of neg) sampled[i] = 1;
  return { positive: tf.tensor1d(positive), sampled: tf.tensor1d(sampled), deltas: tf.tensor2d(targets.deltas, [n, 4]) };
}

export interface RpnLoss {
  total: tf.Scalar;
  objectness: tf.Scalar;
  regression: tf.Scalar;
}

/**
 * BCE over the sampled anchors (mean) + λ · smooth-L1 (β = 1/9, Detectron's RPN setting) over
 * the positives' 4 deltas, averaged per sampled anchor as Detectron does, so a photo with few
 * positives does not weigh its regression up. Call inside tf.tidy / a gradient function.
 */
export function rpnLoss(output: RpnHeadOutput, batch: RpnBatch, lambda = 1, beta = 1 / 9): RpnLoss {
  const count = tf.maximum(tf.sum(batch.sampled), 1);
  const bce = tf.losses.sigmoidCrossEntropy(batch.positive, output.objectness, undefined, 0, tf.Reduction.NONE);
  const objectness = tf.div(tf.sum(tf.mul(bce, batch.sampled)), count) as tf.Scalar;
  const diff = tf.abs(tf.sub(output.deltas, batch.deltas));
  // ½·min(|d|, β)²/β + (|d| − min(|d|, β)) is smooth-L1 written without a comparison, whose
  // kernel (Less) has no gradient in TF.js.
  const clipped = tf.minimum(diff, beta);
  const smooth = tf.add(tf.div(tf.mul(0.5, tf.square(clipped)), beta), tf.sub(diff, clipped));
  const regression = tf.div(tf.sum(tf.mul(tf.sum(smooth, 1), batch.positive)), count) as tf.Scalar;
  return { total: tf.add(objectness, tf.mul(lambda, regression)) as tf.Scalar, objectness, regression };
}

export function disposeBatch(batch: RpnBatch): void {
  batch.positive.dispose();
  batch.sampled.dispose();
  batch.deltas.dispose();
}
