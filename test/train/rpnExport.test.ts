import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';
import { RpnHead } from '../../app/train/rpnHead.js';
import { exportRpnHeadOnnx, onnxOutputsToAnchorOrder, proposeCellRegions, RPN_DELTAS_OUTPUT, RPN_FEATURE_INPUT, RPN_OBJECTNESS_OUTPUT } from '../../app/train/rpnExport.js';
import { SeededRandom } from '../../app/train/tripletMining.js';
import { generateAnchors, proposeRegions } from '../../app/engine/rpnAnchors.js';
import { poolScale } from '../../app/engine/rmacDescriptor.js';

describe('RPN head ONNX export', () => {
  beforeAll(async () => {
    await selectTrainingBackend({ prefer: 'wasm' });
  });

  for (const reduced of [0, 3]) {
    it(`computes what the TF.js head computes (reduced = ${reduced})`, async () => {
      const [C, H, W, A] = [5, 4, 6, 2];
      const head = new RpnHead({ channels: C, hidden: 7, reduced, anchors: A }, 3);
      // Non-zero biases, so a dropped bias would show.
      for (const name of ['convB', 'objB', 'regB'] as const) head.variables[name].assign(tf.randomNormal(head.variables[name].shape, 0, 0.5, 'float32', 9));
      const random = new SeededRandom(5);
      const nhwc = Float32Array.from({ length: H * W * C }, () => random.next() - 0.3);
      const nchw = new Float32Array(nhwc.length);
      for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) nchw[c * H * W + p] = nhwc[p * C + c];

      const expected = head.apply(tf.tensor4d(nhwc, [1, H, W, C]));
      const session = await ort.InferenceSession.create(await exportRpnHeadOnnx(head));
      const result = await session.run({ [RPN_FEATURE_INPUT]: new ort.Tensor('float32', nchw, [1, C, H, W]) });
      expect(result[RPN_OBJECTNESS_OUTPUT].dims).toEqual([1, A, H, W]);
      const got = onnxOutputsToAnchorOrder(result[RPN_OBJECTNESS_OUTPUT].data as Float32Array, result[RPN_DELTAS_OUTPUT].data as Float32Array, A, W, H);
      const want = { scores: await expected.objectness.data(), deltas: await expected.deltas.data() };
      expect(got.scores.length).toBe(want.scores.length);
      got.scores.forEach((v, i) => expect(v).toBeCloseTo(want.scores[i], 4));
      got.deltas.forEach((v, i) => expect(v).toBeCloseTo(want.deltas[i], 4));
      await session.release();
      head.dispose();
    });
  }

  it('gives the engine proposals in feature cells that poolScale pools in place of the grid', async () => {
    const [C, H, W] = [4, 5, 7];
    const spec = { stride: 16, sizes: [32, 64], ratios: [1] };
    const head = new RpnHead({ channels: C, hidden: 6, reduced: 0, anchors: 2 }, 4);
    const random = new SeededRandom(11);
    const nchw = Float32Array.from({ length: C * H * W }, () => random.next());
    const nhwc = new Float32Array(nchw.length);
    for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) nhwc[p * C + c] = nchw[c * H * W + p];
    const session = await ort.InferenceSession.create(await exportRpnHeadOnnx(head));
    const map = { data: nchw, channels: C, height: H, width: W };
    const cells = await proposeCellRegions(session, map, spec, { width: W * 16, height: H * 16 }, { topK: 5, minSize: 8 });
    const out = head.apply(tf.tensor4d(nhwc, [1, H, W, C]));
    const reference = proposeRegions(generateAnchors(W, H, spec), await out.objectness.data(), await out.deltas.data(), W * 16, H * 16, { topK: 5, minSize: 8 });
    expect(cells.length).toBe(reference.length);
    cells.forEach((c, i) => {
      expect(c.x * 16).toBeCloseTo(reference[i].box.x1, 3);
      expect((c.y + c.height) * 16).toBeCloseTo(reference[i].box.y2, 3);
    });
    const pooled = poolScale(map, { scale: 1, offsetX: 0, offsetY: 0, stride: 16 }, W * 16, cells);
    expect(pooled.regions).toHaveLength(cells.length);
    expect(pooled.regions[0].vector).toHaveLength(C);
    await session.release();
    head.dispose();
  });
});
