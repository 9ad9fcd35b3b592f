// Walks a library folder and says, for every file, either "a photo of this kind, this size, this
// mtime" or why it is not one. It reads only metadata and the first SNIFF_BYTES of each file: the
// indexer decides from size and mtime whether anything needs hashing or decoding.
//
// Paths are raw bytes end to end. Linux and macOS allow file names that are not valid UTF-8 (old
// cameras, Latin-1 archives, SMB shares); decoding them to a JS string would replace the bad bytes
// with U+FFFD, and the file could never be opened again from the stored name. `displayPath` is
// for people only.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BigIntStats, Dirent } from 'node:fs';
import { sniffImageType, SNIFF_BYTES, type ImageKind } from './imageSniffer.js';

export type SkipCode = 'not-an-image' | 'unreadable' | 'empty' | 'symlink-loop' | 'vanished';
export type FolderErrorCode = 'missing' | 'unreadable';

export type ScanEntry =
  | { kind: 'file'; path: Buffer; displayPath: string; size: number; mtimeMs: number; imageKind: ImageKind }
  | { kind: 'skipped'; path: Buffer; displayPath: string; reason: string; code: SkipCode }
  | { kind: 'folder-error'; path: Buffer; displayPath: string; code: FolderErrorCode; reason: string };

export interface ScanOptions {
  /** Absolute folders never entered (our own data dir, when it sits inside a library folder). */
  skipDirs?: string[];
  /** Aborting stops the walk: the generator throws the signal's reason at the next entry. */
  signal?: AbortSignal;
  /**
   * Files inspected (stat + sniff) ahead of the consumer within one folder. Local disks gain
   * little; network shares, where each stat is a round trip, gain a lot. Results are still
   * yielded in sorted order.
   */
  concurrency?: number;
}

const DOT = 0x2e;
const SEP = Buffer.from(path.sep);

type Inspection =
  | { kind: 'dir'; path: Buffer; key: string }
  | { kind: 'entry'; entry: ScanEntry }
  | { kind: 'alias' };

export async function* scanFolder(root: string, opts: ScanOptions = {}): AsyncGenerator<ScanEntry> {
  const { signal } = opts;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 8));
  signal?.throwIfAborted();
  const rootDisplay = path.resolve(root);
  const rootPath = Buffer.from(rootDisplay);

  // Skipped folders are matched by identity as well as by path, so the data dir is skipped even
  // when the library reaches it through a symlink.
  const skipPaths = (opts.skipDirs ?? []).map((d) => Buffer.from(path.resolve(d)));
  const skipKeys = new Set<string>();
  const skipReal: Buffer[] = [];
  for (const p of skipPaths) {
    const st = await fs.stat(p, { bigint: true }).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    skipKeys.add(identity(st));
    const real = await fs.realpath(p, { encoding: 'buffer' }).catch(() => undefined);
    if (real) skipReal.push(real);
  }
  const isSkipped = (p: Buffer, key: string) => skipKeys.has(key) || skipPaths.some((s) => s.equals(p));

  let rootStat: BigIntStats;
  let rootReal: Buffer;
  try {
    rootStat = await fs.stat(rootPath, { bigint: true });
    rootReal = await fs.realpath(rootPath, { encoding: 'buffer' });
  } catch (e) {
    const code = errno(e);
    const missing = code === 'ENOENT' || code === 'ENOTDIR';
    yield { kind: 'folder-error', path: rootPath, displayPath: rootDisplay, code: missing ? 'missing' : 'unreadable', reason: missing ? 'folder does not exist (removed, renamed, or its disk is not connected)' : `cannot open folder (${code ?? (e as Error).message})` };
    return;
  }
  if (!rootStat.isDirectory()) {
    yield { kind: 'folder-error', path: rootPath, displayPath: rootDisplay, code: 'unreadable', reason: 'is a file, not a folder' };
    return;
  }
  const rootKey = identity(rootStat);
  if (isSkipped(rootPath, rootKey)) return;

  /**
   * A symlink whose target lies inside this scan, where the scan will list it under its own
   * name anyway (not hidden, not skipped). Following it would report the same photos under a
   * second path, and which path came first would depend on how names sort.
   */
  const targetScannedAnyway = async (link: Buffer): Promise<boolean> => {
    const real = await fs.realpath(link, { encoding: 'buffer' }).catch(() => undefined);
    if (!real) return false;
    const rel = relativeInside(rootReal, real);
    if (rel === undefined) return false;
    if (rel.length === 0) return true;
    if (splitBytes(rel, SEP[0]).some((segment) => segment[0] === DOT)) return false;
    return !skipReal.some((s) => s.equals(real) || relativeInside(s, real) !== undefined);
  };

  // Every folder entered so far. A folder met again is either an ancestor (a symlink loop, which
  // would otherwise recurse forever) or a second way into a folder already scanned (two links to
  // one place outside the scan), whose files would otherwise be reported twice.
  const visited = new Set<string>([rootKey]);
  const ancestors = new Map<string, string>([[rootKey, rootDisplay]]);

  /** stat (following links) and, for regular files, sniff. Never rejects: failures are entries. */
  const inspect = async (p: Buffer, isLink: boolean): Promise<Inspection> => {
    const result = await inspectPath(p);
    if (!isLink || result.kind === 'alias') return result;
    if (result.kind === 'dir' && ancestors.has(result.key)) return result;
    if (result.kind === 'entry' && result.entry.kind !== 'file') return result;
    return (await targetScannedAnyway(p)) ? { kind: 'alias' } : result;
  };

  async function* walk(dir: Buffer, dirDisplay: string, isRoot: boolean): AsyncGenerator<ScanEntry> {
    let dirents: Dirent<Buffer>[];
    try {
      dirents = await fs.readdir(dir, { encoding: 'buffer', withFileTypes: true });
    } catch (e) {
      const code = errno(e);
      const missing = code === 'ENOENT' || code === 'ENOTDIR';
      yield {
        kind: 'folder-error',
        path: dir,
        displayPath: dirDisplay,
        code: missing ? 'missing' : 'unreadable',
        reason: missing ? (isRoot ? 'folder does not exist' : 'folder vanished during the scan') : `cannot list folder (${code ?? (e as Error).message})`,
      };
      return;
    }
    // Dot-names are hidden by convention (.git, .thumbnails, .Trash-1000, macOS ._ resource forks).
    const entries = dirents
      .filter((d) => d.name.length > 0 && d.name[0] !== DOT)
      .sort((a, b) => Buffer.compare(a.name, b.name))
      .map((d) => ({ path: joinBytes(dir, d.name), isLink: d.isSymbolicLink() }));

    const pending: (Promise<Inspection> | undefined)[] = new Array(entries.length);
    let started = 0;
    for (let i = 0; i < entries.length; i++) {
      signal?.throwIfAborted();
      while (started < entries.length && started < i + concurrency) {
        pending[started] = inspect(entries[started].path, entries[started].isLink);
        started++;
      }
      const result = await pending[i]!;
      pending[i] = undefined;
      if (result.kind === 'alias') continue;
      if (result.kind === 'entry') {
        yield result.entry;
        continue;
      }
      const display = result.path.toString('utf8');
      if (isSkipped(result.path, result.key)) continue;
      const ancestor = ancestors.get(result.key);
      if (ancestor !== undefined) {
        yield { kind: 'skipped', path: result.path, displayPath: display, code: 'symlink-loop', reason: `links back to ${ancestor}, which contains it; not followed` };
        continue;
      }
      if (visited.has(result.key)) continue;
      visited.add(result.key);
      ancestors.set(result.key, display);
      try {
        yield* walk(result.path, display, false);
      } finally {
        ancestors.delete(result.key);
      }
    }
  }

  yield* walk(rootPath, rootDisplay, true);
}

async function inspectPath(p: Buffer): Promise<Inspection> {
  const displayPath = p.toString('utf8');
  const skipped = (code: SkipCode, reason: string): Inspection => ({ kind: 'entry', entry: { kind: 'skipped', path: p, displayPath, code, reason } });

  let st: BigIntStats;
  try {
    st = await fs.stat(p, { bigint: true });
  } catch (e) {
    const code = errno(e);
    if (code === 'ELOOP') return skipped('symlink-loop', 'symbolic links point at each other in a loop');
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const link = await fs.lstat(p).catch(() => undefined);
      if (link?.isSymbolicLink()) return skipped('unreadable', 'broken symbolic link: its target does not exist');
      return skipped('vanished', 'removed or renamed during the scan');
    }
    return skipped('unreadable', `cannot read file information (${code ?? (e as Error).message})`);
  }
  if (st.isDirectory()) return { kind: 'dir', path: p, key: identity(st) };
  if (!st.isFile()) {
    // Opening a FIFO would block the scan until some writer appears; devices and sockets are not photos either.
    return skipped('unreadable', `not a regular file (${specialKind(st)})`);
  }
  const size = Number(st.size);
  // Nanoseconds are exact; mtimeMs as a float would round differently from scan to scan on some filesystems.
  const mtimeMs = Number(st.mtimeNs / 1000n) / 1000;
  if (size === 0) return skipped('empty', 'file is empty (0 bytes)');

  let head: Uint8Array;
  try {
    head = await readHead(p, Math.min(size, SNIFF_BYTES));
  } catch (e) {
    const code = errno(e);
    if (code === 'ENOENT') return skipped('vanished', 'removed or renamed during the scan');
    return skipped('unreadable', `cannot open file (${code ?? (e as Error).message})`);
  }
  const imageKind = sniffImageType(head);
  if (!imageKind) return skipped('not-an-image', describeNonImage(head));
  return { kind: 'entry', entry: { kind: 'file', path: p, displayPath, size, mtimeMs, imageKind } };
}

async function readHead(p: Buffer, length: number): Promise<Uint8Array> {
  const fh = await fs.open(p, 'r');
  try {
    const buf = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await fh.read(buf, filled, length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buf.subarray(0, filled);
  } finally {
    await fh.close();
  }
}

/** A reason a person can act on: "it is an SVG" says more than "not an image". */
function describeNonImage(head: Uint8Array): string {
  const text = Buffer.from(head).toString('latin1');
  if (/<svg|<\?xml/i.test(text)) return 'an SVG or XML document, not a photo';
  if (/^P[1-7]\s/.test(text)) return 'a PNM/PAM image (netpbm), which Sightline does not read';
  // Olympus and Panasonic RAW bend the TIFF magic, so the sniffer does not take them for TIFF.
  if (/^(IIRO|IIRS|IIU\x00)/.test(text)) return 'a camera RAW format Sightline does not read';
  if (/^[\s\S]{4}ftyp/.test(text)) return 'a video or other ISO media file, not a photo';
  return 'not a photo: the content matches none of the image formats Sightline reads (JPEG, PNG, WebP, GIF, TIFF, BMP, AVIF, HEIC, JPEG XL)';
}

function specialKind(st: BigIntStats): string {
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'special file';
}

function identity(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

function joinBytes(dir: Buffer, name: Buffer): Buffer {
  return dir.length > 0 && dir[dir.length - 1] === SEP[0] ? Buffer.concat([dir, name]) : Buffer.concat([dir, SEP, name]);
}

/** `inner` relative to `outer` (empty if equal), or undefined if it is not inside. Byte-wise: names need not be UTF-8. */
function relativeInside(outer: Buffer, inner: Buffer): Buffer | undefined {
  if (inner.equals(outer)) return Buffer.alloc(0);
  const prefix = outer.length > 0 && outer[outer.length - 1] === SEP[0] ? outer : Buffer.concat([outer, SEP]);
  if (inner.length <= prefix.length || !inner.subarray(0, prefix.length).equals(prefix)) return undefined;
  return inner.subarray(prefix.length);
}

function splitBytes(b: Buffer, sep: number): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === sep) {
      parts.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  return parts;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}
