// The core with an RPN model in use, called as the UI calls it: the status says which regions the
// descriptors pool, the region overlay is the proposals the engine actually pooled (with their
// objectness and the "RPN proposals (top K)" label), the match heatmap still splits a score
// exactly over them, and a photo where the head proposes nothing is shown as the grid it fell back to.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchApiCall } from '../../app/api/apiDispatcher.js';
import type { ApiInput, ApiMethod, ApiOutput } from '../../app/api/contract.js';
import { RPN_FALLBACK_OVERLAY_LABEL, rpnOverlayLabel, SightlineService } from '../../app/api/sightlineService.js';
import { DescriptorEngine } from '../../app/engine/descriptorEngine.js';
import { ModelRegistry, type RegisteredModel } from '../../app/engine/modelRegistry.js';
import { resolveModel } from '../../app/engine/modelResolver.js';
import { anchorsPerCell, DEFAULT_ANCHOR_SPEC } from '../../app/engine/rpnAnchors.js';
import { exportRpnHeadOnnx } from '../../app/train/rpnExport.js';
import { RpnHead } from '../../app/train/rpnHead.js';
import { registerRpnModel } from '../../app/train/rpnModelExport.js';
import { selectTrainingBackend } from '../../app/train/trainingBackend.js';

const PARIS = fileURLToPath(new URL('../../../shared/data/paris6k-mini/images/', import.meta.url));
const PHOTOS = ['eiffel_tower/paris_eiffel_000037.jpg', 'eiffel_tower/paris_eiffel_000041.jpg', 'louvre/paris_louvre_000004.jpg'];

let tmp: string;
let folder: string;
let rpnModel: RegisteredModel;
let fallbackModel: RegisteredModel;

async function openService(model: RegisteredModel, name: string): Promise<SightlineService> {
  const service = await SightlineService.open({ dbPath: path.join(tmp, 'data', `${name}.db`), model: model.dir, workers: 1, watch: false });
  await call(service, 'addFolder', { path: folder });
  for (;;) {
    const s = await service.getStatus();
    if (s.indexing.state === 'idle' && s.photos.pending === 0 && s.indexing.lastSummary) return service;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function call<M extends ApiMethod>(service: SightlineService, method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
  const response = await dispatchApiCall(service, method, input, { validateOutput: true });
  if (!response.ok) throw new Error(response.error.message);
  return response.value as ApiOutput<M>;
}

async function photoId(service: SightlineService, file: string): Promise<number> {
  const page = await call(service, 'listPhotos', { limit: 100, sort: 'folder', direction: 'asc' });
  return page.items.find((p) => p.name === path.basename(file))!.id;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-service-rpn-'));
  process.env.SIGHTLINE_DATA_DIR = path.join(tmp, 'data');
  folder = path.join(tmp, 'photos');
  await fs.mkdir(folder, { recursive: true });
  for (const p of PHOTOS) await fs.copyFile(path.join(PARIS, p), path.join(folder, path.basename(p)));
  await selectTrainingBackend({ prefer: 'wasm' });
  const base = await resolveModel();
  const head = new RpnHead({ channels: base.meta.channels, hidden: 8, reduced: 4, anchors: anchorsPerCell(DEFAULT_ANCHOR_SPEC) }, 5);
  head.variables.objW.assign(tf.randomNormal(head.variables.objW.shape, 0, 1, 'float32', 31));
  const onnx = await exportRpnHeadOnnx(head);
  head.dispose();
  const registry = new ModelRegistry({ builtin: path.join(tmp, 'builtin'), user: path.join(tmp, 'user') });
  rpnModel = await registerRpnModel({ registry, base, head: onnx, anchors: DEFAULT_ANCHOR_SPEC, proposals: { topK: 12 } });
  fallbackModel = await registerRpnModel({ registry, base, head: onnx, anchors: DEFAULT_ANCHOR_SPEC, proposals: { minSize: 100_000 }, name: 'no proposals' });
}, 300_000);

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('SightlineService with an RPN model', () => {
  it('overlays the proposals the descriptor pooled, with their objectness, and splits match scores over them', async () => {
    const service = await openService(rpnModel, 'rpn');
    const engine = await DescriptorEngine.open(rpnModel, { workers: 1, whitening: 'none' });
    try {
      const status = await service.getStatus();
      expect(status.model).toMatchObject({ id: rpnModel.meta.id, regions: 'rpn', whitened: false });
      const [a, b] = [await photoId(service, PHOTOS[0]), await photoId(service, PHOTOS[1])];
      const overlay = await call(service, 'regionOverlay', { photoId: a });
      expect(overlay.kind).toBe('rpn');
      expect(overlay.label).toBe(rpnOverlayLabel(12));
      expect(overlay.label).toMatch(/^RPN proposals \(top 12\)/);
      // The same regions, weights and objectness as the engine gives for the file at the library's scale.
      const d = await engine.describe(path.join(folder, path.basename(PHOTOS[0])));
      expect(d.regionSource).toBe('rpn');
      expect(overlay.regions).toHaveLength(12);
      overlay.regions.forEach((r, i) => {
        expect(r.box.x).toBeCloseTo(d.regions[i].box.x, 3);
        expect(r.box.width).toBeCloseTo(d.regions[i].box.width, 3);
        expect(r.weight).toBeCloseTo(d.regions[i].weight, 5);
        expect(r.objectness).toBeCloseTo(d.regions[i].objectness!, 6);
      });
      const scores = overlay.regions.map((r) => r.objectness!);
      expect(scores).toEqual([...scores].sort((x, y) => y - x));

      const map = await call(service, 'matchHeatmap', { query: { kind: 'photo', photoId: a }, resultPhotoId: b, pairs: 5 });
      const sum = (xs: { heat: number }[]) => xs.reduce((s, x) => s + x.heat, 0);
      expect(map.query.regions).toHaveLength(12);
      expect(sum(map.query.regions)).toBeCloseTo(map.score, 4);
      expect(sum(map.result.regions)).toBeCloseTo(map.score, 4);
      const search = await call(service, 'search', { query: { kind: 'photo', photoId: a }, top: 5 });
      expect(search.hits.find((h) => h.photoId === b)!.score).toBeCloseTo(map.score, 4);
    } finally {
      await engine.close();
      await service.close();
    }
  });

  it('shows the grid, and says why, for a photo where the head proposed nothing', async () => {
    const service = await openService(fallbackModel, 'fallback');
    try {
      expect((await service.getStatus()).model.regions).toBe('rpn');
      const overlay = await call(service, 'regionOverlay', { photoId: await photoId(service, PHOTOS[2]) });
      expect(overlay).toMatchObject({ kind: 'grid', label: RPN_FALLBACK_OVERLAY_LABEL });
      expect(overlay.regions.length).toBeGreaterThan(1);
      expect(overlay.regions.every((r) => r.objectness === null)).toBe(true);
    } finally {
      await service.close();
    }
  });
});
