// The gradient kernels registered for wasm are checked against TF.js's own CPU-backend kernels
// (the reference implementation) on the shapes and padding modes the backbones use. Dilated
// convolutions are left out: TF.js's gradient functions refuse dilation > 1 before any kernel runs.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';
import { unsortedSegmentSum } from '../../app/train/wasmGradientKernels.js';
import { rng } from '../support/random.js';

function randomValues(shape: number[], seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * r() - 1);
}

async function runOn(backend: string, kernel: string, inputs: Record<string, { shape: number[]; values: Float32Array | Int32Array; dtype?: tf.DataType }>, attrs: Record<string, unknown>): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const tensors = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape, v.dtype ?? 'float32')]));
  const out = tf.engine().runKernel(kernel, tensors, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const values = Float32Array.from(await out.data());
  tf.dispose([out, ...Object.values(tensors)]);
  return { values, shape: out.shape };
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

const CASES: Array<{ kernel: string; inputs: Record<string, number[]>; attrs: Record<string, unknown> }> = [
  { kernel: 'Conv2DBackpropFilter', inputs: { x: [1, 9, 7, 12], dy: [1, 9, 7, 10] }, attrs: { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [1, 1, 12, 10] } },
  { kernel: 'Conv2DBackpropFilter', inputs: { x: [1, 11, 8, 4], dy: [1, 6, 4, 6] }, attrs: { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 6] } },
  { kernel: 'Conv2DBackpropFilter', inputs: { x: [1, 12, 9, 3], dy: [1, 5, 4, 5] }, attrs: { strides: [2, 2], pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 3, 5] } },
  { kernel: 'Conv2DBackpropFilter', inputs: { x: [1, 10, 9, 3], dy: [1, 10, 9, 4] }, attrs: { strides: [1, 1], pad: [[0, 0], [1, 1], [1, 1], [0, 0]], dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] } },
  { kernel: 'DepthwiseConv2dNativeBackpropFilter', inputs: { x: [1, 9, 7, 6], dy: [1, 9, 7, 6] }, attrs: { strides: [1, 1], pad: 'same', dilations: [1, 1], filterShape: [3, 3, 6, 1] } },
  { kernel: 'DepthwiseConv2dNativeBackpropFilter', inputs: { x: [1, 11, 8, 5], dy: [1, 6, 4, 10] }, attrs: { strides: [2, 2], pad: 'same', dilations: [1, 1], filterShape: [3, 3, 5, 2] } },
  { kernel: 'DepthwiseConv2dNativeBackpropInput', inputs: { dy: [1, 6, 4, 10], filter: [3, 3, 5, 2] }, attrs: { strides: [2, 2], pad: 'same', dilations: [1, 1], inputShape: [1, 11, 8, 5] } },
  { kernel: 'DepthwiseConv2dNativeBackpropInput', inputs: { dy: [1, 9, 7, 6], filter: [3, 3, 6, 1] }, attrs: { strides: [1, 1], pad: 'same', dilations: [1, 1], inputShape: [1, 9, 7, 6] } },
  { kernel: 'DepthwiseConv2dNativeBackpropInput', inputs: { dy: [1, 9, 7, 4], filter: [3, 3, 4, 1] }, attrs: { strides: [1, 1], pad: 'valid', dilations: [1, 1], inputShape: [1, 11, 9, 4] } },
];

describe('gradient kernels registered for the wasm backend', () => {
  beforeAll(async () => {
    const backend = await selectTrainingBackend({ prefer: 'wasm' });
    expect(backend.name).toBe('wasm');
  });

  it.each(CASES.map((c, i) => [`${c.kernel} ${JSON.stringify(c.inputs)} ${JSON.stringify(c.attrs.pad)}`, c, i] as const))('%s equals the CPU backend', async (_name, c, i) => {
    const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, shape], j) => [k, { shape, values: randomValues(shape, 100 * i + j) }]));
    const ours = await runOn('wasm', c.kernel, inputs, c.attrs);
    const reference = await runOn('cpu', c.kernel, inputs, c.attrs);
    expect(ours.shape).toEqual(reference.shape);
    expect(relativeError(ours.values, reference.values)).toBeLessThan(1e-5);
    await tf.setBackend('wasm');
  });

  it('UnsortedSegmentSum (the gradient of gather) adds rows into their segments and drops out-of-range ones', async () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(unsortedSegmentSum(x, [4, 2], [2, 0, 2, 5], 3))).toEqual([3, 4, 0, 0, 6, 8]);
    const inputs = { x: { shape: [5, 3], values: randomValues([5, 3], 7) }, segmentIds: { shape: [5], values: Int32Array.from([1, 0, 1, 3, 0]), dtype: 'int32' as const } };
    const ours = await runOn('wasm', 'UnsortedSegmentSum', inputs, { numSegments: 4 });
    const reference = await runOn('cpu', 'UnsortedSegmentSum', inputs, { numSegments: 4 });
    expect(ours.shape).toEqual([4, 3]);
    expect(relativeError(ours.values, reference.values)).toBeLessThan(1e-6);
    await tf.setBackend('wasm');
  });

  it('lets tf.variableGrads differentiate a depthwise + strided conv stack on wasm, as on the CPU', async () => {
    const x = tf.tensor4d(randomValues([1, 13, 11, 4], 1), [1, 13, 11, 4]);
    const dwInit = randomValues([3, 3, 4, 1], 2).map((v) => 0.3 * v);
    const wInit = randomValues([3, 3, 4, 6], 3).map((v) => 0.2 * v);
    const gradsOn = async (backend: string) => {
      await tf.setBackend(backend);
      const dw = tf.variable(tf.tensor4d(dwInit, [3, 3, 4, 1]));
      const w = tf.variable(tf.tensor4d(wInit, [3, 3, 4, 6]));
      const input = tf.tensor4d(await x.data(), x.shape);
      const { grads } = tf.variableGrads(() => tf.conv2d(tf.depthwiseConv2d(input, dw, 1, 'same'), w, 2, 'same').relu6().max([0, 1, 2]).sum() as tf.Scalar, [dw, w]);
      const out = [Float32Array.from(await grads[dw.name].data()), Float32Array.from(await grads[w.name].data())];
      tf.dispose([dw, w, input, ...Object.values(grads)]);
      return out;
    };
    const [wasmDw, wasmW] = await gradsOn('wasm');
    const [cpuDw, cpuW] = await gradsOn('cpu');
    expect(relativeError(wasmDw, cpuDw)).toBeLessThan(1e-4);
    expect(relativeError(wasmW, cpuW)).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(cpuW, Math.abs))).toBeGreaterThan(0);
    await tf.setBackend('wasm');
  });
});
