// `sightline train` as a user runs it, in a child process with its own data dir: it trains, writes
// the curve page and summary, registers a model the other commands then use, and resumes.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkDataset, runSightline, runSightlineOk } from '../support/sightlineCli.js';

const PHOTOS: Record<string, string[]> = {
  eiffel: ['eiffel_tower/paris_eiffel_000037.jpg', 'eiffel_tower/paris_eiffel_000266.jpg'],
  louvre: ['louvre/paris_louvre_000004.jpg', 'louvre/paris_louvre_000015.jpg'],
  moulinrouge: ['moulinrouge/paris_moulinrouge_000003.jpg', 'moulinrouge/paris_moulinrouge_000004.jpg'],
};

let tmp: string;
let dataset: string;

const cli = (args: string[]) => runSightline(args, { dataDir: path.join(tmp, 'data'), timeoutMs: 90_000 });
const ok = (args: string[]) => runSightlineOk(args, { dataDir: path.join(tmp, 'data'), timeoutMs: 90_000 });

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-train-cli-'));
  dataset = path.join(tmp, 'photos');
  await linkDataset(dataset, PHOTOS);
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('sightline train whitening', () => {
  const out = () => path.join(tmp, 'run');
  const args = () => ['train', 'whitening', '--data', dataset, '--epochs', '2', '--batch', '3', '--dim', '16', '--scales', '256', '--out', out(), '--json'];

  it('trains, prints the backend, writes curve.html and summary.json, and registers a new model', async () => {
    const r = await ok(args());
    expect(r.stderr).toMatch(/TF\.js backend: (wasm|tensorflow|cpu) from /);
    const summary = JSON.parse(r.stdout) as { model: string; name: string; kind: string; photos: number; anchors: number; steps: number; stepsDone: number; interrupted: boolean; trainingMAP: { before: number; after: number }; curve: string };
    expect(summary).toMatchObject({ kind: 'whitening', photos: 6, anchors: 6, steps: 4, stepsDone: 4, interrupted: false });
    expect(summary.model).toMatch(/^[0-9a-f]{16}$/);
    expect(summary.name).toMatch(/\+learned-whitening$/);
    const page = await fs.readFile(summary.curve, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain(summary.model);
    expect(JSON.parse(await fs.readFile(path.join(out(), 'summary.json'), 'utf8'))).toEqual(summary);

    const models = JSON.parse((await ok(['model', 'list', '--json'])).stdout) as Array<{ id: string; name: string; active: boolean }>;
    expect(models.find((m) => m.id === summary.model)).toMatchObject({ name: summary.name, active: false });
    const described = JSON.parse((await ok(['describe', path.join(dataset, 'louvre', 'paris_louvre_000004.jpg'), '--model', summary.model, '--scales', '256', '--json'])).stdout) as { model: string; dim: number; whitened: boolean };
    expect(described).toMatchObject({ model: summary.model, dim: 16, whitened: true });
  });

  it('--resume continues from the checkpoint: a finished run takes no more steps and gives the same model', async () => {
    const first = JSON.parse(await fs.readFile(path.join(out(), 'summary.json'), 'utf8')) as { model: string };
    const again = JSON.parse((await ok([...args(), '--resume'])).stdout) as { model: string; stepsDone: number };
    expect(again).toMatchObject({ model: first.model, stepsDone: 4 });
    const changed = await cli([...args(), '--resume', '--margin', '0.2']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/other settings \(margin\)/);
  });

  it('refuses a backend it does not know and --resume without --out', async () => {
    expect((await cli(['train', 'whitening', '--data', dataset, '--backend', 'tpu'])).stderr).toMatch(/--backend must be one of auto, gpu, node, wasm, cpu/);
    expect((await cli(['train', 'triplet', '--data', dataset, '--resume'])).stderr).toMatch(/--resume needs --out/);
  });
});
