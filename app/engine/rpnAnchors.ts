// Geometry of the Region Proposal Network (DESIGN.md §1.4), as Faster R-CNN (Ren et al., 2015)
// defines it: anchors of several scales and aspect ratios centred on every feature cell, IoU,
// the box-delta parameterisation the head regresses, anchor labelling for training, and
// greedy non-maximum suppression. Plain TS over numbers, so it is exact and unit-testable; the
// TF.js head (rpnHead.ts) only consumes the arrays built here.
//
// Boxes are corner boxes [x1, y1, x2, y2] in continuous pixel coordinates (width = x2 − x1, no
// "+1" of the original Caffe code), in the network input's pixels unless a caller maps them.

export interface CornerBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface AnchorSpec {
  /** Network pixels per feature cell (16 for our backbones). */
  stride: number;
  /** Square root of each anchor's area, in network pixels. */
  sizes: readonly number[];
  /** Height / width of each anchor. */
  ratios: readonly number[];
}

/**
 * 3 scales × 3 ratios. The sizes suit landmark boxes at long side 512: the clean boxes cover a
 * third to all of a photo (about 150–500 px), so Faster R-CNN's 128/256/512 would waste a scale
 * on boxes larger than the whole input; 96 still covers a detail that matched.
 */
export const DEFAULT_ANCHOR_SPEC: AnchorSpec = { stride: 16, sizes: [96, 192, 384], ratios: [0.5, 1, 2] };

export function anchorsPerCell(spec: AnchorSpec): number {
  return spec.sizes.length * spec.ratios.length;
}

/**
 * Every anchor of a width × height feature map, as a flat [x1, y1, x2, y2, …] array. The order
 * is cell-major, row by row, then the anchors of one cell (size-major, then ratio): index
 * (y·width + x)·A + a, exactly the order of an NHWC head output with A channels reshaped to [−1].
 */
export function generateAnchors(width: number, height: number, spec: AnchorSpec = DEFAULT_ANCHOR_SPEC): Float32Array {
  const shapes: Array<[number, number]> = [];
  // Keep the area size² and set h / w = ratio: w = size / √ratio, h = size · √ratio.
  for (const size of spec.sizes) for (const ratio of spec.ratios) shapes.push([size / Math.sqrt(ratio), size * Math.sqrt(ratio)]);
  const out = new Float32Array(width * height * shapes.length * 4);
  let i = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Centred on the cell: the receptive field of cell x is centred near (x + ½)·stride.
      const cx = (x + 0.5) * spec.stride;
      const cy = (y + 0.5) * spec.stride;
      for (const [w, h] of shapes) {
        out[i++] = cx - w / 2;
        out[i++] = cy - h / 2;
        out[i++] = cx + w / 2;
        out[i++] = cy + h / 2;
      }
    }
  }
  return out;
}

export function boxAt(boxes: ArrayLike<number>, i: number): CornerBox {
  return { x1: boxes[4 * i], y1: boxes[4 * i + 1], x2: boxes[4 * i + 2], y2: boxes[4 * i + 3] };
}

export function area(b: CornerBox): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

export function iou(a: CornerBox, b: CornerBox): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (area(a) + area(b) - inter);
}

/** IoU of every box of a flat [x1, y1, x2, y2, …] array with one box. */
export function iouWithBox(boxes: ArrayLike<number>, box: CornerBox): Float32Array {
  const n = boxes.length / 4;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = iou(boxAt(boxes, i), box);
  return out;
}

/**
 * Faster R-CNN's box deltas of a target relative to an anchor: centre shift in anchor widths,
 * log size ratio. The log makes the regression scale-invariant, so one head serves every size.
 */
export function encodeBox(anchor: CornerBox, target: CornerBox): [number, number, number, number] {
  const aw = anchor.x2 - anchor.x1;
  const ah = anchor.y2 - anchor.y1;
  const tw = target.x2 - target.x1;
  const th = target.y2 - target.y1;
  return [
    (target.x1 + tw / 2 - (anchor.x1 + aw / 2)) / aw,
    (target.y1 + th / 2 - (anchor.y1 + ah / 2)) / ah,
    Math.log(tw / aw),
    Math.log(th / ah),
  ];
}

/**
 * The box that deltas describe relative to an anchor (the inverse of encodeBox). Size deltas
 * are clamped at log(1000/16) as Detectron does, so an untrained head cannot overflow exp().
 */
export function decodeBox(anchor: CornerBox, deltas: ArrayLike<number>): CornerBox {
  const limit = Math.log(1000 / 16);
  const aw = anchor.x2 - anchor.x1;
  const ah = anchor.y2 - anchor.y1;
  const cx = anchor.x1 + aw / 2 + deltas[0] * aw;
  const cy = anchor.y1 + ah / 2 + deltas[1] * ah;
  const w = aw * Math.exp(Math.min(deltas[2], limit));
  const h = ah * Math.exp(Math.min(deltas[3], limit));
  return { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
}

export function clipBox(b: CornerBox, width: number, height: number): CornerBox {
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return { x1: clamp(b.x1, width), y1: clamp(b.y1, height), x2: clamp(b.x2, width), y2: clamp(b.y2, height) };
}

export interface AnchorLabelOptions {
  /** IoU at or above which an anchor is an object (0.7). */
  positiveIou: number;
  /** IoU below which an anchor is background (0.3); between the two it is ignored. */
  negativeIou: number;
}

export const DEFAULT_LABEL_OPTIONS: AnchorLabelOptions = { positiveIou: 0.7, negativeIou: 0.3 };

export interface AnchorTargets {
  /** Per anchor: 1 object, 0 background, −1 ignored (between the thresholds, or off the image). */
  labels: Int8Array;
  /** Per anchor, 4 deltas towards the ground truth (meaningful where labels = 1). */
  deltas: Float32Array;
}

/**
 * Labels anchors against one ground-truth box (sightline clean gives one per photo). As in
 * Faster R-CNN, the anchors of highest IoU are positive too, whatever their IoU: a box no anchor
 * overlaps by 0.7 (an odd aspect ratio) must still teach the head something. Anchors that cross
 * the image border by more than `border` px are ignored. Faster R-CNN ignores every anchor that
 * crosses it; the default keeps them all, because a landmark box often spans most of a
 * 512 × 384 input and nearly all anchors large enough to match it cross the border.
 */
export function labelAnchors(anchors: Float32Array, truth: CornerBox, imageWidth: number, imageHeight: number, options: AnchorLabelOptions = DEFAULT_LABEL_OPTIONS, border = Infinity): AnchorTargets {
  const n = anchors.length / 4;
  const overlaps = iouWithBox(anchors, truth);
  const labels = new Int8Array(n).fill(-1);
  const deltas = new Float32Array(n * 4);
  let best = 0;
  const inside = (i: number) => anchors[4 * i] >= -border && anchors[4 * i + 1] >= -border && anchors[4 * i + 2] <= imageWidth + border && anchors[4 * i + 3] <= imageHeight + border;
  for (let i = 0; i < n; i++) if (inside(i)) best = Math.max(best, overlaps[i]);
  for (let i = 0; i < n; i++) {
    if (!inside(i)) continue;
    const o = overlaps[i];
    if (o >= options.positiveIou || (best > 0 && o === best)) labels[i] = 1;
    else if (o < options.negativeIou) labels[i] = 0;
    if (labels[i] === 1) deltas.set(encodeBox(boxAt(anchors, i), truth), 4 * i);
  }
  return { labels, deltas };
}

/**
 * Greedy NMS: visit boxes by descending score, keep one unless it overlaps a kept box by more
 * than `threshold`. Returns indices into `boxes`, best first, at most `limit`.
 */
export function nonMaximumSuppression(boxes: ArrayLike<number>, scores: ArrayLike<number>, threshold: number, limit = Infinity): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const kept: number[] = [];
  const keptBoxes: CornerBox[] = [];
  for (const i of order) {
    if (kept.length >= limit) break;
    const b = boxAt(boxes, i);
    if (keptBoxes.some((k) => iou(k, b) > threshold)) continue;
    kept.push(i);
    keptBoxes.push(b);
  }
  return kept;
}

export interface Proposal {
  box: CornerBox;
  /** Objectness logit of the anchor it came from. */
  score: number;
}

export interface ProposalOptions {
  /** Proposals returned, best first (the paper's K). */
  topK: number;
  /** NMS IoU threshold (Faster R-CNN: 0.7). */
  nmsIou: number;
  /** Boxes shorter than this on either side (network pixels) are dropped before NMS. */
  minSize: number;
  /** Best-scoring boxes that go into NMS; the rest cannot make the top K anyway. */
  preNmsTop: number;
}

export const DEFAULT_PROPOSAL_OPTIONS: ProposalOptions = { topK: 20, nmsIou: 0.7, minSize: 16, preNmsTop: 2000 };

/**
 * Inference: decode every anchor's deltas, clip to the image, drop slivers, keep the
 * preNmsTop best, NMS, top K. `scores` and `deltas` are in generateAnchors' order.
 */
export function proposeRegions(anchors: Float32Array, scores: ArrayLike<number>, deltas: ArrayLike<number>, imageWidth: number, imageHeight: number, options: Partial<ProposalOptions> = {}): Proposal[] {
  const o = { ...DEFAULT_PROPOSAL_OPTIONS, ...options };
  const n = anchors.length / 4;
  const candidates: number[] = [];
  const boxes = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const b = clipBox(decodeBox(boxAt(anchors, i), [deltas[4 * i], deltas[4 * i + 1], deltas[4 * i + 2], deltas[4 * i + 3]]), imageWidth, imageHeight);
    boxes.set([b.x1, b.y1, b.x2, b.y2], 4 * i);
    if (b.x2 - b.x1 >= o.minSize && b.y2 - b.y1 >= o.minSize) candidates.push(i);
  }
  candidates.sort((a, b) => scores[b] - scores[a] || a - b);
  const pre = candidates.slice(0, o.preNmsTop);
  const preBoxes = new Float32Array(pre.length * 4);
  pre.forEach((i, j) => preBoxes.set(boxes.subarray(4 * i, 4 * i + 4), 4 * j));
  const preScores = pre.map((i) => scores[i]);
  return nonMaximumSuppression(preBoxes, preScores, o.nmsIou, o.topK).map((j) => ({ box: boxAt(preBoxes, j), score: preScores[j] }));
}
