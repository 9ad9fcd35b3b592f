// Content identity for photos, so a moved or renamed file keeps its descriptor, thumbnail and the
// user's decisions.
//
// The library keys photos by `quickHash`: size plus the first and last MiB. That reads at most
// 2 MiB however big the file is, and any re-encode, crop or metadata edit changes the size, the
// head (EXIF lives there) or the tail. What it cannot see is an edit confined to the middle of a
// large file that keeps the size. So when a new file's quickHash matches a photo whose file is
// a different path still present, the caller compares the two with `fullHash` (or `hashesDiffer`)
// and, if the contents differ, keys the newcomer by its fullHash instead. Both kinds of key carry
// a scheme prefix (`q1:`, `f1:`) so they can never be confused with each other, and a future
// change of recipe gets a new prefix rather than silently different values.
import crypto from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';

export const QUICK_HASH_PREFIX = 'q1:';
export const FULL_HASH_PREFIX = 'f1:';

const MIB = 1024 * 1024;

/** Thrown when the file's size is no longer the one the caller scanned: hash it again after a rescan. */
export class FileChangedError extends Error {
  constructor(readonly expectedSize: number, readonly actualSize: number) {
    super(`file changed while being read (size ${actualSize}, expected ${expectedSize})`);
    this.name = 'FileChangedError';
  }
}

/**
 * `q1:` + sha256(size in decimal, "\n", first MiB, last MiB); a file of 2 MiB or less is hashed
 * whole (once, not head and tail overlapping). `size` is the size the scan saw; a file that has
 * since grown or shrunk throws FileChangedError rather than hashing a mixture of old and new.
 */
export async function quickHash(file: Buffer | string, size: number): Promise<string> {
  const fh = await fs.open(file, 'r');
  try {
    const actual = (await fh.stat()).size;
    if (actual !== size) throw new FileChangedError(size, actual);
    const h = crypto.createHash('sha256');
    h.update(`${size}\n`);
    if (size <= 2 * MIB) {
      h.update(await readExactly(fh, 0, size, size));
    } else {
      h.update(await readExactly(fh, 0, MIB, size));
      h.update(await readExactly(fh, size - MIB, MIB, size));
    }
    return QUICK_HASH_PREFIX + h.digest('hex');
  } finally {
    await fh.close();
  }
}

/** `f1:` + sha256 of the whole file, streamed. */
export async function fullHash(file: Buffer | string): Promise<string> {
  const h = crypto.createHash('sha256');
  // highWaterMark: 1 MiB reads instead of 64 KiB ones; hashing, not the syscalls, should be the cost.
  for await (const chunk of createReadStream(file, { highWaterMark: MIB })) h.update(chunk as Buffer);
  return FULL_HASH_PREFIX + h.digest('hex');
}

/**
 * For two files that share a quickHash: do their contents differ? Sizes are compared first (free),
 * then full hashes. Either file failing to read rejects; the caller decides what an unreadable
 * twin means.
 */
export async function hashesDiffer(a: Buffer | string, b: Buffer | string): Promise<boolean> {
  const [sa, sb] = await Promise.all([fs.stat(a), fs.stat(b)]);
  if (sa.size !== sb.size) return true;
  const [ha, hb] = await Promise.all([fullHash(a), fullHash(b)]);
  return ha !== hb;
}

async function readExactly(fh: fs.FileHandle, position: number, length: number, expectedSize: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new FileChangedError(expectedSize, position + filled);
    filled += bytesRead;
  }
  return buf;
}
