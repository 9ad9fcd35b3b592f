// electron-builder.yml, checked without building an installer (that needs each target OS): the
// schema electron-builder itself validates against, the targets, native files unpacked from the
// asar, the model shipped beside it, and `files` naming only things that exist or that the build makes.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PACKAGED_MODELS_DIR, RENDERER_DIR } from '../../main/bundleLayout.js';
import { MANIFEST, NATIVE_DIR, SQLITE_BINDING } from '../../scripts/prepareElectronSqlite.mjs';
import { DESKTOP_BUNDLES } from '../../scripts/desktopBuild.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
// The matcher electron-builder applies its file patterns with.
const minimatch = require('minimatch') as (file: string, pattern: string, options?: { dot?: boolean }) => boolean;

interface FileSet {
  from?: string;
  to?: string;
  filter?: string | string[];
}

interface BuilderConfig {
  appId: string;
  productName: string;
  directories: { output: string };
  files: string[];
  asarUnpack: string[];
  extraResources: FileSet[];
  npmRebuild: boolean;
  linux: { target: string[] };
  win: { target: string[] };
  mac: { target: string[] };
}

let config: BuilderConfig;

beforeAll(() => {
  config = parse(fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig;
});

const matchesAny = (file: string, patterns: string[]) => patterns.some((p) => minimatch(file, p, { dot: true }));

/** The production dependency closure (dependencies + optionalDependencies), resolved as Node resolves it. */
function productionPackages(): string[] {
  const found = new Set<string>();
  const visit = (pkgDir: string) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      for (let dir = pkgDir; ; dir = path.dirname(dir)) {
        const candidate = path.join(dir, 'node_modules', name);
        if (fs.existsSync(path.join(candidate, 'package.json'))) {
          if (!found.has(candidate)) {
            found.add(candidate);
            visit(candidate);
          }
          break;
        }
        if (dir === ROOT || path.dirname(dir) === dir) break;
      }
    }
  };
  visit(ROOT);
  return [...found];
}

function nativeFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...nativeFilesUnder(full));
    } else if (/\.(node|dylib|dll)$|\.so(\.\d+)*$/.test(entry.name)) out.push(full);
  }
  return out;
}

describe('electron-builder.yml', () => {
  it('passes electron-builder own validation', async () => {
    const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      getConfig: (projectDir: string, configPath: string | null, fromOptions: null) => Promise<object>;
      validateConfiguration: (config: object, logger: object) => Promise<void>;
    };
    const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => object };
    const loaded = await getConfig(ROOT, path.join(ROOT, 'electron-builder.yml'), null);
    await expect(validateConfiguration(loaded, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('names the app and builds AppImage + deb, NSIS and DMG', () => {
    expect(config.appId).toBe('app.sightline.desktop');
    expect(config.productName).toBe('Sightline');
    expect(config.linux.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(['dmg']);
  });

  it('unpacks every native file of the production dependencies from the asar', () => {
    const packages = productionPackages();
    for (const name of ['better-sqlite3', 'sharp', 'onnxruntime-node', '@parcel/watcher']) expect(packages).toContain(path.join(ROOT, 'node_modules', name));
    const native = packages.flatMap(nativeFilesUnder).map((f) => path.relative(ROOT, f).split(path.sep).join('/'));
    expect(native.length).toBeGreaterThan(3);
    expect(native.filter((f) => !matchesAny(f, config.asarUnpack))).toEqual([]);
  });

  it('unpacks and packs the Electron build of SQLite that main.ts hands to the core', () => {
    const binding = `${NATIVE_DIR}/${SQLITE_BINDING}`;
    expect(matchesAny(binding, config.asarUnpack)).toBe(true);
    expect(matchesAny(binding, config.files)).toBe(true);
    expect(matchesAny(`${NATIVE_DIR}/${MANIFEST}`, config.files)).toBe(true);
  });

  it('ships the offline default model beside the asar, where main.ts looks for it', () => {
    const models = config.extraResources.find((r) => r.from === 'resources/models');
    expect(models).toMatchObject({ to: PACKAGED_MODELS_DIR });
    expect(fs.existsSync(path.join(ROOT, 'resources', 'models'))).toBe(true);
  });

  it('lists in files only what exists or what npm run dist builds, and everything the app loads', () => {
    const built = [...DESKTOP_BUNDLES.map((b) => b.outfile), `${RENDERER_DIR}/index.html`, `${NATIVE_DIR}/${MANIFEST}`, `${NATIVE_DIR}/${SQLITE_BINDING}`];
    for (const pattern of config.files) {
      const base = pattern.split(/[*{?[]/)[0].replace(/\/$/, '');
      const made = built.some((file) => file === base || file.startsWith(`${base}/`));
      expect(made || fs.existsSync(path.join(ROOT, base)), `${pattern} names neither a file of the project nor an output of the build`).toBe(true);
    }
    for (const file of built) expect(matchesAny(file, config.files), `${file} is not packaged`).toBe(true);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string };
    expect(matchesAny(pkg.main, config.files)).toBe(true);
  });

  it('keeps installers out of the next package, and node_modules as it is', () => {
    expect(config.directories.output.startsWith('dist/')).toBe(true);
    expect(matchesAny(`${config.directories.output}/Sightline-0.1.0.AppImage`, config.files)).toBe(false);
    // A rebuild would recompile node_modules' better-sqlite3 in place, for Electron, under the tests' feet.
    expect(config.npmRebuild).toBe(false);
  });
});
