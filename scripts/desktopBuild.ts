// The pieces of `npm start` (scripts/start.mjs) that are worth testing on their own: the Electron
// bundles esbuild makes, whether the renderer needs a rebuild, and whether to open the desktop
// window or — where Electron cannot run — the browser UI of `sightline serve`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { BUNDLE_DIR, CORE_BUNDLE, INFERENCE_WORKER_BUNDLE, MAIN_BUNDLE, PRELOAD_BUNDLE, RENDERER_DIR } from '../main/bundleLayout.js';

export interface DesktopBundle {
  entry: string;
  /** Relative to the project root. */
  outfile: string;
  format: 'cjs' | 'esm';
  /**
   * The preload runs sandboxed, where only 'electron' can be required: everything else it uses
   * (zod, through the contract) goes into the bundle. The others leave npm packages to
   * node_modules, where native addons and their files must stay.
   */
  inlinePackages: boolean;
}

export const DESKTOP_BUNDLES: readonly DesktopBundle[] = [
  { entry: 'main/main.ts', outfile: `${BUNDLE_DIR}/${MAIN_BUNDLE}`, format: 'cjs', inlinePackages: false },
  { entry: 'main/preload.ts', outfile: `${BUNDLE_DIR}/${PRELOAD_BUNDLE}`, format: 'cjs', inlinePackages: true },
  { entry: 'main/coreProcess.ts', outfile: `${BUNDLE_DIR}/${CORE_BUNDLE}`, format: 'esm', inlinePackages: false },
  { entry: 'app/engine/inferenceWorker.ts', outfile: `${BUNDLE_DIR}/${INFERENCE_WORKER_BUNDLE}`, format: 'esm', inlinePackages: false },
];

/** The module names a CommonJS bundle still requires at run time. */
export function requiredModules(bundleText: string): string[] {
  return [...new Set([...bundleText.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]))].sort();
}

/** Builds every bundle into `outDir` (default dist/main); returns the files written. */
export async function buildDesktopBundles(root: string, outDir = path.join(root, BUNDLE_DIR)): Promise<string[]> {
  const written: string[] = [];
  for (const bundle of DESKTOP_BUNDLES) {
    const outfile = path.join(outDir, path.basename(bundle.outfile));
    await esbuild.build({
      entryPoints: [path.join(root, bundle.entry)],
      outfile,
      bundle: true,
      platform: 'node',
      format: bundle.format,
      // Electron 41 ships Node 24; node20 also lets the bundles be checked in the Node that runs tests.
      target: 'node20',
      external: ['electron'],
      packages: bundle.inlinePackages ? undefined : 'external',
      sourcemap: 'linked',
      // The preload carries zod (through the contract's schemas) into every page load: minified, it is half the size.
      minify: bundle.inlinePackages,
      logLevel: 'warning',
    });
    if (bundle.entry === 'main/preload.ts') {
      const extra = requiredModules(fs.readFileSync(outfile, 'utf8')).filter((m) => m !== 'electron');
      if (extra.length) throw new Error(`the sandboxed preload would require ${extra.join(', ')}, which a sandboxed preload cannot load`);
    }
    written.push(outfile);
  }
  return written;
}

/** Newest modification time of the files under `dir` (0 when it does not exist). */
function newestMtime(target: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of fs.readdirSync(target)) {
    if (entry === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(path.join(target, entry)));
  }
  return newest;
}

/** What the renderer build reads (vite.config.ts): when any of it is newer than the built page, rebuild. */
export const RENDERER_SOURCES = ['renderer', 'app/api', 'vite.config.ts'];

export function rendererNeedsBuild(root: string): boolean {
  const built = newestMtime(path.join(root, RENDERER_DIR, 'index.html'));
  if (built === 0) return true;
  return RENDERER_SOURCES.some((source) => newestMtime(path.join(root, source)) > built);
}

/** What decides the launch: the machine's state, taken as functions so tests can stage any of it. */
export interface LaunchProbe {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  args: readonly string[];
  /** require('electron'): the binary's path; it throws where the binary was never downloaded. */
  locateElectron: () => string;
  exists: (file: string) => boolean;
  /** Runs the binary as Node for a moment: null when it ran, else why it did not. */
  tryRun: (binary: string) => string | null;
}

export type LaunchPlan = { mode: 'electron'; binary: string } | { mode: 'browser'; reason: string; asked: boolean };

export function chooseLaunch(probe: LaunchProbe): LaunchPlan {
  if (probe.args.includes('--browser') || probe.env.SIGHTLINE_BROWSER === '1') return { mode: 'browser', reason: 'you asked for the browser', asked: true };
  const unavailable = (reason: string): LaunchPlan => ({ mode: 'browser', reason, asked: false });
  let binary: string;
  try {
    binary = probe.locateElectron();
  } catch (e) {
    return unavailable(firstLine(e instanceof Error ? e.message : String(e)));
  }
  if (typeof binary !== 'string' || !binary) return unavailable('the electron package names no binary');
  if (!probe.exists(binary)) return unavailable(`its binary ${binary} is missing`);
  if (probe.platform === 'linux' && !probe.env.DISPLAY && !probe.env.WAYLAND_DISPLAY) return unavailable('there is no display to open a window on: DISPLAY and WAYLAND_DISPLAY are unset');
  const broken = probe.tryRun(binary);
  if (broken) return unavailable(`its binary does not run: ${broken}`);
  return { mode: 'electron', binary };
}

export function browserFallbackMessage(plan: Extract<LaunchPlan, { mode: 'browser' }>): string {
  return plan.asked
    ? 'Opening Sightline in your browser (sightline serve).'
    : `Electron is not available on this machine (${plan.reason}); opening Sightline in your browser instead`;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0].replace(/[.\s]+$/, '');
}

/** The real machine, for start.mjs. */
export function probeMachine(root: string, args: readonly string[]): LaunchProbe {
  return {
    platform: process.platform,
    env: process.env,
    args,
    locateElectron: () => createRequire(path.join(root, 'package.json'))('electron') as string,
    exists: (file) => fs.existsSync(file),
    tryRun: (binary) => {
      const result = spawnSync(binary, ['-e', 'process.stdout.write(process.versions.electron ?? "")'], {
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      if (result.error) return result.error.message;
      if (result.status !== 0) return firstLine(result.stderr || `exit code ${result.status}`);
      return result.stdout.trim() ? null : 'it is not an Electron binary';
    },
  };
}
