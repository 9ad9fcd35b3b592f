// The registry's record of which kind a model is: an RPN model's head, anchors and proposal
// settings round-trip through meta.json, its id covers all of them (and a grid model's id stays
// the hash of its one ONNX file), and folders written before RPN models existed still load.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConvertedModel } from '../../app/convert/convertedModel.js';
import { ModelRegistry, modelIdFor, readModelDir, rpnHeadInfoOf, RPN_HEAD_FILE, type RpnHeadInfo } from '../../app/engine/modelRegistry.js';

const backbone: ConvertedModel = { onnx: Uint8Array.from([1, 2, 3, 4, 5]), inputName: 'image', outputName: 'features', featureLayer: 'conv5', channels: 8, stride: 16 };
const info = { name: 'tiny', source: 'test', licence: 'MIT', normalisation: { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] } };
const rpn: RpnHeadInfo = {
  onnx: Uint8Array.from([9, 8, 7]),
  anchors: { stride: 16, sizes: [32, 64], ratios: [0.5, 1, 2] },
  proposals: { topK: 20, nmsIou: 0.7, minSize: 16, preNmsTop: 2000 },
  base: '0123456789abcdef',
};
const sha16 = (bytes: Uint8Array) => crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 16);

let tmp: string;
let registry: ModelRegistry;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-registry-'));
  registry = new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') });
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('model ids', () => {
  it('a grid model keeps the hash of its ONNX bytes as id; an RPN model’s id changes with the head and each setting', () => {
    expect(modelIdFor(backbone.onnx)).toBe(sha16(backbone.onnx));
    const id = modelIdFor(backbone.onnx, rpn);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(id).not.toBe(sha16(backbone.onnx));
    // Same inputs, same id (keys in another order included): registering twice is one model.
    expect(modelIdFor(backbone.onnx, { ...rpn, anchors: { ratios: [0.5, 1, 2], sizes: [32, 64], stride: 16 }, proposals: { preNmsTop: 2000, minSize: 16, nmsIou: 0.7, topK: 20 } })).toBe(id);
    const variants: RpnHeadInfo[] = [
      { ...rpn, onnx: Uint8Array.from([9, 8, 6]) },
      { ...rpn, proposals: { ...rpn.proposals, topK: 50 } },
      { ...rpn, proposals: { ...rpn.proposals, nmsIou: 0.5 } },
      { ...rpn, anchors: { ...rpn.anchors, sizes: [32, 128] } },
    ];
    const ids = variants.map((v) => modelIdFor(backbone.onnx, v));
    expect(new Set([id, ...ids]).size).toBe(5);
    // Moving bytes from the backbone to the head is another model, not the same hash.
    expect(modelIdFor(Uint8Array.from([1, 2, 3, 4]), { ...rpn, onnx: Uint8Array.from([5, 9, 8, 7]) })).not.toBe(id);
    // Which model the head was trained on is a record, not part of what computes descriptors.
    expect(modelIdFor(backbone.onnx, { ...rpn, base: 'fedcba9876543210' })).toBe(id);
  });
});

describe('ModelRegistry with RPN models', () => {
  it('writes the head beside the backbone and reads back the same metadata, kind rpn', async () => {
    const grid = await registry.add(backbone, info);
    expect(grid.meta).toMatchObject({ id: sha16(backbone.onnx), kind: 'grid' });
    expect(grid.meta.rpn).toBeUndefined();
    expect(grid.rpnHeadPath).toBeUndefined();

    const model = await registry.add(backbone, { ...info, name: 'tiny+rpn', rpn });
    expect(model.meta.id).toBe(modelIdFor(backbone.onnx, rpn));
    expect(model.meta.kind).toBe('rpn');
    expect(model.meta.rpn).toEqual({ head: RPN_HEAD_FILE, anchors: rpn.anchors, proposals: rpn.proposals, base: rpn.base });
    expect(model.rpnHeadPath).toBe(path.join(model.dir, RPN_HEAD_FILE));
    expect(new Uint8Array(await fs.readFile(model.rpnHeadPath!))).toEqual(rpn.onnx);
    expect(new Uint8Array(await fs.readFile(model.onnxPath))).toEqual(backbone.onnx);

    const again = await readModelDir(model.dir);
    expect(again).toEqual(model);
    expect((await registry.list()).map((m) => [m.meta.id, m.meta.kind]).sort()).toEqual([[grid.meta.id, 'grid'], [model.meta.id, 'rpn']].sort());
    expect((await registry.get('tiny+rpn')).rpnHeadPath).toBe(model.rpnHeadPath);
    // What ModelRegistry.add takes back out of it, e.g. to quantise the backbone and keep the head.
    expect(await rpnHeadInfoOf(model)).toEqual(rpn);
    expect(await rpnHeadInfoOf(grid)).toBeUndefined();
  });

  it('loads a model folder written before RPN models existed (no rpn field)', async () => {
    const dir = path.join(tmp, 'user', 'legacy');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'model.onnx'), backbone.onnx);
    const legacy = { id: 'aaaaaaaaaaaaaaaa', name: 'legacy', kind: 'grid', source: 's', licence: 'l', inputName: 'image', outputName: 'features', featureLayer: 'conv5', channels: 8, stride: 16, normalisation: info.normalisation, createdAt: '2026-01-01T00:00:00.000Z' };
    await fs.writeFile(path.join(dir, 'meta.json'), JSON.stringify(legacy));
    const model = await readModelDir(dir);
    expect(model.meta).toEqual(legacy);
    expect(model.rpnHeadPath).toBeUndefined();
  });

  it('refuses rpn metadata that does not add up: no head, a head on a grid model, bad anchors, a missing head file', async () => {
    const model = await registry.add(backbone, { ...info, rpn });
    const meta = JSON.parse(await fs.readFile(path.join(model.dir, 'meta.json'), 'utf8')) as Record<string, unknown> & { rpn: Record<string, unknown> };
    const bad = [
      { ...meta, rpn: undefined },
      { ...meta, kind: 'grid' },
      { ...meta, rpn: { ...meta.rpn, anchors: { stride: 16, sizes: [], ratios: [1] } } },
      { ...meta, rpn: { ...meta.rpn, proposals: { ...rpn.proposals, nmsIou: 1.5 } } },
      { ...meta, rpn: { ...meta.rpn, head: '../elsewhere.onnx' } },
    ];
    for (const m of bad) {
      await fs.writeFile(path.join(model.dir, 'meta.json'), JSON.stringify(m));
      await expect(readModelDir(model.dir), JSON.stringify(m)).rejects.toThrow();
    }
    await fs.writeFile(path.join(model.dir, 'meta.json'), JSON.stringify(meta));
    await fs.rm(model.rpnHeadPath!);
    await expect(readModelDir(model.dir)).rejects.toThrow(/ENOENT/);
    expect(await registry.list()).toEqual([]);
  });

  it('refuses a head whose anchors assume another stride than the backbone’s', async () => {
    await expect(registry.add(backbone, { ...info, rpn: { ...rpn, anchors: { ...rpn.anchors, stride: 32 } } })).rejects.toThrow(/stride 32.*stride 16/);
  });
});
