// The trained RPN head as a standalone ONNX graph (OnnxGraphBuilder), so inference runs in
// onnxruntime next to the backbone instead of in TF.js: input the backbone's feature map
// [1, C, H, W], outputs objectness [1, A, H, W] and deltas [1, 4A, H, W]. The inference half
// (running it, turning its output into pooled regions) lives with the engine, in
// app/engine/regionProposals.ts; app/train/rpnModelExport.ts registers backbone + head as a model.
import { attr, OnnxGraphBuilder } from '../convert/onnxGraphBuilder.js';
import { RPN_DELTAS_OUTPUT, RPN_FEATURE_INPUT, RPN_OBJECTNESS_OUTPUT } from '../engine/regionProposals.js';
import type { RpnHead } from './rpnHead.js';

export { onnxOutputsToAnchorOrder, proposeCellRegions, RPN_DELTAS_OUTPUT, RPN_FEATURE_INPUT, RPN_OBJECTNESS_OUTPUT } from '../engine/regionProposals.js';

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
