// Kills the indexer with SIGKILL at several moments, restarts it, and checks that the database
// is intact, that no photo is lost or duplicated, and that indexing completes.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const PHOTOS = 40;

let tmp: string;
let folder: string;
let dbPath: string;

function runIndex(killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/sightline.js', 'index', folder, '--db', dbPath, '--json'], {
      cwd: ROOT,
      env: { ...process.env, SIGHTLINE_DATA_DIR: path.join(tmp, 'data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout });
    });
  });
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-crash-'));
  folder = path.join(tmp, 'photos');
  dbPath = path.join(tmp, 'library.db');
  await fs.mkdir(folder);
  const src = path.join(DATA, 'paris6k-mini/images/louvre');
  const names = (await fs.readdir(src)).sort().slice(0, PHOTOS);
  // Symlinks: the shared photos are read in place, never copied.
  for (const n of names) await fs.symlink(path.join(src, n), path.join(folder, n));
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('indexing survives SIGKILL', () => {
  it('keeps the database intact and completes after being killed at several moments', async () => {
    // Deterministic "random" moments spread over start-up, scanning and describing.
    const moments = [1500, 2600, 3700, 5200];
    let killed = 0;
    for (const ms of moments) {
      const r = await runIndex(ms);
      if (r.signal === 'SIGKILL') killed++;
      // A kill before the database file was created leaves nothing to check.
      if (!(await fs.stat(dbPath).catch(() => null))) continue;
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        expect(db.prepare('PRAGMA integrity_check').pluck().get()).toBe('ok');
        const dupHashes = db.prepare('SELECT COUNT(*) FROM (SELECT content_hash FROM photos GROUP BY content_hash HAVING COUNT(*) > 1)').pluck().get();
        expect(dupHashes).toBe(0);
        const dupPaths = db.prepare('SELECT COUNT(*) FROM (SELECT path FROM photo_files GROUP BY path HAVING COUNT(*) > 1)').pluck().get();
        expect(dupPaths).toBe(0);
      } catch (e) {
        // A kill before the schema exists leaves nothing to check.
        if (!/no such table/.test((e as Error).message)) throw e;
      } finally {
        db.close();
      }
    }
    expect(killed).toBeGreaterThan(0);

    const final = await runIndex();
    expect(final.code).toBe(0);
    const summary = JSON.parse(final.stdout) as { photos: Record<string, number> };
    expect(summary.photos.indexed).toBe(PHOTOS);

    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare('PRAGMA integrity_check').pluck().get()).toBe('ok');
      expect(db.prepare('SELECT COUNT(*) FROM photos').pluck().get()).toBe(PHOTOS);
      expect(db.prepare('SELECT COUNT(*) FROM photo_files WHERE present = 1').pluck().get()).toBe(PHOTOS);
      expect(db.prepare("SELECT COUNT(*) FROM photos WHERE status != 'indexed'").pluck().get()).toBe(0);
      expect(db.prepare('SELECT COUNT(DISTINCT photo_id) FROM descriptors').pluck().get()).toBe(PHOTOS);
    } finally {
      db.close();
    }
  }, 240_000);
});
