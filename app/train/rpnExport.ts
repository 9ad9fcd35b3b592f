// The trained RPN head as a standalone ONNX graph (OnnxGraphBuilder), so inference can run in
// onnxruntime next to the backbone instead of in TF.js: input the backbone's feature map
// [1, C, H, W], outputs objectness [1, A, H, W] and deltas [1, 4A, H, W]. proposeCellRegions turns
// one feature map into the CellRegion list poolScale pools in place of the grid. Not yet wired
// into a registered model of kind 'rpn': the engine's worker would have to run this session
// after the backbone and the registry record the anchors.
import * as ort from 'onnxruntime-node';
import { attr, OnnxGraphBuilder } from '../convert/onnxGraphBuilder.js';
import type { FeatureMap } from '../engine/regionPooling.js';
import type { CellRegion } from '../engine/rmacRegions.js';
import { anchorsPerCell, generateAnchors, proposeRegions, type AnchorSpec, type ProposalOptions } from './rpnAnchors.js';
import type { RpnHead } from './rpnHead.js';

export const RPN_FEATURE_INPUT = 'features';
export const RPN_OBJECTNESS_OUTPUT = 'rpn_objectness';
export const RPN_DELTAS_OUTPUT = 'rpn_deltas';

/** TF.js HWIO filter → ONNX OIHW. */
function toOihw(values: Float32Array, [h, w, i, o]: number[]): Float32Array {
  const out = new Float32Array(values.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < i; c++) for (let k = 0; k < o; k++) {
    out[((k * i + c) * h + y) * w + x] = values[((y * w + x) * i + c) * o + k];
  }
  return out;
}

export async function exportRpnHeadOnnx(head: RpnHead): Promise<Uint8Array> {
  const b = new OnnxGraphBuilder();
  const v = head.variables;
  const weight = async (name: keyof RpnHead['variables']) => ({ values: (await v[name].data()) as Float32Array, shape: v[name].shape });
  const conv = async (input: string, w: keyof RpnHead['variables'], bias: keyof RpnHead['variables'] | undefined, base: string) => {
    const filter = await weight(w);
    const [kh, kw, channels, out] = filter.shape as [number, number, number, number];
    const inputs = [input, b.floatTensor(`${base}/W`, [out, channels, kh, kw], toOihw(filter.values, filter.shape))];
    if (bias) inputs.push(b.floatTensor(`${base}/B`, [out], (await weight(bias)).values));
    // 'same' padding for the 3×3 conv, as tf.conv2d(…, 'same') computes it at stride 1.
    const pad = (kh - 1) / 2;
    return b.op('Conv', inputs, base, { kernel_shape: attr.ints([kh, kw]), pads: attr.ints([pad, pad, pad, pad]), strides: attr.ints([1, 1]) });
  };
  let x = b.reserve(RPN_FEATURE_INPUT);
  if (head.shape.reduced > 0) x = await conv(x, 'reduceW', undefined, 'rpn/reduce');
  const hidden = b.op('Relu', [await conv(x, 'convW', 'convB', 'rpn/conv3x3')], 'rpn/relu');
  b.expose(await conv(hidden, 'objW', 'objB', 'rpn/objectness'), RPN_OBJECTNESS_OUTPUT);
  b.expose(await conv(hidden, 'regW', 'regB', 'rpn/deltas'), RPN_DELTAS_OUTPUT);
  const A = head.shape.anchors;
  return b.encode({
    graphName: 'sightline-rpn-head',
    inputs: [{ name: RPN_FEATURE_INPUT, shape: [1, head.shape.channels, 'height', 'width'] }],
    outputs: [{ name: RPN_OBJECTNESS_OUTPUT, shape: [1, A, 'height', 'width'] }, { name: RPN_DELTAS_OUTPUT, shape: [1, 4 * A, 'height', 'width'] }],
    docString: 'Sightline RPN head (DESIGN.md §1.4): objectness logits and Faster R-CNN box deltas per anchor',
  });
}

/**
 * ONNX's NCHW outputs in generateAnchors' order: objectness [cells·A], deltas [cells·A·4]
 * (channel 4a + j of the deltas is delta j of anchor a, as the NHWC reshape in rpnHead reads it).
 */
export function onnxOutputsToAnchorOrder(objectness: Float32Array, deltas: Float32Array, anchors: number, width: number, height: number): { scores: Float32Array; deltas: Float32Array } {
  const plane = width * height;
  const scores = new Float32Array(plane * anchors);
  const ordered = new Float32Array(plane * anchors * 4);
  for (let p = 0; p < plane; p++) {
    for (let a = 0; a < anchors; a++) scores[p * anchors + a] = objectness[a * plane + p];
    for (let c = 0; c < 4 * anchors; c++) ordered[p * 4 * anchors + c] = deltas[c * plane + p];
  }
  return { scores, deltas: ordered };
}

/**
 * The engine-side half: the exported head run on one NCHW feature map (as describeRaw gets it
 * from the backbone), proposals decoded, NMS'd and returned in feature cells, the unit poolScale
 * takes for explicit regions. `inputWidth/Height` is the network input size in pixels.
 */
export async function proposeCellRegions(session: ort.InferenceSession, map: FeatureMap, spec: AnchorSpec, input: { width: number; height: number }, options: Partial<ProposalOptions> = {}): Promise<CellRegion[]> {
  const result = await session.run({ [RPN_FEATURE_INPUT]: new ort.Tensor('float32', map.data, [1, map.channels, map.height, map.width]) });
  const A = anchorsPerCell(spec);
  const ordered = onnxOutputsToAnchorOrder(result[RPN_OBJECTNESS_OUTPUT].data as Float32Array, result[RPN_DELTAS_OUTPUT].data as Float32Array, A, map.width, map.height);
  const proposals = proposeRegions(generateAnchors(map.width, map.height, spec), ordered.scores, ordered.deltas, input.width, input.height, options);
  return proposals.map(({ box }) => ({ x: box.x1 / spec.stride, y: box.y1 / spec.stride, width: (box.x2 - box.x1) / spec.stride, height: (box.y2 - box.y1) / spec.stride }));
}
