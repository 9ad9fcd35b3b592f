import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyWhitening, fitWhitening, loadWhitening, saveWhitening } from '../../app/engine/whitening.js';

// Deterministic pseudo-random numbers so the test is reproducible.
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function gaussianSample(n: number, c: number, mixing: number[][], shift: number[]): Float32Array {
  const rnd = lcg(7);
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: c }, () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd()));
    for (let r = 0; r < c; r++) out[i * c + r] = shift[r] + mixing[r].reduce((s, m, k) => s + m * z[k], 0);
  }
  return out;
}

describe('PCA whitening', () => {
  const c = 4;
  const n = 4000;
  const mixing = [[3, 0, 0, 0], [1, 2, 0, 0], [0, 0.5, 1, 0], [0.2, 0, 0, 0.3]];
  const data = gaussianSample(n, c, mixing, [5, -1, 2, 0]);

  it('maps the training vectors to zero mean and (almost) identity covariance when ε = 0', async () => {
    const w = await fitWhitening(data, n, c, { dim: 4, epsilon: 0 });
    const y = Array.from({ length: n }, (_, i) => applyWhitening(w, data.subarray(i * c, (i + 1) * c)));
    for (let a = 0; a < c; a++) {
      const meanA = y.reduce((s, v) => s + v[a], 0) / n;
      expect(Math.abs(meanA)).toBeLessThan(1e-3);
      for (let b = 0; b < c; b++) {
        const cov = y.reduce((s, v) => s + v[a] * v[b], 0) / (n - 1);
        expect(cov).toBeCloseTo(a === b ? 1 : 0, 2);
      }
    }
    // Eigenvalues come out in descending order.
    expect([...w.eigenvalues]).toEqual([...w.eigenvalues].sort((p, q) => q - p));
  });

  it('keeps the D leading components', async () => {
    const w = await fitWhitening(data, n, c, { dim: 2, epsilon: 0 });
    expect(w.dim).toBe(2);
    expect(w.projection).toHaveLength(2 * c);
    // The leading direction is dominated by the first input axis (variance 9 + 1 + 0.04 there).
    const row0 = Array.from(w.projection.subarray(0, c)).map(Math.abs);
    expect(row0.indexOf(Math.max(...row0))).toBe(0);
  });

  it('round-trips through its files', async () => {
    const w = await fitWhitening(data, n, c, { dim: 3, fittedOn: 'synthetic' });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'whiten-'));
    await saveWhitening(w, path.join(dir, 'w'));
    const back = await loadWhitening(path.join(dir, 'w'));
    expect(back.fittedOn).toBe('synthetic');
    expect(Array.from(back.projection)).toEqual(Array.from(w.projection));
    expect(Array.from(applyWhitening(back, data.subarray(0, c)))).toEqual(Array.from(applyWhitening(w, data.subarray(0, c))));
  });

  it('rejects too few vectors and mismatched sizes', async () => {
    await expect(fitWhitening(new Float32Array(4), 1, 4)).rejects.toThrow(/at least 2/);
    await expect(fitWhitening(new Float32Array(7), 2, 4)).rejects.toThrow(/7 values/);
  });
});
