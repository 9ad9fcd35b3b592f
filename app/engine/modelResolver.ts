// Which model a command runs: `--model` (an id, a name, or a path to import), else the one
// chosen with `sightline model use`, else the offline default built at install time.
import fs from 'node:fs/promises';
import path from 'node:path';
import { readSettings } from '../settings.js';
import { builtinModelsDir, userModelsDir } from '../paths.js';
import { importModel, type ImportOptions } from './modelImport.js';
import { ModelRegistry, type RegisteredModel } from './modelRegistry.js';

export const DEFAULT_MODEL_MARKER = 'default.json';

export function defaultRegistry(env: NodeJS.ProcessEnv = process.env): ModelRegistry {
  return new ModelRegistry({ builtin: builtinModelsDir, user: userModelsDir(env) });
}

export async function builtinDefaultModelId(): Promise<string | undefined> {
  try {
    const marker = JSON.parse(await fs.readFile(path.join(builtinModelsDir, DEFAULT_MODEL_MARKER), 'utf8')) as { id?: string };
    return marker.id;
  } catch {
    return undefined;
  }
}

export async function resolveModel(spec?: string, importOptions: ImportOptions = {}, registry = defaultRegistry()): Promise<RegisteredModel> {
  if (spec) {
    const isPath = /[\\/]/.test(spec) || spec.endsWith('.onnx');
    if (isPath && (await fs.stat(spec).catch(() => undefined))) return importModel(spec, registry, importOptions);
    return registry.get(spec);
  }
  const chosen = (await readSettings()).model;
  if (chosen) return registry.get(chosen);
  const id = await builtinDefaultModelId();
  if (id) return registry.get(id);
  throw new Error('No model is installed yet. Build the offline default with `npx sightline model prepare-default` (npm install does this), or add one with `npx sightline model add`.');
}
