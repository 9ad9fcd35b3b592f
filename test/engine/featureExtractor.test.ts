// The backbone session on the CPU: the int8 default model runs rewritten to take and give bytes
// (quantisedIoGraph.ts), and must describe every photo exactly as the model as stored does.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackboneSession, describeRaw, type DescribeOptions, type ExtractorModel } from '../../app/engine/featureExtractor.js';
import { resolveModel } from '../../app/engine/modelResolver.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const PHOTOS = [
  'paris6k-mini/images/eiffel_tower/paris_eiffel_000000.jpg',
  'paris6k-mini/images/louvre/paris_louvre_000004.jpg',
  'paris6k-mini/images/defense/paris_defense_000000.jpg',
  'near-dup/base_images/ukbench00120.jpg',
  'scenes/skimage/coffee.png',
].map((p) => path.join(DATA, p));

let stored: ExtractorModel;
let bytes: ExtractorModel;

beforeAll(async () => {
  const model = await resolveModel();
  const meta = model.meta;
  const common = { stride: meta.stride, normalisation: meta.normalisation };
  const names = { inputName: meta.inputName, outputName: meta.outputName, normalisation: meta.normalisation };
  stored = { ...(await createBackboneSession(model.onnxPath, 1, ['cpu'], { ...names, floatIo: true })), ...common };
  bytes = { ...(await createBackboneSession(model.onnxPath, 1, ['cpu'], names)), ...common };
});

afterAll(async () => {
  await Promise.all([stored?.session.release(), bytes?.session.release()]);
});

describe('createBackboneSession', () => {
  it('runs the int8 default model on bytes with the space-to-depth stem, and as stored when asked for floats', () => {
    expect(bytes.quantisedIo?.input.layout).toBe('space-to-depth');
    expect(stored.quantisedIo).toBeUndefined();
  });

  it('describes photos bit for bit as the stored model does: even and odd sizes, boxes, several scales, grey and raw pixels', async () => {
    const grey = await sharp(PHOTOS[0]).resize(301, 203, { fit: 'fill' }).greyscale().raw().toBuffer();
    const cases: Array<[Parameters<typeof describeRaw>[1], DescribeOptions]> = [
      ...PHOTOS.map((p): [string, DescribeOptions] => [p, { scales: [512] }]),
      [PHOTOS[0], { scales: [333, 511] }],
      [PHOTOS[1], { scales: [400], box: { x: 101, y: 77, width: 301, height: 257 } }],
      [PHOTOS[2], { scales: [300], box: { x: 11, y: 7, width: 455, height: 321 }, boxMode: 'context' }],
      [{ raw: new Uint8Array(grey), width: 301, height: 203, channels: 1 }, { scales: [301] }],
    ];
    let vectors = 0;
    for (const [source, options] of cases) {
      const a = await describeRaw(stored, source, options);
      const b = await describeRaw(bytes, source, options);
      expect(b.scales.length).toBe(a.scales.length);
      a.scales.forEach((s, i) => {
        expect(b.scales[i].featureWidth).toBe(s.featureWidth);
        expect(b.scales[i].featureHeight).toBe(s.featureHeight);
        expect(Array.from(b.scales[i].mac)).toEqual(Array.from(s.mac));
        expect(b.scales[i].regions.map((r) => r.box)).toEqual(s.regions.map((r) => r.box));
        s.regions.forEach((r, j) => expect(Array.from(b.scales[i].regions[j].vector)).toEqual(Array.from(r.vector)));
        vectors += s.regions.length + 1;
      });
    }
    expect(vectors).toBeGreaterThan(100);
  });
});
