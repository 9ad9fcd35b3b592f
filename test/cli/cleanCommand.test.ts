// `sightline clean` as a user runs it, in a child process with a temp data dir and no network:
// a small dataset of two classes, each with a true pair, an unrelated photo, and (in one) a
// truncated JPEG. Photos are linked from ../shared/data, never copied.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleaningReport } from '../../app/match/datasetCleaning.js';
import { GUARD, NETWORK_DENIED } from '../support/networkGuard.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const SCENES = path.join(DATA, 'scenes/opencv');

let tmp: string;
let guardFile: string;
let dataset: string;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/sightline.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, SIGHTLINE_DATA_DIR: path.join(tmp, 'data'), NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(guardFile).href}`.trim(), FORCE_COLOR: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await cli(args);
  expect(r.code, `sightline ${args.join(' ')}\n${r.stderr}`).toBe(0);
  expect(r.stderr).not.toContain(NETWORK_DENIED);
  return r;
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-clean-cli-'));
  guardFile = path.join(tmp, 'no-network.mjs');
  await fs.writeFile(guardFile, GUARD);
  dataset = path.join(tmp, 'dataset');
  const link = async (cls: string, file: string) => {
    await fs.mkdir(path.join(dataset, cls), { recursive: true });
    await fs.symlink(path.join(SCENES, file), path.join(dataset, cls, file));
  };
  for (const f of ['box.png', 'box_in_scene.png', 'fruits.jpg']) await link('box', f);
  for (const f of ['graf1.png', 'graf3.png', 'baboon.jpg']) await link('graf', f);
  const jpeg = await fs.readFile(path.join(DATA, 'paris6k-mini/images/louvre/paris_louvre_000004.jpg'));
  await fs.writeFile(path.join(dataset, 'box', 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.4)));
  await ok(['model', 'prepare-default']);
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('sightline clean', () => {
  it('keeps the matching pair of each class, drops the unrelated and the broken photo with reasons, boxes the match, and resumes from its journal', async () => {
    const out = path.join(tmp, 'report', 'clean.json');
    const first = await ok(['clean', dataset, '--out', out, '--json']);
    const summary = JSON.parse(first.stdout) as { classes: CleaningReport['classes']; stats: CleaningReport['stats'] };
    expect(summary.classes).toEqual([
      expect.objectContaining({ name: 'box', photos: 4, kept: 2, dropped: 2, verifiedPairs: 1 }),
      expect.objectContaining({ name: 'graf', photos: 3, kept: 2, dropped: 1, verifiedPairs: 1 }),
    ]);
    // Every pair within a class is a candidate here (classes are smaller than the shortlist).
    expect(summary.stats).toMatchObject({ photos: 7, candidatePairs: 6, verified: 6, verifiedFromJournal: 0 });

    const report = JSON.parse(await fs.readFile(out, 'utf8')) as CleaningReport;
    const photo = (p: string) => report.photos.find((x) => x.path === p)!;
    expect(photo('box/box.png')).toMatchObject({ kept: true, component: 2, neighbours: [expect.objectContaining({ path: 'box/box_in_scene.png', model: 'homography' })] });
    expect(photo('box/fruits.jpg')).toMatchObject({ kept: false, reason: 'no verified match among its 2 candidates', box: null, neighbours: [] });
    expect(photo('box/truncated.jpg').kept).toBe(false);
    expect(photo('box/truncated.jpg').reason).toMatch(/^unreadable: .*damaged or truncated/);
    expect(photo('graf/baboon.jpg')).toMatchObject({ kept: false });
    expect(photo('graf/graf1.png')).toMatchObject({ kept: true });
    // The box in the scene lies on the cookie box (its face spans about x 90–290, y 160–295),
    // in whole original pixels.
    const sceneBox = photo('box/box_in_scene.png').box!;
    expect(Number.isInteger(sceneBox.x) && Number.isInteger(sceneBox.width)).toBe(true);
    expect(sceneBox.x).toBeGreaterThan(85);
    expect(sceneBox.y).toBeGreaterThan(155);
    expect(sceneBox.x + sceneBox.width).toBeLessThan(295);
    expect(sceneBox.y + sceneBox.height).toBeLessThan(300);
    const ownBox = photo('box/box.png').box!;
    expect(ownBox.x + ownBox.width).toBeLessThanOrEqual(324);
    expect(ownBox.y + ownBox.height).toBeLessThanOrEqual(223);
    // The journal and the feature cache sit next to the report.
    await expect(fs.access(`${out}.journal.jsonl`)).resolves.toBeUndefined();
    expect((await fs.readdir(`${out}.features`)).length).toBeGreaterThan(0);

    // Run again: every descriptor and verdict comes from the journal, and the report is the same.
    const second = await ok(['clean', dataset, '--out', out]);
    expect(second.stdout).toMatch(/^box\s+4\s+2\s+2\s+1 \/ 3$/m);
    expect(second.stdout).toContain('6 candidate pairs (6 from the journal)');
    const again = JSON.parse(await fs.readFile(out, 'utf8')) as CleaningReport;
    expect(again.photos).toEqual(report.photos);
    expect(again.stats).toMatchObject({ described: 0, verified: 0, verifiedFromJournal: 6 });
  });

  it('refuses a dataset that is not a folder', async () => {
    const r = await cli(['clean', path.join(tmp, 'nowhere'), '--out', path.join(tmp, 'x.json')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('is not a folder');
  });
});
