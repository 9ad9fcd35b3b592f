// Which onnxruntime execution providers to ask for. CPU always works; the GPU providers are
// used only when the user opts in (or, for CUDA, when its add-on has been installed with
// `npm run cuda`), and onnxruntime falls back to the next provider in the list on its own.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type ProviderPreference = 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml';

const require = createRequire(import.meta.url);

export function onnxruntimeBinaryDir(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(root, 'bin', 'napi-v6', platform, arch);
}

/** True when the CUDA provider library that `npm run cuda` downloads is present. */
export function cudaAddonInstalled(): boolean {
  try {
    return fs.readdirSync(onnxruntimeBinaryDir()).some((f) => f.startsWith('libonnxruntime_providers_cuda'));
  } catch {
    return false;
  }
}

export function executionProvidersFor(preference: ProviderPreference = 'auto', platform: NodeJS.Platform = process.platform): string[] {
  switch (preference) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return ['cuda', 'cpu'];
    case 'dml':
      return ['dml', 'cpu'];
    case 'coreml':
      return ['coreml', 'cpu'];
    case 'auto':
      return platform === 'linux' && cudaAddonInstalled() ? ['cuda', 'cpu'] : ['cpu'];
  }
}
