// The rewrite of an int8 QDQ model to take and give bytes: on small quantised networks, the
// rewritten model fed writeQuantisedInput's bytes gives exactly the bytes the original's output
// quantiser made, for even and odd image sizes, with and without the space-to-depth stem.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { InputNormalisation } from '../../app/convert/convertedModel.js';
import { OnnxGraphBuilder, attr } from '../../app/convert/onnxGraphBuilder.js';
import { quantisedIoGraph } from '../../app/convert/quantisedIoGraph.js';
import { RangeCollector, quantizeQdq, quantizedActivations, withCalibrationOutputs } from '../../app/convert/quantizeOnnx.js';
import { toNormalisedNCHW } from '../../app/engine/imageInput.js';
import { quantisationTables, quantisedInputDims, writeQuantisedInput } from '../../app/engine/quantisedInput.js';
import { rng } from '../support/random.js';

const random = (n: number, seed: number, amplitude: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() - 0.5) * 2 * amplitude);
};
const NORMALISATION: InputNormalisation = { mean: [127.5, 120, 110], std: [127.5, 60, 70] };

/** image → stem Conv 3×3 /2 + ReLU6 → depthwise 3×3 + ReLU6 → Conv 1×1 + ReLU6 → features. */
function tinyNetwork(stemPadding: 'same-upper' | 'explicit'): Uint8Array {
  const b = new OnnxGraphBuilder();
  const image = b.reserve('image');
  const zero = b.floatTensor('zero', [], new Float32Array([0]));
  const six = b.floatTensor('six', [], new Float32Array([6]));
  const conv = (x: string, name: string, cin: number, cout: number, k: number, seed: number, extra: Record<string, ReturnType<typeof attr.int>>, group = 1) => b.op('Clip', [b.op('Conv', [
    x,
    b.floatTensor(`${name}/w`, [cout, cin / group, k, k], random(cout * (cin / group) * k * k, seed, 0.6)),
    b.floatTensor(`${name}/b`, [cout], random(cout, seed + 1, 0.3)),
  ], name, { kernel_shape: attr.ints([k, k]), group: attr.int(group), ...extra }), zero, six], `${name}/relu6`);
  const stem = conv(image, 'stem', 3, 8, 3, 1, stemPadding === 'same-upper'
    ? { strides: attr.ints([2, 2]), auto_pad: attr.string('SAME_UPPER') }
    : { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) });
  const dw = conv(stem, 'dw', 8, 8, 3, 3, { pads: attr.ints([1, 1, 1, 1]) }, 8);
  b.expose(conv(dw, 'head', 8, 12, 1, 5, {}), 'features');
  return b.encode({ graphName: 'tiny', inputs: [{ name: 'image', shape: [1, 3, 'h', 'w'] }], outputs: [{ name: 'features', shape: [1, 12, 'fh', 'fw'] }] });
}

function pixelsOf(width: number, height: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: width * height * 3 }, () => Math.floor(r() * 256));
}

async function quantised(onnx: Uint8Array): Promise<Uint8Array> {
  const tensors = quantizedActivations(onnx);
  const session = await ort.InferenceSession.create(withCalibrationOutputs(onnx, tensors));
  const collector = new RangeCollector();
  for (const seed of [1, 2, 3]) {
    const x = toNormalisedNCHW(pixelsOf(32, 24, seed), 32, 24, 3, NORMALISATION);
    const out = await session.run({ image: new ort.Tensor('float32', x, [1, 3, 24, 32]) }, tensors);
    for (const t of tensors) collector.add(t, out[t].data as Float32Array);
  }
  await session.release();
  return quantizeQdq(onnx, collector.toJSON(), { weightBits: 7 });
}

/** The original int8 model's output, as the bytes its last QuantizeLinear made (dequantised floats, requantised exactly). */
async function compare(int8: Uint8Array, sizes: Array<[number, number]>) {
  const rewritten = quantisedIoGraph(int8)!;
  const [original, bytes] = await Promise.all([ort.InferenceSession.create(int8), ort.InferenceSession.create(rewritten.onnx)]);
  const tables = await quantisationTables(NORMALISATION, rewritten.input);
  for (const [width, height] of sizes) {
    const pixels = pixelsOf(width, height, width * 31 + height);
    const x = toNormalisedNCHW(pixels, width, height, 3, NORMALISATION);
    const floats = (await original.run({ image: new ort.Tensor('float32', x, [1, 3, height, width]) })).features;
    const spec = { layout: rewritten.input.layout, zeroPoint: rewritten.input.zeroPoint, tables };
    const out = (await bytes.run({ image: new ort.Tensor('uint8', writeQuantisedInput(pixels, width, height, 3, spec), quantisedInputDims(width, height, spec.layout)) })).features;
    const [, channels, fh, fw] = floats.dims as number[];
    expect(out.type).toBe('uint8');
    expect(out.dims).toEqual([1, fh, fw, channels]);
    const f = floats.data as Float32Array;
    const q = out.data as Uint8Array;
    let differing = 0;
    let nonZero = 0;
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < fh * fw; i++) {
        const dequantised = Math.fround((q[i * channels + c] - rewritten.output.zeroPoint) * rewritten.output.scale);
        if (dequantised !== f[c * fh * fw + i]) differing++;
        if (q[i * channels + c] !== rewritten.output.zeroPoint) nonZero++;
      }
    }
    expect(differing).toBe(0);
    // A map of zeros would pass the comparison above without testing anything.
    expect(nonZero).toBeGreaterThan(f.length / 4);
  }
  await Promise.all([original.release(), bytes.release()]);
  return rewritten;
}

describe('quantisedIoGraph', () => {
  it('folds a SAME_UPPER 3×3 stride-2 stem into a 2×2 convolution over space-to-depth bytes, with the same output bytes at even and odd sizes', async () => {
    const rewritten = await compare(await quantised(tinyNetwork('same-upper')), [[32, 24], [31, 24], [32, 23], [29, 17], [2, 2]]);
    expect(rewritten.input.layout).toBe('space-to-depth');
    expect(rewritten.input.name).toBe('image');
    expect(rewritten.output.name).toBe('features');
  });

  it('keeps another stem and takes plain channels-last bytes, with the same output bytes', async () => {
    const rewritten = await compare(await quantised(tinyNetwork('explicit')), [[32, 24], [27, 19]]);
    expect(rewritten.input.layout).toBe('nhwc');
  });

  it('leaves a float model, and an int8 model with a float output, alone', async () => {
    const onnx = tinyNetwork('same-upper');
    expect(quantisedIoGraph(onnx)).toBeUndefined();
    const tensors = quantizedActivations(onnx, { quantizeOutput: false });
    const ranges = Object.fromEntries(tensors.map((t) => [t, { min: -1, max: 6 }]));
    expect(quantisedIoGraph(quantizeQdq(onnx, ranges, { quantizeOutput: false }))).toBeUndefined();
  });
});
