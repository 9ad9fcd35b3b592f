// better-sqlite3 is a V8 addon: the build in node_modules matches the Node that runs the CLI and the
// tests, not Electron. scripts/prepareElectronSqlite.mjs builds a second copy for Electron's ABI
// under dist/electron-native and records it in a manifest; this module finds that copy, and the
// core's process hands it to better-sqlite3 through SIGHTLINE_SQLITE_BINDING (libraryDatabase.ts).
import fs from 'node:fs';
import path from 'node:path';

/** Under dist/: the Electron builds of native addons. */
export const ELECTRON_NATIVE_DIR = 'electron-native';
export const ELECTRON_NATIVE_MANIFEST = 'manifest.json';
/** The environment variable openLibraryDatabase reads. */
export const SQLITE_BINDING_ENV = 'SIGHTLINE_SQLITE_BINDING';

/** What prepareElectronSqlite.mjs writes next to the build. */
export interface ElectronNativeManifest {
  electron: string;
  platform: string;
  arch: string;
  betterSqlite3: string;
  /** The addon, relative to the manifest's folder, with forward slashes. */
  sqliteBinding: string;
}

export interface ElectronRuntime {
  electron: string;
  platform: string;
  arch: string;
  /** The version of better-sqlite3's JavaScript that will load the addon. */
  betterSqlite3: string;
}

export type SqliteBindingLookup = { ok: true; path: string } | { ok: false; problem: string };

const PREPARE_HINT = 'run `npm start` (or `node scripts/prepareElectronSqlite.mjs`) to build it';

export function checkManifest(manifest: Partial<ElectronNativeManifest>, runtime: ElectronRuntime): string | null {
  for (const key of ['electron', 'platform', 'arch', 'betterSqlite3'] as const) {
    if (manifest[key] !== runtime[key]) {
      return `the SQLite addon in ${ELECTRON_NATIVE_DIR} was built for ${key} ${String(manifest[key])}, this app runs ${runtime[key]}`;
    }
  }
  if (typeof manifest.sqliteBinding !== 'string' || manifest.sqliteBinding.split('/').includes('..')) return 'the native manifest names no SQLite addon';
  return null;
}

/**
 * The Electron build of better-sqlite3 under `nativeDir`, checked against the running Electron.
 * A mismatch is reported, not loaded: an addon of another ABI fails deep inside the core with a
 * message that names neither Sightline nor the fix.
 */
export function findElectronSqliteBinding(nativeDir: string, runtime: ElectronRuntime, readFile: (file: string) => string = (f) => fs.readFileSync(f, 'utf8'), exists: (file: string) => boolean = fs.existsSync): SqliteBindingLookup {
  const manifestPath = path.join(nativeDir, ELECTRON_NATIVE_MANIFEST);
  let manifest: Partial<ElectronNativeManifest>;
  try {
    manifest = JSON.parse(readFile(manifestPath)) as Partial<ElectronNativeManifest>;
  } catch {
    return { ok: false, problem: `Electron's build of the SQLite addon is missing (${manifestPath}); ${PREPARE_HINT}` };
  }
  const mismatch = checkManifest(manifest, runtime);
  if (mismatch) return { ok: false, problem: `${mismatch}; ${PREPARE_HINT}` };
  const binding = path.join(nativeDir, ...manifest.sqliteBinding!.split('/'));
  if (!exists(binding)) return { ok: false, problem: `Electron's build of the SQLite addon is missing (${binding}); ${PREPARE_HINT}` };
  return { ok: true, path: unpackedPath(binding) };
}

/**
 * A native addon cannot be dlopen()ed from inside app.asar; electron-builder's asarUnpack puts it in
 * app.asar.unpacked beside it, and this is the path to load it from.
 */
export function unpackedPath(file: string): string {
  return file.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
}
