// The real `sightline` command in child processes, as a user or a script runs it. Every run gets
// SIGHTLINE_DATA_DIR in a temp folder (the user's profile is never touched) and a preload that
// fails any network access, so "offline" is checked, not assumed.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUARD, NETWORK_DENIED } from '../support/networkGuard.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const WEIGHTS = fileURLToPath(new URL('../../../shared/weights/mobilenet-v2-0.35-keras', import.meta.url));
const PHOTO = path.join(DATA, 'paris6k-mini/images/eiffel_tower/paris_eiffel_000037.jpg');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let tmp: string;
let guardFile: string;
/** The data dir most commands share; `model add`/`use` get their own so the active model here stays the default. */
let dataDir: string;

function cli(args: string[], options: { dataDir?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/sightline.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, SIGHTLINE_DATA_DIR: options.dataDir ?? dataDir, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(guardFile).href}`.trim(), FORCE_COLOR: '0' },
      // stdin is a pipe, never a TTY: nothing may wait for an answer.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - start });
    });
  });
}

/** A run that must succeed; its output is in the failure message otherwise. */
async function ok(args: string[], options?: Parameters<typeof cli>[1]): Promise<CliResult> {
  const r = await cli(args, options);
  expect(r.code, `sightline ${args.join(' ')}\n${r.stderr}`).toBe(0);
  expect(r.stderr).not.toContain(NETWORK_DENIED);
  return r;
}

interface ListedModel {
  id: string;
  name: string;
  channels: number;
  stride: number;
  active: boolean;
  offlineDefault: boolean;
}

function norm(v: number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-cli-'));
  guardFile = path.join(tmp, 'no-network.mjs');
  await fs.writeFile(guardFile, GUARD);
  dataDir = path.join(tmp, 'data');
  // Idempotent: returns at once when resources/models already holds the default.
  await ok(['model', 'prepare-default']);
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('sightline model', () => {
  it('list --json shows the offline default as the active model', async () => {
    const models = JSON.parse((await ok(['model', 'list', '--json'])).stdout) as ListedModel[];
    const active = models.filter((m) => m.active);
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ offlineDefault: true, channels: 816, stride: 16 });
  });

  it('add registers the Keras MobileNetV2 0.35 (1280 channels, stride 32), and use switches to it', async () => {
    const own = path.join(tmp, 'data-add');
    const added = JSON.parse((await ok(['model', 'add', WEIGHTS, '--json'], { dataDir: own })).stdout) as ListedModel;
    expect(added).toMatchObject({ channels: 1280, stride: 32 });
    expect(added.id).toMatch(/^[0-9a-f]{16}$/);
    // It was written under this data dir, nowhere else.
    await expect(fs.access(path.join(own, 'models', added.id, 'model.onnx'))).resolves.toBeUndefined();

    const before = JSON.parse((await ok(['model', 'list', '--json'], { dataDir: own })).stdout) as ListedModel[];
    expect(before.find((m) => m.id === added.id)?.active).toBe(false);

    const used = await ok(['model', 'use', added.id], { dataDir: own });
    expect(used.stdout).toContain(`Now using ${added.id}`);
    const after = JSON.parse((await ok(['model', 'list', '--json'], { dataDir: own })).stdout) as ListedModel[];
    expect(after.filter((m) => m.active).map((m) => m.id)).toEqual([added.id]);
    expect(after.find((m) => m.offlineDefault)?.active).toBe(false);

    // The other data dir still uses the default.
    const shared = JSON.parse((await ok(['model', 'list', '--json'])).stdout) as ListedModel[];
    expect(shared.find((m) => m.active)?.offlineDefault).toBe(true);
  });

  it('download without consent (no --yes, stdin not a TTY) exits 2 at once, explaining why, with no network access', async () => {
    const r = await cli(['model', 'download', '--alpha', '0.35']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/consent/);
    expect(r.stderr).toContain('offline default');
    expect(r.stderr).not.toContain(NETWORK_DENIED);
    // Start-up alone takes about a second; a network attempt with its timeouts would take far longer.
    expect(r.ms).toBeLessThan(15_000);
    await expect(fs.readdir(path.join(dataDir, 'models')).catch(() => [])).resolves.toEqual([]);
  });
});

describe('sightline describe', () => {
  it('--json prints a unit-norm descriptor of the default model', async () => {
    const out = JSON.parse((await ok(['describe', PHOTO, '--json'])).stdout) as { model: string; dim: number; whitened: boolean; global: number[]; regions: Array<{ weight: number }> };
    expect(out.dim).toBe(816);
    expect(out.global).toHaveLength(816);
    expect(norm(out.global)).toBeCloseTo(1, 5);
    expect(out.whitened).toBe(false);
    expect(out.regions.length).toBeGreaterThan(0);
  });

  it('a region too small to describe fails with a clear message and a non-zero exit code', async () => {
    const r = await cli(['describe', PHOTO, '--region', '0,0,10,10']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/region 10×10 px is too small to describe/);
    expect(r.stdout).toBe('');
  });

  it('a zero-byte file fails with a clear message and a non-zero exit code', async () => {
    const empty = path.join(tmp, 'empty.jpg');
    await fs.writeFile(empty, '');
    const r = await cli(['describe', empty]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${empty}: file is empty (0 bytes)`);
  });
});

describe('sightline whiten', () => {
  it('fits a whitening on a folder, skips unreadable files, and describe then gives whitened vectors of that size', async () => {
    const own = await fs.mkdtemp(path.join(tmp, 'whiten-'));
    const folder = path.join(own, 'photos');
    await fs.mkdir(folder);
    for (const f of ['scenes/skimage/coffee.png', 'scenes/darknet/dog.jpg', 'scenes/darknet/eagle.jpg', 'scenes/opencv/building.jpg']) {
      await fs.symlink(path.join(DATA, f), path.join(folder, path.basename(f)));
    }
    await fs.writeFile(path.join(folder, 'broken.jpg'), 'not a photo');
    const summary = JSON.parse((await ok(['whiten', folder, '--dim', '16', '--json'], { dataDir: own })).stdout) as { dim: number; photos: number; regions: number; skipped: Array<{ file: string; reason: string }> };
    expect(summary).toMatchObject({ dim: 16, photos: 4 });
    expect(summary.regions).toBeGreaterThan(16);
    expect(summary.skipped).toHaveLength(1);
    expect(summary.skipped[0].reason).toMatch(/not an image/);
    const out = JSON.parse((await ok(['describe', PHOTO, '--json'], { dataDir: own })).stdout) as { dim: number; whitened: boolean; global: number[] };
    expect(out).toMatchObject({ dim: 16, whitened: true });
    expect(norm(out.global)).toBeCloseTo(1, 5);
    // Another profile is not affected.
    expect(JSON.parse((await ok(['describe', PHOTO, '--json'])).stdout).whitened).toBe(false);
  });
});

describe('sightline eval groups', () => {
  it('--model-whitening refuses a model that ships no whitening, and a second whitening source', async () => {
    const none = await cli(['eval', 'groups', '--data', tmp, '--model-whitening']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/ships no whitening/);
    const both = await cli(['eval', 'groups', '--data', tmp, '--model-whitening', '--whiten-on', tmp]);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/give one/);
  });

  it('reports mAP of every method on a folder of symlinked groups and distractors', async () => {
    const groups = path.join(tmp, 'groups');
    const images = path.join(DATA, 'paris6k-mini/images');
    const links: Record<string, string[]> = {
      eiffel_tower: ['000037', '000041', '000078'].map((n) => path.join(images, 'eiffel_tower', `paris_eiffel_${n}.jpg`)),
      louvre: ['000004', '000015', '000018'].map((n) => path.join(images, 'louvre', `paris_louvre_${n}.jpg`)),
      distractors: [path.join(DATA, 'scenes/skimage/coffee.png'), path.join(DATA, 'scenes/darknet/dog.jpg')],
    };
    for (const [folder, targets] of Object.entries(links)) {
      await fs.mkdir(path.join(groups, folder), { recursive: true });
      // Symlinks, as a user would lay out a test set over photos they keep elsewhere (and the
      // shared photos must never be copied).
      for (const target of targets) await fs.symlink(target, path.join(groups, folder, path.basename(target)));
    }
    // Small inputs and a small whitening keep this run short; what is checked is the report's shape.
    const r = await ok(['eval', 'groups', '--data', groups, '--json', '--multires', '256,320', '--long-side', '320', '--whiten-dim', '32'], { timeoutMs: 90_000 });
    const report = JSON.parse(r.stdout) as { groups: Record<string, number>; model: string; ms_per_image: number; database_size: number; queries: Record<string, number> };
    const methods = ['mac', 'rmac', 'rmac_pcaw', 'rmac_pcaw_qe', 'rmac_pcaw_dba', 'rmac_pcaw_multires'];
    expect(Object.keys(report.groups).sort()).toEqual([...methods].sort());
    for (const m of methods) {
      expect(typeof report.groups[m], m).toBe('number');
      expect(report.groups[m], m).toBeGreaterThanOrEqual(0);
      expect(report.groups[m], m).toBeLessThanOrEqual(100);
    }
    expect(report.model).toMatch(/^[0-9a-f]{16}$/);
    expect(report.ms_per_image).toBeGreaterThan(0);
    expect(report.database_size).toBe(8);
    expect(report.queries.groups).toBe(6);
  });
});
