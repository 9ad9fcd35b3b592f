#!/usr/bin/env node
// Builds better-sqlite3 for Electron's ABI in a copy of the package under dist/electron-native, so
// the build in node_modules — the one the CLI and the tests load in plain Node — is never touched.
// A prebuilt addon is downloaded when better-sqlite3 publishes one for this Electron (prebuild-
// install); otherwise it is compiled against Electron's headers (node-gyp; needs a C++ toolchain).
// Then, where the Electron binary runs, it is loaded once in Electron to prove it opens a database.
// main/electronNativeBinding.ts reads the manifest this writes.
//
//   node scripts/prepareElectronSqlite.mjs [--force]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Relative to the project root; main/electronNativeBinding.ts and electron-builder.yml use the same. */
export const NATIVE_DIR = 'dist/electron-native';
export const MANIFEST = 'manifest.json';
const COPY_DIR = 'better-sqlite3';
/** Relative to NATIVE_DIR. */
export const SQLITE_BINDING = `${COPY_DIR}/build/Release/better_sqlite3.node`;

/**
 * @param {{ root: string, electronBinary?: string | null, force?: boolean, log?: (line: string) => void }} options
 * @returns {{ binding: string, manifest: string, reused: boolean }}
 */
export function prepareElectronSqlite({ root, electronBinary = null, force = false, log = (line) => console.log(line) }) {
  const require = createRequire(path.join(root, 'package.json'));
  const electron = readJson(require.resolve('electron/package.json')).version;
  const sqlitePackageJson = require.resolve('better-sqlite3/package.json');
  const sqliteDir = path.dirname(sqlitePackageJson);
  const betterSqlite3 = readJson(sqlitePackageJson).version;
  const nativeDir = path.join(root, ...NATIVE_DIR.split('/'));
  const manifestPath = path.join(nativeDir, MANIFEST);
  const binding = path.join(nativeDir, ...SQLITE_BINDING.split('/'));
  const wanted = { electron, platform: process.platform, arch: process.arch, betterSqlite3, sqliteBinding: SQLITE_BINDING };

  if (!force && fs.existsSync(binding) && sameManifest(manifestPath, wanted)) return { binding, manifest: manifestPath, reused: true };

  log(`Preparing SQLite (better-sqlite3 ${betterSqlite3}) for Electron ${electron} (${process.platform}-${process.arch})…`);
  // The manifest goes first: a half-built copy must never look ready.
  fs.rmSync(manifestPath, { force: true });
  const copyDir = path.join(nativeDir, COPY_DIR);
  fs.rmSync(copyDir, { recursive: true, force: true });
  fs.mkdirSync(nativeDir, { recursive: true });
  // Everything but node_modules' own build (Node's ABI) and anything nested that is not the package.
  fs.cpSync(sqliteDir, copyDir, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(sqliteDir, src).split(path.sep);
      return rel[0] !== 'build' && rel[0] !== 'node_modules';
    },
  });

  const target = ['--runtime=electron', `--target=${electron}`, `--arch=${process.arch}`];
  const prebuilt = run(process.execPath, [require.resolve('prebuild-install/bin.js'), ...target, `--platform=${process.platform}`, `--path=${copyDir}`], copyDir);
  if (!prebuilt.ok || !fs.existsSync(binding)) {
    log(`No prebuilt addon for Electron ${electron} (${prebuilt.detail}); compiling it against Electron's headers…`);
    const nodeGyp = findNodeGyp(require);
    if (!nodeGyp) throw new Error('node-gyp was not found (run this through npm, which ships it, or install node-gyp)');
    const compiled = run(process.execPath, [nodeGyp, 'rebuild', '--release', ...target, '--dist-url=https://electronjs.org/headers'], copyDir, 'inherit');
    if (!compiled.ok || !fs.existsSync(binding)) throw new Error(`compiling better-sqlite3 for Electron failed (${compiled.detail})`);
  }

  if (electronBinary) checkInElectron(electronBinary, sqliteDir, binding);
  fs.writeFileSync(manifestPath, `${JSON.stringify(wanted, null, 2)}\n`);
  log(`SQLite for Electron is ready: ${path.relative(root, binding)}`);
  return { binding, manifest: manifestPath, reused: false };
}

/** Opens an in-memory database with the addon inside Electron (run as Node): the ABI really fits. */
function checkInElectron(electronBinary, sqliteDir, binding) {
  const script = `const Database = require(${JSON.stringify(sqliteDir)}); const db = new Database(':memory:', { nativeBinding: ${JSON.stringify(binding)} }); db.prepare('select sqlite_version() as v').get(); db.close();`;
  const result = spawnSync(electronBinary, ['-e', script], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`the Electron build of better-sqlite3 does not load in Electron: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim().split('\n')[0]}`);
}

function findNodeGyp(require) {
  // npm tells its scripts where its own node-gyp is; a project-level one is the next best.
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed in the project
  }
  return candidates.find((c) => c && fs.existsSync(c)) ?? null;
}

function run(command, args, cwd, stdio = 'pipe') {
  const result = spawnSync(command, args, { cwd, stdio, encoding: 'utf8', timeout: 30 * 60_000 });
  if (result.error) return { ok: false, detail: result.error.message };
  if (result.status !== 0) {
    const lastLine = `${result.stderr ?? ''}`.trim().split('\n').pop();
    return { ok: false, detail: lastLine || `exit code ${result.status}` };
  }
  return { ok: true, detail: '' };
}

function sameManifest(manifestPath, wanted) {
  try {
    const found = readJson(manifestPath);
    return Object.entries(wanted).every(([key, value]) => found[key] === value);
  } catch {
    return false;
  }
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  let electronBinary = null;
  try {
    const candidate = createRequire(path.join(root, 'package.json'))('electron');
    if (typeof candidate === 'string' && fs.existsSync(candidate)) electronBinary = candidate;
  } catch {
    // Without the binary the addon is still built; only the load check is skipped.
  }
  try {
    const { binding, reused } = prepareElectronSqlite({ root, electronBinary, force: process.argv.includes('--force') });
    if (reused) console.log(`SQLite for Electron is already prepared: ${path.relative(root, binding)}`);
  } catch (e) {
    console.error(`Could not prepare SQLite for Electron: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
