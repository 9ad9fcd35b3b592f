// Where Sightline keeps its files. The OS convention for per-user app data, overridable with
// SIGHTLINE_DATA_DIR so tests and portable installs never touch the real profile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function appDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.SIGHTLINE_DATA_DIR) return path.resolve(env.SIGHTLINE_DATA_DIR);
  const home = os.homedir();
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Sightline');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Sightline');
  return path.join(env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'sightline');
}

/** The project root (where package.json and resources/ live): found by walking up, so the source and the dist/ build agree. */
export const projectRoot = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'app'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(start, '..');
  }
}

/**
 * Models generated at install time from registry-shipped weights (ignored by git). The packaged
 * desktop app ships them as an extra resource outside the asar and says where with
 * SIGHTLINE_BUILTIN_MODELS_DIR.
 */
export const builtinModelsDir = process.env.SIGHTLINE_BUILTIN_MODELS_DIR
  ? path.resolve(process.env.SIGHTLINE_BUILTIN_MODELS_DIR)
  : path.join(projectRoot, 'resources', 'models');

export function userModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(appDataDir(env), 'models');
}
