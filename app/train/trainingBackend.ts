// Training runs on TensorFlow.js (DESIGN.md §3) with the fastest backend this machine can load,
// chosen at run time: tfjs-node-gpu (CUDA), then tfjs-node (libtensorflow on the CPU), both
// optional dependencies whose install downloads native binaries that may be missing; then the
// wasm backend, which always installs; then TF.js's pure-JS CPU backend as the last resort.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from './wasmGradientKernels.js';

export type BackendPreference = 'auto' | 'gpu' | 'node' | 'wasm' | 'cpu';

export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'gpu', 'node', 'wasm', 'cpu'];

export interface BackendAttempt {
  package: string;
  reason: string;
}

export interface TrainingBackend {
  /** tf.getBackend() once selected: 'tensorflow' (tfjs-node, -gpu), 'wasm' or 'cpu'. */
  name: string;
  /** The npm package that provides it. */
  package: string;
  /** Candidates tried before it, with why each was not used. */
  skipped: BackendAttempt[];
  /** One line for the user: what trains, and why not something faster. */
  summary: string;
}

/** Loads a package by name; tests replace it to simulate an installed or broken native backend. */
export type PackageImporter = (name: string) => Promise<unknown>;

const NODE_BACKENDS = [
  { package: '@tensorflow/tfjs-node-gpu', preference: 'gpu' },
  { package: '@tensorflow/tfjs-node', preference: 'node' },
] as const;

const require = createRequire(import.meta.url);

/**
 * Selects and initialises the training backend. `auto` tries
 * every candidate in order; naming one tries only it and fails if it cannot load. The
 * SIGHTLINE_TRAIN_BACKEND environment variable sets the preference when none is given.
 */
export async function selectTrainingBackend(options: { prefer?: BackendPreference; importPackage?: PackageImporter } = {}): Promise<TrainingBackend> {
  const prefer = options.prefer ?? parsePreference(process.env.SIGHTLINE_TRAIN_BACKEND) ?? 'auto';
  const importPackage = options.importPackage ?? ((name: string) => import(name));
  const skipped: BackendAttempt[] = [];

  for (const candidate of NODE_BACKENDS) {
    if (prefer !== 'auto' && prefer !== candidate.preference) continue;
    const failure = await tryNodeBackend(candidate.package, importPackage);
    if (!failure) return { name: 'tensorflow', package: candidate.package, skipped, summary: summarise('tensorflow', candidate.package, skipped) };
    skipped.push({ package: candidate.package, reason: failure });
    if (prefer !== 'auto') throw new Error(`${candidate.package} cannot be used: ${failure}`);
  }

  if (prefer === 'auto' || prefer === 'wasm') {
    const failure = await tryWasm();
    if (!failure) return { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', skipped, summary: summarise('wasm', '@tensorflow/tfjs-backend-wasm', skipped) };
    skipped.push({ package: '@tensorflow/tfjs-backend-wasm', reason: failure });
    if (prefer === 'wasm') throw new Error(`the wasm backend cannot be used: ${failure}`);
  }

  if (!(await tf.setBackend('cpu'))) throw new Error(`no TF.js backend could be initialised (${skipped.map((s) => `${s.package}: ${s.reason}`).join('; ')})`);
  return { name: 'cpu', package: '@tensorflow/tfjs (pure JS)', skipped, summary: summarise('cpu', '@tensorflow/tfjs (pure JS)', skipped) };
}

function parsePreference(value: string | undefined): BackendPreference | undefined {
  if (!value) return undefined;
  if ((BACKEND_PREFERENCES as readonly string[]).includes(value)) return value as BackendPreference;
  throw new Error(`SIGHTLINE_TRAIN_BACKEND must be one of ${BACKEND_PREFERENCES.join(', ')}, got "${value}"`);
}

async function tryNodeBackend(pkg: string, importPackage: PackageImporter): Promise<string | undefined> {
  // A package whose native addon failed to download still imports far enough to register its
  // kernels before it throws, so a second half-installed one repeats every registration with a
  // warning each: hundreds of lines that say nothing the returned reason does not.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && / is already registered/.test(args[0])) return;
    warn(...args);
  };
  try {
    await importPackage(pkg);
    if (!(await tf.setBackend('tensorflow'))) return 'its "tensorflow" backend failed to initialise';
    return undefined;
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'MODULE_NOT_FOUND') return 'not installed';
    return firstLine(error.message);
  } finally {
    console.warn = warn;
  }
}

async function tryWasm(): Promise<string | undefined> {
  try {
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    setWasmPaths(`${dist}${path.sep}`);
    if (!(await tf.setBackend('wasm'))) return 'it failed to initialise';
    registerWasmGradientKernels();
    return undefined;
  } catch (e) {
    return firstLine((e as Error).message);
  }
}

function firstLine(message: string): string {
  const line = message.split('\n')[0].trim();
  return line.length > 200 ? `${line.slice(0, 197)}…` : line;
}

function summarise(name: string, pkg: string, skipped: BackendAttempt[]): string {
  const why = skipped.length ? ` (${skipped.map((s) => `${s.package}: ${s.reason}`).join('; ')})` : '';
  return `TF.js backend: ${name} from ${pkg}${why}`;
}
