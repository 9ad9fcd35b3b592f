// `sightline train rpn` as a user runs it, in a child process with its own data dir, on four real
// photos with hand-drawn boxes standing in for `sightline clean`'s: it registers backbone + head as
// a model of kind rpn (the head it wrote, the --top-k it was given), --use makes `describe` pool
// that model's proposals, and --no-register only writes the head.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkDataset, runSightlineOk } from '../support/sightlineCli.js';

const PHOTOS: Record<string, string[]> = {
  eiffel: ['eiffel_tower/paris_eiffel_000037.jpg', 'eiffel_tower/paris_eiffel_000266.jpg'],
  louvre: ['louvre/paris_louvre_000004.jpg', 'louvre/paris_louvre_000015.jpg'],
};

let tmp: string;
let dataset: string;
let clean: string;

const ok = (args: string[]) => runSightlineOk(args, { dataDir: path.join(tmp, 'data'), timeoutMs: 150_000 });

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-train-rpn-cli-'));
  dataset = path.join(tmp, 'photos');
  const photos = (await linkDataset(dataset, PHOTOS)).map((p) => ({ ...p, kept: true, box: { x: 150, y: 100, width: 500, height: 450 } }));
  clean = path.join(tmp, 'clean.json');
  await fs.writeFile(clean, JSON.stringify({ dataset, photos }));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const train = (out: string, extra: string[]) => ['train', 'rpn', '--data', dataset, '--clean', clean, '--epochs', '1', '--hidden', '4', '--long-side', '256', '--backend', 'wasm', '--out', out, '--json', ...extra];

describe('sightline train rpn', () => {
  it('registers backbone + the head it wrote as a model of kind rpn, and --use makes describe pool its proposals', async () => {
    const out = path.join(tmp, 'run');
    const summary = JSON.parse((await ok(train(out, ['--top-k', '5', '--nms-iou', '0.6', '--name', 'paris-rpn', '--use']))).stdout) as { onnx: string; model: string; registered: { id: string; name: string; kind: string; dir: string; topK: number; nmsIou: number; inUse: boolean } };
    expect(summary.registered).toMatchObject({ name: 'paris-rpn', kind: 'rpn', topK: 5, nmsIou: 0.6, inUse: true });
    expect(summary.registered.id).toMatch(/^[0-9a-f]{16}$/);
    expect(summary.registered.id).not.toBe(summary.model);
    expect(await fs.readFile(path.join(summary.registered.dir, 'rpn-head.onnx'))).toEqual(await fs.readFile(summary.onnx));

    const models = JSON.parse((await ok(['model', 'list', '--json'])).stdout) as Array<{ id: string; kind: string; active: boolean; rpn?: { head: string; proposals: { topK: number; nmsIou: number }; base: string } }>;
    expect(models.find((m) => m.id === summary.registered.id)).toMatchObject({ kind: 'rpn', active: true, rpn: { head: 'rpn-head.onnx', proposals: { topK: 5, nmsIou: 0.6 }, base: summary.model } });

    const described = JSON.parse((await ok(['describe', path.join(dataset, 'louvre', 'paris_louvre_000004.jpg'), '--scales', '256', '--json'])).stdout) as { model: string; regionSource: string; regions: Array<{ objectness?: number }> };
    expect(described.model).toBe(summary.registered.id);
    expect(described.regionSource).toBe('rpn');
    expect(described.regions).toHaveLength(5);
    expect(described.regions.every((r) => r.objectness! > 0 && r.objectness! < 1)).toBe(true);
  }, 300_000);

  it('--no-register writes the head and registers nothing', async () => {
    const before = JSON.parse((await ok(['model', 'list', '--json'])).stdout) as unknown[];
    const out = path.join(tmp, 'run-unregistered');
    const summary = JSON.parse((await ok(train(out, ['--no-register']))).stdout) as { onnx: string; registered: unknown };
    expect(summary.registered).toBeNull();
    expect((await fs.stat(summary.onnx)).size).toBeGreaterThan(0);
    expect(JSON.parse((await ok(['model', 'list', '--json'])).stdout)).toHaveLength(before.length);
  }, 300_000);
});
