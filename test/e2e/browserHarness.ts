// What the end-to-end tests drive: Debian's Chromium through playwright-core, and `sightline serve`
// on a throwaway data folder and library, exactly as a user would start it.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The `chromium` on PATH, or null (the e2e tests then skip, saying why). */
export function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const found = execFileSync('which', [name], { encoding: 'utf8' }).trim();
      if (found) return fs.realpathSync(found);
    } catch {
      // not this one
    }
  }
  return null;
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

export interface ServedLibrary {
  url: string;
  dataDir: string;
  dbPath: string;
  /** Everything the server printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** The built UI must exist: the server refuses to start without it. */
export function rendererIsBuilt(): boolean {
  return fs.existsSync(path.join(projectRoot, 'dist', 'renderer', 'index.html'));
}

/**
 * Starts `sightline serve` on a free port, with its own data folder and library database, and
 * waits for the line that gives its URL.
 */
export async function serveLibrary(options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ServedLibrary> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-e2e-'));
  const dbPath = path.join(dataDir, 'library.db');
  const child: ChildProcess = spawn(process.execPath, [path.join(projectRoot, 'bin', 'sightline.js'), 'serve', '--db', dbPath, '--no-watch'], {
    cwd: projectRoot,
    env: { ...process.env, SIGHTLINE_DATA_DIR: dataDir, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sightline serve printed no URL within ${options.timeoutMs ?? 120_000} ms:\n${output}`)), options.timeoutMs ?? 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Sightline is serving on (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sightline serve exited with ${code} before serving:\n${output}`));
    });
  });
  return {
    url,
    dataDir,
    dbPath,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const forced = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(forced);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Copies some photos of each named subfolder into a fresh temporary folder (the originals are never touched). */
export function copyPhotoSubset(sourceDir: string, perFolder: number, folders?: string[]): string {
  const target = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-photos-'));
  const names = folders ?? fs.readdirSync(sourceDir).filter((d) => fs.statSync(path.join(sourceDir, d)).isDirectory());
  for (const folder of names) {
    fs.mkdirSync(path.join(target, folder));
    const files = fs
      .readdirSync(path.join(sourceDir, folder))
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()
      .slice(0, perFolder);
    for (const f of files) fs.copyFileSync(path.join(sourceDir, folder, f), path.join(target, folder, f));
  }
  return target;
}
