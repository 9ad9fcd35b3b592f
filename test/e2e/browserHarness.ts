// What the end-to-end tests drive: Debian's Chromium through playwright-core, and `sightline serve`
// on a throwaway data folder and library, exactly as a user would start it.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Where the e2e tests leave screenshots for a person to look at. */
export const screenshotDir = path.join(projectRoot, 'test-output', 'screenshots');

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

/**
 * What an e2e file needs to run here: Chromium on PATH and its data folder. `why` says what is
 * missing (and is warned about, naming the file), or is null.
 */
export function e2eRequirements(file: string, dataDir: string): { chromiumPath: string | null; why: string | null } {
  const chromiumPath = findChromium();
  const why = !chromiumPath ? 'no chromium on PATH' : !fs.existsSync(dataDir) ? `${dataDir} is missing` : null;
  if (why) console.warn(`${file}: skipped (${why})`);
  return { chromiumPath, why };
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

/** The JPEGs anywhere below a folder. */
export function countJpegs(dir: string): number {
  return fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.jpg')).length;
}

/** The server serves dist/renderer: build it from the sources under test, never a stale copy. */
export function buildRenderer(): void {
  execFileSync(process.execPath, [path.join(projectRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'error'], { cwd: projectRoot, stdio: 'inherit' });
}

/** A served throwaway library of some photos, open in a Chromium page. */
export interface BrowserLibrary {
  library: ServedLibrary;
  browser: Browser;
  page: Page;
  /** The folder of photos made for this library (removed on close). */
  photoDir: string;
  /** Page errors and console errors (CSP violations included) so far; failed API calls are shown as toasts on purpose and are not. */
  problems: string[];
  /** Closes the browser, stops the server, and removes the data and photo folders. */
  close(): Promise<void>;
}

/**
 * What every e2e file starts with: builds the UI, makes its folder of photos, serves a fresh
 * library with `sightline serve`, and opens it in a 1440×900 Chromium page that collects problems.
 */
export async function openBrowserLibrary(chromiumPath: string, options: { photos: () => string; env?: NodeJS.ProcessEnv }): Promise<BrowserLibrary> {
  buildRenderer();
  fs.mkdirSync(screenshotDir, { recursive: true });
  const photoDir = options.photos();
  let library: ServedLibrary | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await library?.stop();
    fs.rmSync(photoDir, { recursive: true, force: true });
  };
  try {
    library = await serveLibrary({ env: options.env });
    browser = await launchChromium(chromiumPath);
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(library.url);
    return { library, browser, page, photoDir, problems, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Adds a folder in the Library view by typing its path, as a user does; indexing then starts. */
export async function addFolderInUi(page: Page, dir: string): Promise<void> {
  await page.getByTestId('folder-path-input').fill(dir);
  await page.getByTestId('add-folder-button').click();
}

/** Waits until indexing is idle and the sidebar counts this many photos. */
export async function waitForIndexedPhotos(page: Page, count: number, timeoutMs = 480_000): Promise<void> {
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid=index-progress]')?.getAttribute('data-state') === 'idle' && document.querySelector('[data-testid=nav-photos] .count')?.textContent?.trim() === String(n),
    count,
    { timeout: timeoutMs, polling: 1000 },
  );
}
