import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder, attr } from '../../app/convert/onnxGraphBuilder.js';

describe('OnnxGraphBuilder', () => {
  it('encodes a model that onnxruntime runs with the expected values', async () => {
    const b = new OnnxGraphBuilder();
    const x = b.reserve('x');
    const w = b.floatTensor('w', [1, 1, 1, 1], new Float32Array([2]));
    const conv = b.op('Conv', [x, w], 'conv', { kernel_shape: attr.ints([1, 1]) });
    const y = b.op('Clip', [conv, b.floatTensor('lo', [], new Float32Array([0])), b.floatTensor('hi', [], new Float32Array([6]))], 'relu6');
    b.expose(y, 'y');
    const bytes = b.encode({ graphName: 't', inputs: [{ name: 'x', shape: [1, 1, 'h', 'w'] }], outputs: [{ name: 'y', shape: [1, 1, 'h', 'w'] }] });
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([-1, 1, 2, 5]), [1, 1, 2, 2]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([0, 2, 4, 6]);
  });

  it('refuses an initializer whose data does not fit its shape', () => {
    expect(() => new OnnxGraphBuilder().floatTensor('w', [2, 2], new Float32Array(3))).toThrow(/3 values for shape \[2, 2\]/);
  });
});
