// The byte input of a rewritten model: the tables against an independent rounding of the
// normalised values, and the layouts against a direct transcription of their definitions.
import { describe, expect, it } from 'vitest';
import type { InputNormalisation } from '../../app/convert/convertedModel.js';
import { quantisationTables, quantisedInputDims, writeQuantisedInput, type QuantisedInputSpec } from '../../app/engine/quantisedInput.js';

/** QuantizeLinear as the ONNX specification defines it: round half to even, saturate. */
function quantiseReference(x: number, scale: number, zeroPoint: number): number {
  const v = Math.fround(x / scale);
  const floor = Math.floor(v);
  const diff = v - floor;
  const rounded = diff > 0.5 || (diff === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return Math.min(255, Math.max(0, rounded + zeroPoint));
}

describe('quantisationTables', () => {
  it('gives for every pixel value the byte QuantizeLinear makes of its normalised value', async () => {
    const normalisation: InputNormalisation = { mean: [127.5, 100, 0], std: [127.5, 50, 255] };
    for (const q of [{ scale: Math.fround(2 / 255), zeroPoint: 127 }, { scale: Math.fround(0.0123), zeroPoint: 64 }]) {
      const tables = await quantisationTables(normalisation, q);
      for (let c = 0; c < 3; c++) {
        const expected = Array.from({ length: 256 }, (_, v) => quantiseReference(Math.fround((v - normalisation.mean[c]) / normalisation.std[c]), q.scale, q.zeroPoint));
        expect(Array.from(tables[c])).toEqual(expected);
      }
      // Some values saturate at this scale, and rounding halves go both ways: the tables are not a shift.
      expect(new Set(tables[1]).size).toBeGreaterThan(16);
    }
  });
});

const spec = (layout: QuantisedInputSpec['layout']): QuantisedInputSpec => ({
  layout,
  zeroPoint: 200,
  // Distinct tables per channel, so a channel written to the wrong place shows.
  tables: [0, 1, 2].map((c) => Uint8Array.from({ length: 256 }, (_, v) => (v * (c + 3) + c) & 0xff)) as QuantisedInputSpec['tables'],
});

function pixelsOf(width: number, height: number, channels: number): Uint8Array {
  return Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37 + (i >> 5)) & 0xff);
}

describe('writeQuantisedInput', () => {
  it('writes channels last through the tables', () => {
    const s = spec('nhwc');
    const pixels = pixelsOf(5, 3, 3);
    const out = writeQuantisedInput(pixels, 5, 3, 3, s);
    expect(quantisedInputDims(5, 3, 'nhwc')).toEqual([1, 3, 5, 3]);
    expect(Array.from(out)).toEqual(Array.from(pixels, (v, i) => s.tables[i % 3][v]));
  });

  it('folds each 2×2 block into 12 channels, (dy, dx, colour), with a zero-point line before an odd side', () => {
    const s = spec('space-to-depth');
    for (const [width, height, channels] of [[6, 4, 3], [7, 4, 3], [6, 5, 3], [7, 5, 3], [1, 1, 3], [5, 3, 1]]) {
      const pixels = pixelsOf(width, height, channels);
      const dims = quantisedInputDims(width, height, 'space-to-depth');
      expect(dims).toEqual([1, Math.ceil(height / 2), Math.ceil(width / 2), 12]);
      const out = writeQuantisedInput(pixels, width, height, channels, s, new Uint8Array(dims.reduce((a, b) => a * b, 1)).fill(9));
      const padTop = height % 2;
      const padLeft = width % 2;
      for (let by = 0; by < dims[1]; by++) {
        for (let bx = 0; bx < dims[2]; bx++) {
          for (let dy = 0; dy < 2; dy++) {
            for (let dx = 0; dx < 2; dx++) {
              for (let c = 0; c < 3; c++) {
                const y = 2 * by + dy - padTop;
                const x = 2 * bx + dx - padLeft;
                const expected = y < 0 || x < 0 ? s.zeroPoint : s.tables[c][pixels[(y * width + x) * channels + (channels === 1 ? 0 : c)]];
                expect(out[((by * dims[2] + bx) * 12) + (dy * 2 + dx) * 3 + c], `${width}×${height}×${channels} block ${bx},${by} tap ${dx},${dy} colour ${c}`).toBe(expected);
              }
            }
          }
        }
      }
    }
  });

  it('refuses an output of the wrong size and pixels that do not match the size', () => {
    const s = spec('space-to-depth');
    expect(() => writeQuantisedInput(pixelsOf(4, 4, 3), 4, 4, 3, s, new Uint8Array(47))).toThrow(/holds 47 bytes, not 48/);
    expect(() => writeQuantisedInput(pixelsOf(4, 4, 3), 4, 5, 3, s)).toThrow(/48 bytes for 4×5×3/);
  });
});
