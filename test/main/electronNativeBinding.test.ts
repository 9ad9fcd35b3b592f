import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ELECTRON_NATIVE_DIR, ELECTRON_NATIVE_MANIFEST, findElectronSqliteBinding, unpackedPath, type ElectronNativeManifest } from '../../main/electronNativeBinding.js';
import { MANIFEST, NATIVE_DIR, SQLITE_BINDING } from '../../scripts/prepareElectronSqlite.mjs';

const runtime = { electron: '41.7.1', platform: 'linux', arch: 'x64', betterSqlite3: '12.11.1' };
const nativeDir = path.join('/opt/sightline/dist', ELECTRON_NATIVE_DIR);
const manifest: ElectronNativeManifest = { ...runtime, sqliteBinding: SQLITE_BINDING };

function lookup(found: Partial<ElectronNativeManifest> | null, present = true) {
  return findElectronSqliteBinding(
    nativeDir,
    runtime,
    () => {
      if (!found) throw new Error('ENOENT');
      return JSON.stringify(found);
    },
    () => present,
  );
}

describe('findElectronSqliteBinding', () => {
  it('agrees with the prepare script on where the manifest and the addon are', () => {
    expect(NATIVE_DIR).toBe(`dist/${ELECTRON_NATIVE_DIR}`);
    expect(MANIFEST).toBe(ELECTRON_NATIVE_MANIFEST);
  });

  it('finds the addon the manifest names when it was built for this Electron', () => {
    expect(lookup(manifest)).toEqual({ ok: true, path: path.join(nativeDir, ...SQLITE_BINDING.split('/')) });
  });

  it.each([
    ['another Electron', { electron: '40.0.0' }, /electron 40\.0\.0, this app runs 41\.7\.1/],
    ['another platform', { platform: 'darwin' }, /platform darwin/],
    ['another architecture', { arch: 'arm64' }, /arch arm64/],
    ['another better-sqlite3', { betterSqlite3: '11.0.0' }, /betterSqlite3 11\.0\.0/],
    ['a path out of its folder', { sqliteBinding: '../../evil.node' }, /names no SQLite addon/],
  ])('refuses an addon built for %s, naming the fix', (_name, change, reason) => {
    const result = lookup({ ...manifest, ...change });
    expect(result).toMatchObject({ ok: false, problem: expect.stringMatching(reason) });
    expect(result.ok || result.problem).toContain('npm start');
  });

  it('says what is missing when nothing was prepared, or the addon was removed', () => {
    expect(lookup(null)).toMatchObject({ ok: false, problem: expect.stringContaining("Electron's build of the SQLite addon is missing") });
    expect(lookup(manifest, false)).toMatchObject({ ok: false, problem: expect.stringContaining('better_sqlite3.node') });
  });
});

describe('unpackedPath', () => {
  it('points into app.asar.unpacked, where asarUnpack put the addon', () => {
    expect(unpackedPath('/opt/Sightline/resources/app.asar/dist/electron-native/x.node')).toBe('/opt/Sightline/resources/app.asar.unpacked/dist/electron-native/x.node');
    expect(unpackedPath('C:\\Sightline\\resources\\app.asar\\dist\\x.node')).toBe('C:\\Sightline\\resources\\app.asar.unpacked\\dist\\x.node');
    expect(unpackedPath('/work/main/dist/electron-native/x.node')).toBe('/work/main/dist/electron-native/x.node');
  });
});
