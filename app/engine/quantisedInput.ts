// The input of a model rewritten to take bytes (quantisedIoGraph.ts): pixels normalised and
// quantised in one table lookup per channel, written channels-last, plain or folded 2×2 into 12
// channels for the space-to-depth stem.
import * as ort from 'onnxruntime-node';
import type { InputNormalisation } from '../convert/convertedModel.js';
import { OnnxGraphBuilder } from '../convert/onnxGraphBuilder.js';
import type { QuantisedIoGraph, TensorQuantisation } from '../convert/quantisedIoGraph.js';
import { toNormalisedNCHW } from './imageInput.js';

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
  const out = into ?? new Uint8Array(length);
  const [t0, t1, t2] = spec.tables;
  const g = channels >= 3 ? 1 : 0;
  const b = channels >= 3 ? 2 : 0;
  if (spec.layout === 'nhwc') {
    for (let p = 0, o = 0; o < length; p += channels, o += 3) {
      out[o] = t0[pixels[p]];
      out[o + 1] = t1[pixels[p + g]];
      out[o + 2] = t2[pixels[p + b]];
    }
    return out;
  }
  // Space to depth. An odd side gets one line of the zero point before the image: the original
  // stem's SAME_UPPER padding put a line there, and this keeps every block where it read. A row's
  // pixels then fall in pairs, each pair 6 consecutive bytes of one block.
  const padTop = height & 1;
  const padLeft = width & 1;
  const blockRow = 12 * dims[2];
  if (padTop) out.fill(spec.zeroPoint, 0, blockRow);
  const rowBytes = width * channels;
  for (let y = 0; y < height; y++) {
    const py = y + padTop;
    let o = (py >> 1) * blockRow + (py & 1) * 6;
    let p = y * rowBytes;
    if (padLeft) {
      out.fill(spec.zeroPoint, o, o + 3);
      out[o + 3] = t0[pixels[p]];
      out[o + 4] = t1[pixels[p + g]];
      out[o + 5] = t2[pixels[p + b]];
      o += 12;
      p += channels;
    }
    const end = (y + 1) * rowBytes;
    if (channels === 3) {
      for (; p < end; p += 6, o += 12) {
        out[o] = t0[pixels[p]];
        out[o + 1] = t1[pixels[p + 1]];
        out[o + 2] = t2[pixels[p + 2]];
        out[o + 3] = t0[pixels[p + 3]];
        out[o + 4] = t1[pixels[p + 4]];
        out[o + 5] = t2[pixels[p + 5]];
      }
    } else {
      for (; p < end; p += 2 * channels, o += 12) {
        out[o] = t0[pixels[p]];
        out[o + 1] = t1[pixels[p + g]];
        out[o + 2] = t2[pixels[p + b]];
        out[o + 3] = t0[pixels[p + channels]];
        out[o + 4] = t1[pixels[p + channels + g]];
        out[o + 5] = t2[pixels[p + channels + b]];
      }
    }
  }
  return out;
}
