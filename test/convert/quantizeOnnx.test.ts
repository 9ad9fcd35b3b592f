// The QDQ quantiser on a small MobileNetV2-shaped network built with our own ONNX builder:
// which tensors it quantises, that onnxruntime fuses the result into integer kernels, that the
// int8 network stays close to the float one, and the arithmetic of its scales and zero points.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxGraphBuilder, attr, decodeModel } from '../../app/convert/onnxGraphBuilder.js';
import {
  RangeCollector,
  quantizeQdq,
  quantizeWeightsPerChannel,
  quantizedActivations,
  uint8Quantisation,
  withCalibrationOutputs,
} from '../../app/convert/quantizeOnnx.js';

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const random = (n: number, seed: number, amplitude: number) => {
  const r = lcg(seed);
  return Float32Array.from({ length: n }, () => (r() - 0.5) * 2 * amplitude);
};

/**
 * image → Conv 3×3 /2 + ReLU6 → depthwise 3×3 + ReLU6 → Conv 1×1 (project) → Add(with a 1×1
 * shortcut of the first activation) → Conv 1×1 + ReLU6 → Identity → features. The names the
 * quantiser should pick are returned alongside.
 */
function tinyNetwork(): { onnx: Uint8Array; names: Record<string, string> } {
  const b = new OnnxGraphBuilder();
  const image = b.reserve('image');
  const zero = b.floatTensor('zero', [], new Float32Array([0]));
  const six = b.floatTensor('six', [], new Float32Array([6]));
  const conv = (x: string, name: string, cin: number, cout: number, k: number, seed: number, extra: Record<string, ReturnType<typeof attr.int>> = {}, group = 1) => b.op('Conv', [
    x,
    b.floatTensor(`${name}/w`, [cout, cin / group, k, k], random(cout * (cin / group) * k * k, seed, 0.5)),
    b.floatTensor(`${name}/b`, [cout], random(cout, seed + 1, 0.2)),
  ], name, { kernel_shape: attr.ints([k, k]), pads: attr.ints(k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0]), group: attr.int(group), ...extra });
  const relu6 = (x: string, name: string) => b.op('Clip', [x, zero, six], name);
  const stem = relu6(conv(image, 'stem', 3, 8, 3, 1, { strides: attr.ints([2, 2]) }), 'stem/relu6');
  const dw = relu6(conv(stem, 'dw', 8, 8, 3, 3, {}, 8), 'dw/relu6');
  const project = conv(dw, 'project', 8, 8, 1, 5);
  const shortcut = conv(stem, 'shortcut', 8, 8, 1, 7);
  const sum = b.op('Add', [project, shortcut], 'add');
  const head = relu6(conv(sum, 'head', 8, 16, 1, 9), 'head/relu6');
  b.expose(head, 'features');
  const onnx = b.encode({ graphName: 'tiny', inputs: [{ name: 'image', shape: [1, 3, 'h', 'w'] }], outputs: [{ name: 'features', shape: [1, 16, 'fh', 'fw'] }] });
  return { onnx, names: { image, stem, dw, project, shortcut, sum, head } };
}

let tmp: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-quantize-'));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const inputOf = (seed: number, h = 24, w = 32) => new ort.Tensor('float32', random(3 * h * w, seed, 1), [1, 3, h, w]);

async function calibrate(onnx: Uint8Array, seeds: number[]) {
  const tensors = quantizedActivations(onnx);
  const session = await ort.InferenceSession.create(withCalibrationOutputs(onnx, tensors));
  const collector = new RangeCollector();
  for (const seed of seeds) {
    const out = await session.run({ image: inputOf(seed) }, tensors);
    for (const t of tensors) collector.add(t, out[t].data as Float32Array);
  }
  await session.release();
  return collector.toJSON();
}

describe('quantizedActivations', () => {
  it('picks every Conv input, each Conv output after its ReLU6, and Add outputs whose inputs are quantised', () => {
    const { onnx, names } = tinyNetwork();
    expect(new Set(quantizedActivations(onnx))).toEqual(new Set([names.image, names.stem, names.dw, names.project, names.shortcut, names.sum, names.head]));
    // Leaving the output float keeps the last ReLU6 out (the graph output is an Identity of it).
    expect(quantizedActivations(onnx, { quantizeOutput: false })).not.toContain(names.head);
  });
});

describe('quantizeQdq', () => {
  it('gives a network that onnxruntime runs on integer kernels (QLinearConv, QLinearAdd), no float Conv left', async () => {
    const { onnx } = tinyNetwork();
    const int8 = quantizeQdq(onnx, await calibrate(onnx, [11, 12, 13]));
    const optimized = path.join(tmp, 'optimized.onnx');
    const session = await ort.InferenceSession.create(int8, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized });
    await session.release();
    const ops = decodeModel(new Uint8Array(await fs.readFile(optimized))).graph.node.map((n) => n.opType);
    expect(ops.filter((op) => op === 'QLinearConv')).toHaveLength(5);
    expect(ops.filter((op) => op === 'QLinearAdd')).toHaveLength(1);
    expect(ops.some((op) => op === 'Conv' || op === 'FusedConv' || op === 'Clip')).toBe(false);
  });

  it('stays within a few quantisation steps of the float network on inputs it was not calibrated on', async () => {
    const { onnx } = tinyNetwork();
    const ranges = await calibrate(onnx, [21, 22, 23, 24]);
    const [float, int8] = await Promise.all([ort.InferenceSession.create(onnx), ort.InferenceSession.create(quantizeQdq(onnx, ranges))]);
    const outputStep = uint8Quantisation(ranges[quantizedActivations(onnx).at(-1)!]).scale;
    for (const seed of [31, 32]) {
      const x = inputOf(seed);
      const a = (await float.run({ image: x })).features;
      const q = (await int8.run({ image: x })).features;
      expect(q.dims).toEqual(a.dims);
      const fa = a.data as Float32Array;
      const fq = q.data as Float32Array;
      let worst = 0;
      let sumSq = 0;
      let errSq = 0;
      for (let i = 0; i < fa.length; i++) {
        worst = Math.max(worst, Math.abs(fa[i] - fq[i]));
        sumSq += fa[i] * fa[i];
        errSq += (fa[i] - fq[i]) ** 2;
      }
      // Measured: the worst cell 4–8 output steps off, 2–2.5 % RMS error over the map (random
      // weights quantise worse than trained ones). A wrong bias or weight scale is off by far more.
      expect(worst).toBeLessThan(16 * outputStep);
      expect(Math.sqrt(errSq / sumSq)).toBeLessThan(0.05);
    }
    await Promise.all([float.release(), int8.release()]);
  });

  it('keeps the float output with quantizeOutput: false, and refuses ranges that miss a tensor', async () => {
    const { onnx, names } = tinyNetwork();
    const ranges = await calibrate(onnx, [41]);
    const session = await ort.InferenceSession.create(quantizeQdq(onnx, ranges, { quantizeOutput: false }));
    const out = (await session.run({ image: inputOf(42) })).features;
    expect(out.type).toBe('float32');
    await session.release();
    const { [names.dw]: _dropped, ...incomplete } = ranges;
    expect(() => quantizeQdq(onnx, incomplete)).toThrow(/no calibration range for 1 tensor/);
  });

  it('dequantises a graph output that is itself a quantised activation (no Identity in front)', async () => {
    const b = new OnnxGraphBuilder();
    const image = b.reserve('image');
    const conv = b.op('Conv', [image, b.floatTensor('w', [4, 3, 1, 1], random(12, 71, 0.5))], 'conv', { kernel_shape: attr.ints([1, 1]) });
    const out = b.op('Clip', [conv, b.floatTensor('zero', [], new Float32Array([0])), b.floatTensor('six', [], new Float32Array([6]))], 'relu6');
    const onnx = b.encode({ graphName: 'bare', inputs: [{ name: 'image', shape: [1, 3, 'h', 'w'] }], outputs: [{ name: out, shape: [1, 4, 'h', 'w'] }] });
    expect(quantizedActivations(onnx)).toEqual([image, out]);
    const ranges = await calibrate(onnx, [72, 73]);
    const [float, int8] = await Promise.all([ort.InferenceSession.create(onnx), ort.InferenceSession.create(quantizeQdq(onnx, ranges))]);
    const x = inputOf(74);
    const a = (await float.run({ image: x }))[out].data as Float32Array;
    const q = (await int8.run({ image: x }))[out];
    expect(q.type).toBe('float32');
    const step = uint8Quantisation(ranges[out]).scale;
    (q.data as Float32Array).forEach((v, i) => expect(Math.abs(v - a[i])).toBeLessThan(4 * step));
    await Promise.all([float.release(), int8.release()]);
  });

  it('drops the float weights it replaced and keeps their int8 forms', async () => {
    const { onnx } = tinyNetwork();
    const int8 = quantizeQdq(onnx, await calibrate(onnx, [51]));
    const model = decodeModel(int8);
    const names = new Set(model.graph.initializer.map((t) => t.name));
    for (const layer of ['stem', 'dw', 'project', 'shortcut', 'head']) {
      expect(names.has(`${layer}/w`)).toBe(false);
      expect(names.has(`${layer}/w/int8`)).toBe(true);
    }
  });
});

describe('scales and zero points', () => {
  it('uint8: the range is widened to hold 0, which is represented exactly; ReLU6 gets zero point 0', () => {
    expect(uint8Quantisation({ min: 0, max: 6 })).toEqual({ scale: Math.fround(6 / 255), zeroPoint: 0 });
    const { scale, zeroPoint } = uint8Quantisation({ min: -2, max: 6 });
    expect(scale).toBe(Math.fround(8 / 255));
    expect(zeroPoint).toBe(Math.round(2 / scale));
    expect(uint8Quantisation({ min: 1, max: 3 }).zeroPoint).toBe(0);
    expect(uint8Quantisation({ min: -3, max: -1 }).zeroPoint).toBe(255);
    expect(uint8Quantisation({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('weights: symmetric per output channel, within half a step, in ±127 (8-bit) or ±63 (7-bit)', () => {
    const w = random(4 * 18, 61, 1);
    w.fill(0, 18, 36); // an all-zero channel
    w[40] = 5; // one channel with an outlier gets its own, coarser scale
    for (const bits of [8, 7] as const) {
      const qmax = bits === 8 ? 127 : 63;
      const { values, scales } = quantizeWeightsPerChannel(w, 4, bits);
      expect(scales[1]).toBe(1);
      expect(scales[2]).toBeCloseTo(5 / qmax, 6);
      for (let i = 0; i < w.length; i++) {
        const s = scales[Math.floor(i / 18)];
        expect(Math.abs(values[i])).toBeLessThanOrEqual(qmax);
        expect(Math.abs(values[i] * s - w[i])).toBeLessThanOrEqual(s / 2 + 1e-7);
      }
    }
  });
});
