// The WebAssembly kernels' host side: the committed binary is the build of the committed C, and
// the memory layout hands out aligned, non-overlapping buffers, grows for large photos and keeps
// constants in place. What each kernel computes is tested where it is used (sharpness against
// libvips, pooling against the float path, the quantised input against its layout's definition,
// halving against exact block means).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PixelKernels, pixelKernels } from '../../app/engine/pixelKernels.js';
import { PIXEL_KERNELS_SOURCE_SHA256 } from '../../app/engine/pixelKernelsBinary.js';

describe('pixelKernels', () => {
  it('runs the binary built from the current pixelKernels.c (npm run build:kernels after changing it)', () => {
    const source = fs.readFileSync(fileURLToPath(new URL('../../app/engine/pixelKernels.c', import.meta.url)));
    expect(crypto.createHash('sha256').update(source).digest('hex')).toBe(PIXEL_KERNELS_SOURCE_SHA256);
  });

  it('lays out aligned buffers after the constants, grows memory for large requests and keeps constants intact', () => {
    const k = new PixelKernels();
    const table = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    const at = k.constant('test/table', () => table);
    expect(k.constant('test/table', () => { throw new Error('copied twice'); })).toBe(at);
    const sizes = [3, 17, 40 << 20, 1];
    const addresses = k.scratch(sizes);
    addresses.forEach((a, i) => {
      expect(a % 16).toBe(0);
      expect(a).toBeGreaterThanOrEqual(at + table.length);
      if (i > 0) expect(a).toBeGreaterThanOrEqual(addresses[i - 1] + sizes[i - 1]);
    });
    expect(k.run.memory.buffer.byteLength).toBeGreaterThanOrEqual(addresses[3] + 1);
    k.bytes(addresses[2], sizes[2]).fill(0xee);
    expect(Array.from(k.bytes(at, table.length))).toEqual(Array.from(table));
  });

  it('gives each thread one instance', () => {
    expect(pixelKernels()).toBe(pixelKernels());
  });
});
