// Backend choice: tfjs-node-gpu, then tfjs-node, then wasm, then the pure-JS CPU backend. The two
// native packages cannot install on every machine, so their loading is simulated here; the real
// machine's outcome is checked for order only.
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { selectTrainingBackend, type PackageImporter } from '../../app/train/trainingBackend.js';

const notInstalled: PackageImporter = async (name) => {
  throw Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' });
};

describe('training backend selection', () => {
  afterEach(() => {
    if (tf.findBackend('tensorflow') || tf.engine().registryFactory.tensorflow) tf.removeBackend('tensorflow');
  });

  it('falls back to wasm when neither native package is installed, and says why', async () => {
    const tried: string[] = [];
    const b = await selectTrainingBackend({ prefer: 'auto', importPackage: (name) => { tried.push(name); return notInstalled(name); } });
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(b).toMatchObject({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm' });
    expect(b.skipped).toEqual([
      { package: '@tensorflow/tfjs-node-gpu', reason: 'not installed' },
      { package: '@tensorflow/tfjs-node', reason: 'not installed' },
    ]);
    expect(tf.getBackend()).toBe('wasm');
    expect(b.summary).toMatch(/^TF\.js backend: wasm from @tensorflow\/tfjs-backend-wasm \(@tensorflow\/tfjs-node-gpu: not installed; @tensorflow\/tfjs-node: not installed\)$/);
  });

  it('reports an installed package whose native addon is missing by its first error line', async () => {
    const b = await selectTrainingBackend({ importPackage: async () => { throw new Error('The Node.js native addon module (tfjs_binding.node) can not be found at path: /x.\nmore'); } });
    expect(b.name).toBe('wasm');
    expect(b.skipped.map((s) => s.reason)).toEqual([
      'The Node.js native addon module (tfjs_binding.node) can not be found at path: /x.',
      'The Node.js native addon module (tfjs_binding.node) can not be found at path: /x.',
    ]);
  });

  it('uses tfjs-node-gpu when it loads, without trying the others', async () => {
    const tried: string[] = [];
    const b = await selectTrainingBackend({
      importPackage: async (name) => {
        tried.push(name);
        // What the package does on import: register its "tensorflow" backend.
        tf.registerBackend('tensorflow', () => new MathBackendCPU(), 3);
      },
    });
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu']);
    expect(b).toMatchObject({ name: 'tensorflow', package: '@tensorflow/tfjs-node-gpu', skipped: [] });
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('uses tfjs-node when only it loads', async () => {
    const b = await selectTrainingBackend({
      importPackage: async (name) => {
        if (name.endsWith('-gpu')) return notInstalled(name);
        tf.registerBackend('tensorflow', () => new MathBackendCPU(), 3);
      },
    });
    expect(b).toMatchObject({ name: 'tensorflow', package: '@tensorflow/tfjs-node', skipped: [{ package: '@tensorflow/tfjs-node-gpu', reason: 'not installed' }] });
  });

  it('a named backend is used or refused, never silently replaced', async () => {
    await expect(selectTrainingBackend({ prefer: 'node', importPackage: notInstalled })).rejects.toThrow('@tensorflow/tfjs-node cannot be used: not installed');
    expect((await selectTrainingBackend({ prefer: 'cpu', importPackage: notInstalled })).name).toBe('cpu');
    expect((await selectTrainingBackend({ prefer: 'wasm', importPackage: notInstalled })).skipped).toEqual([]);
  });

  it('on this machine, tries the native packages first, in order, through real dynamic imports', async () => {
    const b = await selectTrainingBackend();
    if (b.name !== 'tensorflow') expect(b.skipped.map((s) => s.package)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    console.info(b.summary);
  });
});
