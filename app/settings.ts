// User settings that outlive a run (the chosen model, consent given for downloads), kept as one
// JSON file in the app data dir and replaced atomically.
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeAtomic } from './engine/modelRegistry.js';
import { appDataDir } from './paths.js';

const settingsSchema = z.object({
  /** Model id chosen with `sightline model use`. */
  model: z.string().optional(),
}).passthrough();

export type Settings = z.infer<typeof settingsSchema>;

export function settingsFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(appDataDir(env), 'settings.json');
}

export async function readSettings(env: NodeJS.ProcessEnv = process.env): Promise<Settings> {
  try {
    return settingsSchema.parse(JSON.parse(await fs.readFile(settingsFile(env), 'utf8')));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`${settingsFile(env)} is not valid settings JSON (${(e as Error).message}); fix or delete it`);
  }
}

export async function updateSettings(patch: Partial<Settings>, env: NodeJS.ProcessEnv = process.env): Promise<Settings> {
  const next = { ...(await readSettings(env)), ...patch };
  await fs.mkdir(path.dirname(settingsFile(env)), { recursive: true });
  await writeAtomic(settingsFile(env), JSON.stringify(next, null, 2) + '\n');
  return next;
}
