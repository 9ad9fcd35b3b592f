// The input of a model rewritten to take bytes (quantisedIoGraph.ts): pixels normalised and
// quantised in one table lookup per channel, written channels-last, plain or folded 2×2 into 12
// channels for the space-to-depth stem.
import * as ort from 'onnxruntime-node';
import type { InputNormalisation } from '../convert/convertedModel.js';
import { OnnxGraphBuilder } from '../convert/onnxGraphBuilder.js';
import type { QuantisedIoGraph, TensorQuantisation } from '../convert/quantisedIoGraph.js';
import { toNormalisedNCHW } from './imageInput.js';
import { pixelKernels } from './pixelKernels.js';

export interface QuantisedInputSpec {
  layout: QuantisedIoGraph['input']['layout'];
  zeroPoint: number;
  /** Per colour channel: pixel value → the byte the model's QuantizeLinear made of it. */
  tables: [Uint8Array, Uint8Array, Uint8Array];
}

/**
 * What the original graph's first node made of every pixel value, asked of onnxruntime itself:
 * the normalised floats are the engine's own (toNormalisedNCHW), and the rounding is
 * onnxruntime's, so the rewritten model sees exactly the bytes the original computed.
 */
export async function quantisationTables(normalisation: InputNormalisation, q: TensorQuantisation): Promise<QuantisedInputSpec['tables']> {
  const values = new Uint8Array(3 * 256);
  for (let v = 0; v < 256; v++) values.fill(v, 3 * v, 3 * v + 3);
  const floats = toNormalisedNCHW(values, 256, 1, 3, normalisation);
  const g = new OnnxGraphBuilder();
  g.reserve('x');
  const scale = g.tensor('scale', [], 'float32', new Float32Array([q.scale]));
  const zeroPoint = g.tensor('zero_point', [], 'uint8', new Uint8Array([q.zeroPoint]));
  g.expose(g.op('QuantizeLinear', ['x', scale, zeroPoint], 'q'), 'y');
  const session = await ort.InferenceSession.create(g.encode({
    graphName: 'input_quantisation',
    inputs: [{ name: 'x', shape: [floats.length] }],
    outputs: [{ name: 'y', shape: [floats.length], elemType: 'uint8' }],
  }));
  try {
    const out = (await session.run({ x: new ort.Tensor('float32', floats, [floats.length]) })).y.data as Uint8Array;
    return [out.slice(0, 256), out.slice(256, 512), out.slice(512, 768)];
  } finally {
    await session.release();
  }
}

/** The input tensor's shape for a width × height image. */
export function quantisedInputDims(width: number, height: number, layout: QuantisedInputSpec['layout']): number[] {
  return layout === 'nhwc' ? [1, height, width, 3] : [1, Math.ceil(height / 2), Math.ceil(width / 2), 12];
}

/**
 * Packed pixels (3 channels, or 1 for grey) as the model's uint8 input. `into`, if given, must
 * hold exactly the tensor's bytes.
 */
export function writeQuantisedInput(pixels: Uint8Array, width: number, height: number, channels: number, spec: QuantisedInputSpec, into?: Uint8Array): Uint8Array {
  const dims = quantisedInputDims(width, height, spec.layout);
  const length = dims.reduce((a, b) => a * b, 1);
  if (into && into.length !== length) throw new RangeError(`output holds ${into.length} bytes, not ${length}`);
  if (pixels.length !== width * height * channels) throw new RangeError(`${pixels.length} bytes for ${width}×${height}×${channels} pixels`);
  if (spec.tables.some((t) => t.length !== 256)) throw new RangeError('each quantisation table must have 256 entries');
  // The loops run in WebAssembly (pixelKernels.c): a table lookup per byte cost ~1.2 ms per
  // 512-px photo in JS.
  const k = pixelKernels();
  const [pixelsAt, tablesAt, outAt] = k.scratch([pixels.length, 768, length]);
  k.write(pixelsAt, pixels);
  spec.tables.forEach((t, c) => k.write(tablesAt + 256 * c, t));
  if (spec.layout === 'nhwc') k.run.quantise_nhwc(pixelsAt, width * height, channels, tablesAt, outAt);
  else k.run.quantise_space_to_depth(pixelsAt, width, height, channels, tablesAt, spec.zeroPoint, outAt);
  const out = into ?? new Uint8Array(length);
  out.set(k.bytes(outAt, length));
  return out;
}
