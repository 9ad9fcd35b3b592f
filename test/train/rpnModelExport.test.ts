// registerRpnModel: backbone + trained head become a model of kind rpn with its own id, the
// proposal defaults the engine compares with the grid (top 20, NMS 0.7), the base's shipped
// whitening, and a name and base that do not pile up when an RPN model is the base.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shippedWhiteningPath } from '../../app/engine/descriptorEngine.js';
import { ModelRegistry, type RegisteredModel } from '../../app/engine/modelRegistry.js';
import { fitWhiteningOnVectors, loadWhitening, saveWhitening } from '../../app/engine/whitening.js';
import { DEFAULT_ANCHOR_SPEC, DEFAULT_PROPOSAL_OPTIONS } from '../../app/engine/rpnAnchors.js';
import { registerRpnModel } from '../../app/train/rpnModelExport.js';

let tmp: string;
let registry: ModelRegistry;
let base: RegisteredModel;
const headA = Uint8Array.from([1, 1, 2, 3, 5, 8]);
const headB = Uint8Array.from([1, 1, 2, 3, 5, 9]);

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-rpn-export-'));
  registry = new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') });
  base = await registry.add(
    { onnx: Uint8Array.from([4, 2]), inputName: 'image', outputName: 'features', featureLayer: 'conv', channels: 4, stride: 16 },
    { name: 'trained', source: 'test', licence: 'MIT', normalisation: { mean: [0, 0, 0], std: [1, 1, 1] } },
  );
  const vectors = [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0], [1, 1, 0, 0], [0, 1, 1, 1]].map((v) => Float32Array.from(v));
  await saveWhitening(await fitWhiteningOnVectors(vectors, { dim: 3, fittedOn: 'five vectors' }), shippedWhiteningPath(base));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('registerRpnModel', () => {
  it('registers backbone + head as kind rpn with the default top 20 / NMS 0.7, and ships the base’s whitening', async () => {
    const model = await registerRpnModel({ registry, base, head: headA, anchors: DEFAULT_ANCHOR_SPEC });
    expect(model.meta).toMatchObject({ kind: 'rpn', name: 'trained+rpn', channels: 4, stride: 16, rpn: { anchors: DEFAULT_ANCHOR_SPEC, proposals: DEFAULT_PROPOSAL_OPTIONS, base: base.meta.id } });
    expect(model.meta.rpn!.proposals).toMatchObject({ topK: 20, nmsIou: 0.7 });
    expect(new Uint8Array(await fs.readFile(model.onnxPath))).toEqual(Uint8Array.from([4, 2]));
    expect(new Uint8Array(await fs.readFile(model.rpnHeadPath!))).toEqual(headA);
    const shipped = await loadWhitening(shippedWhiteningPath(model));
    const original = await loadWhitening(shippedWhiteningPath(base));
    expect(Array.from(shipped.projection)).toEqual(Array.from(original.projection));
  });

  it('gives the same head the same id, and another head or top K another model', async () => {
    const a = await registerRpnModel({ registry, base, head: headA, anchors: DEFAULT_ANCHOR_SPEC });
    const again = await registerRpnModel({ registry, base, head: headA, anchors: DEFAULT_ANCHOR_SPEC });
    const b = await registerRpnModel({ registry, base, head: headB, anchors: DEFAULT_ANCHOR_SPEC });
    const k50 = await registerRpnModel({ registry, base, head: headA, anchors: DEFAULT_ANCHOR_SPEC, proposals: { topK: 50 } });
    expect(again.meta.id).toBe(a.meta.id);
    expect(new Set([base.meta.id, a.meta.id, b.meta.id, k50.meta.id]).size).toBe(4);
    expect(k50.meta.rpn!.proposals).toEqual({ ...DEFAULT_PROPOSAL_OPTIONS, topK: 50 });
  });

  it('takes only the backbone of an RPN base: the name and the recorded base stay the grid model’s', async () => {
    const first = await registerRpnModel({ registry, base, head: headA, anchors: DEFAULT_ANCHOR_SPEC });
    const second = await registerRpnModel({ registry, base: first, head: headB, anchors: DEFAULT_ANCHOR_SPEC, proposals: { nmsIou: 0.5 } });
    expect(second.meta).toMatchObject({ name: 'trained+rpn', rpn: { base: base.meta.id, proposals: { nmsIou: 0.5 } } });
    expect(new Uint8Array(await fs.readFile(second.onnxPath))).toEqual(Uint8Array.from([4, 2]));
    expect(new Uint8Array(await fs.readFile(second.rpnHeadPath!))).toEqual(headB);
  });
});
