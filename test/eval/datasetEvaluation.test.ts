// evaluateGroupsFolder with a whitening given as is (what `sightline eval --model-whitening` passes
// for a trained model's learned whitening): with the identity, whitened R-MAC is R-MAC, so the
// whitened column must equal the plain one exactly, and the report must name the whitening used.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnginePool } from '../../app/engine/enginePool.js';
import { resolveModel } from '../../app/engine/modelResolver.js';
import type { Whitening } from '../../app/engine/whitening.js';
import { evaluateGroupsFolder } from '../../app/eval/datasetEvaluation.js';
import { DEFAULT_EVAL_SETTINGS } from '../../app/eval/retrievalEvaluation.js';

const DATA = path.resolve(__dirname, '../../../shared/data');
let tmp: string;
let pool: EnginePool;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-eval-'));
  const images = path.join(DATA, 'paris6k-mini/images');
  const links: Record<string, string[]> = {
    eiffel_tower: ['000037', '000041', '000078'].map((n) => path.join(images, 'eiffel_tower', `paris_eiffel_${n}.jpg`)),
    louvre: ['000004', '000015', '000018'].map((n) => path.join(images, 'louvre', `paris_louvre_${n}.jpg`)),
  };
  for (const [folder, targets] of Object.entries(links)) {
    await fs.mkdir(path.join(tmp, folder), { recursive: true });
    for (const target of targets) await fs.symlink(target, path.join(tmp, folder, path.basename(target)));
  }
  pool = new EnginePool(await resolveModel());
});
afterAll(async () => {
  await pool?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('evaluateGroupsFolder with a given whitening', () => {
  it('uses it as is: the identity makes whitened R-MAC equal to R-MAC', async () => {
    const channels = (await resolveModel()).meta.channels;
    const projection = new Float32Array(channels * channels);
    for (let i = 0; i < channels; i++) projection[i * channels + i] = 1;
    const identity: Whitening = {
      channels, dim: channels, mean: new Float32Array(channels), projection,
      eigenvalues: new Float64Array(channels).fill(1), fittedOn: 'identity (test)', sampleCount: 0, epsilon: 0,
    };
    const settings = { ...DEFAULT_EVAL_SETTINGS, longSide: 320, multiResolution: [320] };
    const report = await evaluateGroupsFolder(tmp, pool, settings, undefined, { fixed: identity, label: 'the identity' });
    expect(report.results.groups.rmac_pcaw).toBe(report.results.groups.rmac);
    expect(report.results.groups.rmac_pcaw_multires).toBe(report.results.groups.rmac);
    expect(report.whitening).toBe('whitening given: the identity');
  }, 120_000);
});
