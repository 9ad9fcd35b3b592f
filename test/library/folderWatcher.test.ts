// watchFolders on a real temp folder (@parcel/watcher's native backend): a file written in two
// chunks is reported once, after it stops growing; hidden and skipped paths are ignored;
// deletions are reported; nothing arrives after close().
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { watchFolders, type FolderWatch } from '../../app/library/folderWatcher.js';

const DEBOUNCE = 100;
const SETTLE = 400;

let tmp: string;
let watch: FolderWatch | undefined;

function mkdir(p: string): string {
  fs.mkdirSync(p, { recursive: true });
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('timed out waiting for the watcher');
    await sleep(20);
  }
}

interface Report {
  at: number;
  paths: string[];
  /** Sizes at the moment of the report, to prove the file had finished growing. */
  sizes: Record<string, number | null>;
}

function start(root: string, opts: Parameters<typeof watchFolders>[2] = {}) {
  const reports: Report[] = [];
  const errors: Error[] = [];
  watch = watchFolders([root], (paths) => {
    const sizes: Record<string, number | null> = {};
    for (const p of paths) sizes[p] = fs.existsSync(p) ? fs.statSync(p).size : null;
    reports.push({ at: Date.now(), paths, sizes });
  }, { debounceMs: DEBOUNCE, settleMs: SETTLE, onError: (e) => errors.push(e), ...opts });
  return { reports, errors, ready: watch.ready };
}

beforeAll(() => {
  // realpath: the watcher reports real paths, and the temp dir may sit behind a symlink (macOS /var).
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-watch-')));
});

afterEach(async () => {
  await watch?.close();
  watch = undefined;
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('watchFolders', () => {
  it('reports a file written in two chunks once, after it stops growing', async () => {
    const root = mkdir(path.join(tmp, 'growing'));
    const { reports, errors, ready } = start(root);
    await ready;
    const file = path.join(root, 'import.jpg');
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, Buffer.alloc(100_000, 1));
    // Longer than the debounce (so the burst is examined) but shorter than the settle time.
    await sleep(DEBOUNCE + 150);
    fs.writeSync(fd, Buffer.alloc(50_000, 2));
    fs.closeSync(fd);
    const lastWrite = Date.now();
    await waitFor(() => reports.length > 0);
    // Give a late duplicate a chance to show up.
    await sleep(SETTLE + 300);
    expect(reports).toHaveLength(1);
    expect(reports[0].paths).toEqual([file]);
    expect(reports[0].sizes[file]).toBe(150_000);
    expect(reports[0].at - lastWrite).toBeGreaterThanOrEqual(SETTLE - 50);
    expect(errors).toEqual([]);
  });

  it('coalesces a burst of files into one report and reports deletions', async () => {
    const root = mkdir(path.join(tmp, 'burst'));
    const { reports, ready } = start(root);
    await ready;
    const files = ['a.jpg', 'b.jpg', 'c.jpg'].map((n) => path.join(root, n));
    for (const f of files) fs.writeFileSync(f, 'x'.repeat(1000));
    await waitFor(() => reports.length > 0);
    await sleep(DEBOUNCE * 2);
    expect(reports.map((r) => r.paths)).toEqual([files]);

    fs.unlinkSync(files[1]);
    await waitFor(() => reports.length > 1);
    expect(reports[1].paths).toEqual([files[1]]);
    expect(reports[1].sizes[files[1]]).toBeNull();
    // Deletions do not wait for the settle time.
    expect(reports[1].at - reports[0].at).toBeLessThan(SETTLE + DEBOUNCE + 2000);
  });

  it('ignores hidden files and folders and the skipped data dir', async () => {
    const root = mkdir(path.join(tmp, 'quiet'));
    const data = path.join(root, 'sightline-data');
    fs.mkdirSync(data);
    fs.mkdirSync(path.join(root, '.git'));
    const { reports, ready } = start(root, { skipDirs: [data] });
    await ready;
    fs.writeFileSync(path.join(root, '.partial-download.jpg'), 'x');
    fs.writeFileSync(path.join(root, '.git', 'index'), 'x');
    fs.writeFileSync(path.join(data, 'thumb.webp'), 'x');
    await sleep(DEBOUNCE + SETTLE + 400);
    expect(reports).toEqual([]);
    // The watch is alive: a visible file still gets through.
    const visible = path.join(root, 'visible.jpg');
    fs.writeFileSync(visible, 'x');
    await waitFor(() => reports.length > 0);
    expect(reports[0].paths).toEqual([visible]);
  });

  it('watches a folder that itself lives under a dot-folder', async () => {
    const root = mkdir(path.join(tmp, '.config', 'Pictures'));
    const { reports, ready } = start(root);
    await ready;
    fs.writeFileSync(path.join(root, 'p.jpg'), 'x');
    await waitFor(() => reports.length > 0);
    expect(reports[0].paths).toEqual([path.join(root, 'p.jpg')]);
  });

  it('reports nothing after close, and a missing folder through onError', async () => {
    const root = mkdir(path.join(tmp, 'closing'));
    const { reports, ready } = start(root);
    await ready;
    fs.writeFileSync(path.join(root, 'late.jpg'), 'x');
    await watch!.close();
    watch = undefined;
    await sleep(DEBOUNCE + SETTLE + 300);
    expect(reports).toEqual([]);

    const missing = start(path.join(tmp, 'no-such-folder'));
    await missing.ready;
    expect(missing.errors.length).toBe(1);
  });
});
