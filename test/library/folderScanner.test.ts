// scanFolder over a hostile folder built in a temp dir (broken, empty, misnamed, unreadable and
// special files, symlink loops, non-UTF-8 names, a file deleted mid-scan) and over the near-dup
// data set, which is read in place.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanFolder, type ScanEntry, type ScanOptions } from '../../app/library/folderScanner.js';
import { quickHash } from '../../app/library/contentHash.js';

const NEAR_DUP = fileURLToPath(new URL('../../../shared/data/near-dup/', import.meta.url));
const SCANNER_MODULE = fileURLToPath(new URL('../../app/library/folderScanner.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

async function scan(root: string, opts: ScanOptions = {}): Promise<ScanEntry[]> {
  const out: ScanEntry[] = [];
  for await (const e of scanFolder(root, opts)) out.push(e);
  return out;
}

/** Entries keyed by path relative to root, with what matters for the assertions. */
function summary(root: string, entries: ScanEntry[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const rel = path.relative(root, e.displayPath) || '.';
    out[rel] = e.kind === 'file' ? `file:${e.imageKind}` : `${e.kind}:${e.code}`;
  }
  return out;
}

const NON_UTF8_FILE = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2d, 0xff, 0x2e, 0x6a, 0x70, 0x67]); // "caf\xe9-\xff.jpg" (Latin-1)
const NON_UTF8_DIR = Buffer.from([0x72, 0xe9, 0x73, 0x75, 0x6d, 0xe9]); // "r\xe9sum\xe9"

let tmp: string;
let root: string;
let jpeg: Buffer;
let png: Buffer;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-scan-'));
  root = path.join(tmp, 'library');
  jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#468' } }).jpeg().toBuffer();
  png = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#864' } }).png().toBuffer();
  const w = (rel: string, data: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  };
  w('a-good.jpg', jpeg);
  w('b-truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.4)));
  w('c-empty.jpg', '');
  w('d-text.jpg', 'This is a shopping list, not a photo.\n');
  w('e-drawing.svg', '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
  w('f-really-a-png.jpg', png);
  w('.hidden.jpg', jpeg);
  w('.hidden-dir/inside.jpg', jpeg);
  w('album/photo.png', png);
  w('album/nested/deeper.jpg', jpeg);
  w('folder-named.jpg/inside.png', png);
  w('sightline-data/thumbnails/ab/q1-ab.webp', await sharp(png).webp().toBuffer());
  w('z-last.jpg', jpeg);
  // A named pipe with a photo's name: opening it to sniff would block the scan forever.
  const fifo = spawnSync('mkfifo', [path.join(root, 'g-pipe.jpg')]);
  if (fifo.status !== 0) throw new Error(`mkfifo failed: ${fifo.stderr}`);
  // Loops: a link to the folder's parent, and one to the folder itself.
  fs.symlinkSync('..', path.join(root, 'album', 'up'));
  fs.symlinkSync('.', path.join(root, 'album', 'nested', 'self'));
  // A second way into a folder of this scan: its photos are listed once, under the real path.
  fs.symlinkSync('album', path.join(root, 'a-link-to-album'));
  // A link to a folder outside the scan is followed.
  fs.mkdirSync(path.join(tmp, 'elsewhere'));
  fs.writeFileSync(path.join(tmp, 'elsewhere', 'outside.jpg'), jpeg);
  fs.symlinkSync(path.join(tmp, 'elsewhere'), path.join(root, 'linked-elsewhere'));
  fs.symlinkSync('does-not-exist.jpg', path.join(root, 'h-broken-link.jpg'));
  fs.symlinkSync('i-loop-b.jpg', path.join(root, 'i-loop-a.jpg'));
  fs.symlinkSync('i-loop-a.jpg', path.join(root, 'i-loop-b.jpg'));
  // Names that are not valid UTF-8: created and later reopened by their exact bytes.
  const rootBytes = Buffer.from(root);
  fs.writeFileSync(Buffer.concat([rootBytes, Buffer.from('/'), NON_UTF8_FILE]), jpeg);
  fs.mkdirSync(Buffer.concat([rootBytes, Buffer.from('/'), NON_UTF8_DIR]));
  fs.writeFileSync(Buffer.concat([rootBytes, Buffer.from('/'), NON_UTF8_DIR, Buffer.from('/inner.png')]), png);
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('scanFolder on a hostile folder', () => {
  it('classifies every entry, skips hidden and data dirs, and reports loops once', async () => {
    const entries = await scan(root, { skipDirs: [path.join(root, 'sightline-data')] });
    const s = summary(root, entries);
    const replacementFile = NON_UTF8_FILE.toString('utf8');
    const replacementDir = NON_UTF8_DIR.toString('utf8');
    expect(s).toEqual({
      'a-good.jpg': 'file:jpeg',
      // The scanner only sniffs; the decoder is what finds the damage.
      'b-truncated.jpg': 'file:jpeg',
      'c-empty.jpg': 'skipped:empty',
      'd-text.jpg': 'skipped:not-an-image',
      'e-drawing.svg': 'skipped:not-an-image',
      'f-really-a-png.jpg': 'file:png',
      'album/photo.png': 'file:png',
      'album/nested/deeper.jpg': 'file:jpeg',
      'album/nested/self': 'skipped:symlink-loop',
      'album/up': 'skipped:symlink-loop',
      'folder-named.jpg/inside.png': 'file:png',
      'g-pipe.jpg': 'skipped:unreadable',
      'h-broken-link.jpg': 'skipped:unreadable',
      'i-loop-a.jpg': 'skipped:symlink-loop',
      'i-loop-b.jpg': 'skipped:symlink-loop',
      'linked-elsewhere/outside.jpg': 'file:jpeg',
      [replacementFile]: 'file:jpeg',
      [`${replacementDir}/inner.png`]: 'file:png',
      'z-last.jpg': 'file:jpeg',
    });
    expect(entries.filter((e) => e.kind === 'skipped' && e.code === 'symlink-loop')).toHaveLength(4);
    const byName = (name: string) => entries.find((e) => path.basename(e.displayPath) === name)!;
    expect(byName('d-text.jpg')).toMatchObject({ reason: expect.stringMatching(/not a photo/) });
    expect(byName('e-drawing.svg')).toMatchObject({ reason: expect.stringMatching(/SVG/) });
    expect(byName('g-pipe.jpg')).toMatchObject({ reason: expect.stringMatching(/named pipe/) });
    expect(byName('h-broken-link.jpg')).toMatchObject({ reason: expect.stringMatching(/broken symbolic link/) });
  });

  it('keeps non-UTF-8 names as exact bytes that reopen the file', async () => {
    const entries = await scan(root);
    const file = entries.find((e) => e.kind === 'file' && e.path.subarray(-NON_UTF8_FILE.length).equals(NON_UTF8_FILE));
    expect(file).toBeDefined();
    expect(file!.displayPath).toContain('\uFFFD');
    expect(Buffer.from(file!.displayPath).equals(file!.path)).toBe(false);
    expect(fs.readFileSync(file!.path).equals(jpeg)).toBe(true);
    if (file!.kind !== 'file') throw new Error('expected a file');
    expect(await quickHash(file!.path, file!.size)).toMatch(/^q1:[0-9a-f]{64}$/);
    const inner = entries.find((e) => e.path.includes(NON_UTF8_DIR) && e.displayPath.endsWith('inner.png'));
    expect(inner && fs.readFileSync(inner.path).equals(png)).toBe(true);
  });

  it('reports size and mtime from stat, and absolute paths under the resolved root', async () => {
    const entries = await scan(path.relative(process.cwd(), root));
    const good = entries.find((e) => e.displayPath === path.join(root, 'a-good.jpg'));
    const st = fs.statSync(path.join(root, 'a-good.jpg'));
    expect(good).toMatchObject({ kind: 'file', size: jpeg.length, imageKind: 'jpeg' });
    expect(good!.kind === 'file' && Math.abs(good!.mtimeMs - st.mtimeMs)).toBeLessThan(1);
  });

  it('is deterministic: sorted by name, the same with or without read-ahead', async () => {
    const a = (await scan(root, { concurrency: 1 })).map((e) => e.path.toString('hex'));
    const b = (await scan(root, { concurrency: 16 })).map((e) => e.path.toString('hex'));
    expect(b).toEqual(a);
    const topLevel = (await scan(root)).map((e) => path.relative(root, e.displayPath).split(path.sep)[0]);
    const firstSeen = topLevel.filter((n, i) => topLevel.indexOf(n) === i);
    expect(firstSeen).toEqual([...firstSeen].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
  });

  it('skips the data dir also when given by another path (a symlink to it)', async () => {
    const alias = path.join(tmp, 'data-alias');
    fs.symlinkSync(path.join(root, 'sightline-data'), alias);
    try {
      const entries = await scan(root, { skipDirs: [alias] });
      expect(entries.some((e) => e.displayPath.includes('sightline-data'))).toBe(false);
    } finally {
      fs.unlinkSync(alias);
    }
  });

  it('reports a file deleted between listing and inspection as vanished', async () => {
    const dir = path.join(tmp, 'vanishing');
    fs.mkdirSync(dir);
    for (const n of ['1.jpg', '2.jpg', '3.jpg']) fs.writeFileSync(path.join(dir, n), jpeg);
    const seen: ScanEntry[] = [];
    // concurrency 1: the scanner inspects a file only when asked for it, so the deletion lands
    // after the folder was listed and before 3.jpg is looked at.
    for await (const e of scanFolder(dir, { concurrency: 1 })) {
      seen.push(e);
      if (path.basename(e.displayPath) === '1.jpg') fs.unlinkSync(path.join(dir, '3.jpg'));
    }
    expect(summary(dir, seen)).toEqual({ '1.jpg': 'file:jpeg', '2.jpg': 'file:jpeg', '3.jpg': 'skipped:vanished' });
  });

  it('carries on past a subfolder removed mid-scan', async () => {
    const dir = path.join(tmp, 'vanishing-folder');
    fs.mkdirSync(path.join(dir, 'b'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.jpg'), jpeg);
    fs.writeFileSync(path.join(dir, 'b', 'x.jpg'), jpeg);
    fs.writeFileSync(path.join(dir, 'c.jpg'), jpeg);
    const seen: ScanEntry[] = [];
    // Removed after the parent was listed and before the scan looks at it. (A folder removed
    // between its stat and its own listing becomes a 'missing' folder-error; no consumer can
    // step in between those two, so that path is not exercised here.)
    for await (const e of scanFolder(dir, { concurrency: 1 })) {
      seen.push(e);
      if (path.basename(e.displayPath) === 'a.jpg') fs.rmSync(path.join(dir, 'b'), { recursive: true });
    }
    expect(summary(dir, seen)).toEqual({ 'a.jpg': 'file:jpeg', b: 'skipped:vanished', 'c.jpg': 'file:jpeg' });
  });

  it('reports a missing root as a folder error instead of throwing', async () => {
    const missing = path.join(tmp, 'unplugged-disk');
    expect(await scan(missing)).toEqual([
      { kind: 'folder-error', path: Buffer.from(missing), displayPath: missing, code: 'missing', reason: expect.stringMatching(/does not exist/) },
    ]);
    const file = path.join(root, 'a-good.jpg');
    expect(await scan(file)).toMatchObject([{ kind: 'folder-error', code: 'unreadable', displayPath: file }]);
  });

  it('stops with the abort reason when its signal is aborted', async () => {
    const ac = new AbortController();
    const seen: ScanEntry[] = [];
    await expect((async () => {
      for await (const e of scanFolder(root, { signal: ac.signal })) {
        seen.push(e);
        ac.abort();
      }
    })()).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(1);
  });
});

describe('scanFolder and permissions', () => {
  // chmod 000 stops nobody when the tests run as root (CAP_DAC_OVERRIDE). Then the same scan runs
  // in a child process as the unprivileged user `nobody`, where the modes do apply; only if that
  // is impossible too (no setuid in this sandbox) is the check skipped.
  it('reports an unreadable file and an unreadable subfolder, and carries on', async (ctx) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-perm-'));
    try {
      fs.chmodSync(dir, 0o755);
      fs.writeFileSync(path.join(dir, 'a-ok.jpg'), jpeg);
      fs.writeFileSync(path.join(dir, 'b-secret.jpg'), jpeg);
      fs.mkdirSync(path.join(dir, 'c-locked'));
      fs.writeFileSync(path.join(dir, 'c-locked', 'inside.jpg'), jpeg);
      fs.writeFileSync(path.join(dir, 'd-ok.jpg'), jpeg);
      fs.chmodSync(path.join(dir, 'b-secret.jpg'), 0o000);
      fs.chmodSync(path.join(dir, 'c-locked'), 0o000);

      let readable = true;
      try {
        fs.readFileSync(path.join(dir, 'b-secret.jpg'));
      } catch {
        readable = false;
      }
      let entries: { kind: string; displayPath: string; code?: string; imageKind?: string }[];
      if (!readable) {
        entries = await scan(dir);
      } else {
        const code = `import { scanFolder } from ${JSON.stringify(SCANNER_MODULE)};
          const out = [];
          for await (const e of scanFolder(process.argv[1])) out.push({ kind: e.kind, displayPath: e.displayPath, code: e.code, imageKind: e.imageKind });
          process.stdout.write(JSON.stringify(out));`;
        const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, dir], { cwd: REPO, uid: 65534, gid: 65534, encoding: 'utf8', timeout: 60_000 });
        if (child.error || child.status !== 0) {
          ctx.skip(`running as root and cannot run as nobody either (${child.error?.message ?? child.stderr.slice(0, 200)})`);
          return;
        }
        entries = JSON.parse(child.stdout);
      }
      expect(summary(dir, entries as ScanEntry[])).toEqual({
        'a-ok.jpg': 'file:jpeg',
        'b-secret.jpg': 'skipped:unreadable',
        'c-locked': 'folder-error:unreadable',
        'd-ok.jpg': 'file:jpeg',
      });
    } finally {
      fs.chmodSync(path.join(dir, 'c-locked'), 0o755);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scanFolder on the near-dup data set (read in place)', () => {
  it('finds the photos by content and names the rest', async () => {
    const entries = await scan(NEAR_DUP);
    const s = summary(NEAR_DUP, entries);
    expect(s['formats_images/ukbench09380.svg']).toBe('file:jpeg');
    expect(s['formats_images/ukbench09380.bmp']).toBe('file:jpeg');
    expect(s['formats_images/ukbench09380.png']).toBe('file:jpeg');
    expect(s['formats_images/ukbench09380.webp']).toBe('file:webp');
    expect(s['formats_images/giphy.gif']).toBe('file:gif');
    expect(s['formats_images/copyleft.tiff']).toBe('file:tiff');
    expect(s['alpha_channel_image.png']).toBe('file:png');
    for (const pnm of ['Iggy.1024.ppm', 'baboon.pgm', 'marbles.pbm']) {
      expect(s[`formats_images/${pnm}`]).toBe('skipped:not-an-image');
      expect(entries.find((e) => e.displayPath.endsWith(pnm))).toMatchObject({ reason: expect.stringMatching(/PNM/) });
    }
    expect(s['mixed_images/ukbench09268_corrupt.jpg']).toBe('skipped:not-an-image');
    expect(s['mixed_nested_images/ukbench09268_corrupt.jpg']).toBe('skipped:not-an-image');
    expect(s.LICENSE).toBe('skipped:not-an-image');
    // Every file in the set shows up exactly once, as a photo or with a reason.
    const all = fs.readdirSync(NEAR_DUP, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
    expect(entries).toHaveLength(all);
    expect(entries.filter((e) => e.kind === 'file').length).toBeGreaterThan(20);
  });
});
