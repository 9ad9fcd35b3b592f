// `npm start`'s decisions: Electron or the browser, which bundles, when to rebuild the renderer.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_DIR, MAIN_BUNDLE } from '../../main/bundleLayout.js';
import { browserFallbackMessage, chooseLaunch, DESKTOP_BUNDLES, rendererNeedsBuild, type LaunchProbe } from '../../scripts/desktopBuild.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ELECTRON = '/opt/electron/electron';

function probe(overrides: Partial<LaunchProbe> = {}): LaunchProbe {
  return {
    platform: 'linux',
    env: { DISPLAY: ':0' },
    args: [],
    locateElectron: () => ELECTRON,
    exists: () => true,
    tryRun: () => null,
    ...overrides,
  };
}

describe('chooseLaunch', () => {
  it('opens Electron where its binary is there and runs', () => {
    expect(chooseLaunch(probe())).toEqual({ mode: 'electron', binary: ELECTRON });
    expect(chooseLaunch(probe({ env: { WAYLAND_DISPLAY: 'wayland-0' } }))).toEqual({ mode: 'electron', binary: ELECTRON });
    expect(chooseLaunch(probe({ platform: 'darwin', env: {} }))).toEqual({ mode: 'electron', binary: ELECTRON });
    expect(chooseLaunch(probe({ platform: 'win32', env: {} }))).toEqual({ mode: 'electron', binary: ELECTRON });
  });

  it('falls back to the browser, saying why, when the binary was never downloaded (this machine)', () => {
    const plan = chooseLaunch(
      probe({
        locateElectron: () => {
          throw new Error('Electron failed to install correctly, please delete node_modules/electron and try installing again');
        },
      }),
    );
    expect(plan).toEqual({ mode: 'browser', asked: false, reason: 'Electron failed to install correctly, please delete node_modules/electron and try installing again' });
    expect(browserFallbackMessage(plan as Extract<typeof plan, { mode: 'browser' }>)).toBe(
      'Electron is not available on this machine (Electron failed to install correctly, please delete node_modules/electron and try installing again); opening Sightline in your browser instead',
    );
  });

  it('falls back when the binary is missing, cannot run, or has no display to open on', () => {
    expect(chooseLaunch(probe({ exists: () => false }))).toMatchObject({ mode: 'browser', reason: `its binary ${ELECTRON} is missing` });
    expect(chooseLaunch(probe({ tryRun: () => 'error while loading shared libraries: libgtk-3.so.0' }))).toMatchObject({
      mode: 'browser',
      reason: 'its binary does not run: error while loading shared libraries: libgtk-3.so.0',
    });
    expect(chooseLaunch(probe({ env: {} }))).toMatchObject({ mode: 'browser', reason: expect.stringContaining('no display') });
  });

  it('opens the browser when asked, whatever Electron could do', () => {
    expect(chooseLaunch(probe({ args: ['--browser'] }))).toMatchObject({ mode: 'browser', asked: true });
    expect(chooseLaunch(probe({ env: { DISPLAY: ':0', SIGHTLINE_BROWSER: '1' } }))).toMatchObject({ mode: 'browser', asked: true });
  });

  it('checks cheaply first: no binary is run when there is none', () => {
    let ran = false;
    chooseLaunch(
      probe({
        exists: () => false,
        tryRun: () => {
          ran = true;
          return null;
        },
      }),
    );
    expect(ran).toBe(false);
  });
});

describe('npm start on this machine', () => {
  it('says Electron is not available and that the browser opens instead', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs'), '--dry-run'], {
      cwd: ROOT,
      // No display: even a machine with a working Electron takes the browser path here.
      env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' },
    });
    if (process.platform === 'linux') {
      expect(stdout).toMatch(/^Electron is not available on this machine \(.+\); opening Sightline in your browser instead\n/);
      expect(stdout).toContain('would run: node bin/sightline.js serve --open');
    }
  }, 60_000);
});

describe('the desktop bundles', () => {
  it('start Electron from the main bundle package.json names', async () => {
    const pkg = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { main?: string; scripts?: Record<string, string> };
    expect(pkg.main).toBe(`${BUNDLE_DIR}/${MAIN_BUNDLE}`);
    expect(DESKTOP_BUNDLES.map((b) => b.outfile)).toContain(pkg.main);
    expect(pkg.scripts?.start).toBe('node scripts/start.mjs');
  });

  it('build from entries that exist, the preload alone carrying its packages', async () => {
    for (const bundle of DESKTOP_BUNDLES) await expect(fs.access(path.join(ROOT, bundle.entry))).resolves.toBeUndefined();
    expect(DESKTOP_BUNDLES.filter((b) => b.inlinePackages).map((b) => b.entry)).toEqual(['main/preload.ts']);
  });
});

describe('rendererNeedsBuild', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-start-'));
    await fs.mkdir(path.join(tmp, 'renderer', 'lib'), { recursive: true });
    await fs.mkdir(path.join(tmp, 'app', 'api'), { recursive: true });
    await fs.writeFile(path.join(tmp, 'renderer', 'lib', 'view.svelte'), '');
    await fs.writeFile(path.join(tmp, 'app', 'api', 'contract.ts'), '');
    await fs.writeFile(path.join(tmp, 'vite.config.ts'), '');
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const touch = (file: string, secondsAgo: number) => fs.utimes(path.join(tmp, file), new Date(Date.now() - secondsAgo * 1000), new Date(Date.now() - secondsAgo * 1000));

  it('builds when there is no build, or a source is newer than it, and not otherwise', async () => {
    expect(rendererNeedsBuild(tmp)).toBe(true);
    await fs.mkdir(path.join(tmp, 'dist', 'renderer'), { recursive: true });
    await fs.writeFile(path.join(tmp, 'dist', 'renderer', 'index.html'), '');
    for (const f of ['renderer/lib/view.svelte', 'app/api/contract.ts', 'vite.config.ts']) await touch(f, 60);
    expect(rendererNeedsBuild(tmp)).toBe(false);
    await touch('app/api/contract.ts', 0);
    await touch('dist/renderer/index.html', 30);
    expect(rendererNeedsBuild(tmp)).toBe(true);
  });
});
