#!/usr/bin/env node
// `npm start`: build what the desktop app runs (the renderer, the Electron bundles, SQLite for
// Electron's ABI) and open it. Where Electron cannot run — its binary was never downloaded, there
// is no display — it says why and opens the same UI in the browser through `sightline serve`.
//
//   npm start                 the desktop app, or the browser where Electron is not available
//   npm start -- --browser    the browser UI in any case
//   npm start -- --build-only build everything the installers package, open nothing
//   npm start -- --dry-run    say what would open, and why, without building or opening anything
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The decision and the bundle list are TypeScript (tested under test/main); tsx runs them from source.
register();
const { browserFallbackMessage, buildDesktopBundles, chooseLaunch, probeMachine, rendererNeedsBuild } = await import('./desktopBuild.ts');
const { prepareElectronSqlite } = await import('./prepareElectronSqlite.mjs');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const buildOnly = args.includes('--build-only');
const dryRun = args.includes('--dry-run');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function buildRenderer() {
  const scripts = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts ?? {};
  if (!scripts['build:renderer']) {
    console.warn('There is no build:renderer script yet; using whatever is in dist/renderer.');
    return;
  }
  if (!rendererNeedsBuild(root)) return;
  console.log('Building the renderer…');
  const result = spawnSync(npm, ['run', '--silent', 'build:renderer'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    console.error('The renderer build failed; see above.');
    process.exit(result.status ?? 1);
  }
}

/**
 * Runs the child until it exits, then exits with its code. On POSIX it gets a process group of its
 * own, so a Ctrl-C reaches it once — passed on by us — and not also straight from the terminal:
 * `npm run` relays the signal to us as well, and a second SIGINT would cut the child's clean
 * shutdown short. Repeats within half a second are those relays, and are dropped.
 */
function runForeground(command, commandArgs, env = process.env) {
  const child = spawn(command, commandArgs, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env, detached: process.platform !== 'win32' });
  const lastRelayed = new Map();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      const now = Date.now();
      if (now - (lastRelayed.get(signal) ?? 0) < 500) return;
      lastRelayed.set(signal, now);
      child.kill(signal);
    });
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  child.on('error', (e) => {
    console.error(`Could not start ${command}: ${e.message}`);
    process.exit(1);
  });
}

const serveArgs = [path.join(root, 'bin', 'sightline.js'), 'serve', '--open'];

function openInBrowser(message) {
  console.log(message);
  runForeground(process.execPath, serveArgs);
}

const plan = buildOnly ? { mode: 'build' } : chooseLaunch(probeMachine(root, args));
if (dryRun) {
  if (plan.mode === 'browser') console.log(`${browserFallbackMessage(plan)}\nwould run: node ${serveArgs.map((a) => (path.isAbsolute(a) ? path.relative(root, a) : a)).join(' ')}`);
  else if (plan.mode === 'electron') console.log(`would build dist/ and run: ${plan.binary} ${root}`);
  else console.log('would build dist/ for the installers');
  process.exit(0);
}
buildRenderer();

if (plan.mode === 'browser') {
  openInBrowser(browserFallbackMessage(plan));
} else {
  await buildDesktopBundles(root);
  let electronBinary = plan.mode === 'electron' ? plan.binary : null;
  try {
    prepareElectronSqlite({ root, electronBinary });
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    if (buildOnly) {
      console.error(`Could not prepare SQLite for Electron: ${detail}`);
      process.exit(1);
    }
    electronBinary = null;
    openInBrowser(browserFallbackMessage({ mode: 'browser', reason: `SQLite could not be prepared for it: ${detail}`, asked: false }));
  }
  if (buildOnly) {
    console.log('Built the renderer, the Electron bundles and SQLite for Electron into dist/.');
  } else if (electronBinary) {
    // ELECTRON_RUN_AS_NODE from the user's shell would turn the app into a plain Node script.
    const env = { ...process.env };
    delete env.ELECTRON_RUN_AS_NODE;
    runForeground(electronBinary, [root], env);
  }
}
