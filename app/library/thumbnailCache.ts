// Thumbnails on disk, named by the photo's content hash: a moved or renamed photo keeps its
// thumbnail, and two copies of one photo share one. Files are sharded by the first two hex digits
// of the digest so no folder grows to hundreds of thousands of entries (slow listings on NTFS and
// network shares, and file managers choke on them).
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

// `q1:<64 hex>` / `f1:<64 hex>` from contentHash.ts; anything else could smuggle `..` or a
// separator into a path.
const SCHEME = '[a-z0-9]{1,8}';
const DIGEST = '[0-9a-f]{16,128}';
const HASH_PATTERN = new RegExp(`^(${SCHEME}):(${DIGEST})$`);
// What relativePathFor gives, in the current format or the WebP of libraries indexed before it.
const STORED_PATTERN = new RegExp(`^[0-9a-f]{2}/${SCHEME}-${DIGEST}\\.(?:jpg|webp)$`);

export class ThumbnailCache {
  constructor(readonly dir: string) {}

  /**
   * Path relative to the cache dir, always with '/', so it can be stored in the database and used
   * in a URL on every platform. The scheme stays in the name (`q1-…`): a quick and a full hash of
   * different files must never map to one thumbnail, and ':' is not allowed in Windows file names.
   */
  relativePathFor(contentHash: string): string {
    const m = HASH_PATTERN.exec(contentHash);
    if (!m) throw new RangeError(`not a content hash: ${JSON.stringify(contentHash)}`);
    return `${m[2].slice(0, 2)}/${m[1]}-${m[2]}.jpg`;
  }

  /** The media type of a stored thumbnail, by its name: libraries indexed before JPEG thumbnails hold WebP ones. */
  static contentTypeOf(relativePath: string): string {
    return relativePath.endsWith('.webp') ? 'image/webp' : 'image/jpeg';
  }

  pathFor(contentHash: string): string {
    return path.join(this.dir, ...this.relativePathFor(contentHash).split('/'));
  }

  /**
   * Writes to a temporary name in the same folder, then renames: a reader (the UI's thumbnail
   * protocol) sees either no file or the whole file, never a half-written one, and a crash leaves
   * at worst a stray temporary. Returns the relative path.
   */
  async put(contentHash: string, bytes: Uint8Array): Promise<string> {
    const rel = this.relativePathFor(contentHash);
    const target = this.pathFor(contentHash);
    const tmp = `${target}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`;
    try {
      // The shard folder exists for all but the first few hundred thumbnails: make it only when
      // the write says it is missing (also if someone deleted the cache meanwhile).
      await fs.writeFile(tmp, bytes).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
        await fs.mkdir(path.dirname(target), { recursive: true });
        await fs.writeFile(tmp, bytes);
      });
      await fs.rename(tmp, target);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
    return rel;
  }

  async has(contentHash: string): Promise<boolean> {
    try {
      return (await fs.stat(this.pathFor(contentHash))).isFile();
    } catch {
      return false;
    }
  }

  /** The thumbnail's bytes, or undefined if there is none. */
  async get(contentHash: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.pathFor(contentHash));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Removes a thumbnail; absent is fine. */
  async delete(contentHash: string): Promise<void> {
    await fs.rm(this.pathFor(contentHash), { force: true });
  }

  /** Removes a thumbnail by the relative path put() returned (one of an older format, say); absent is fine. */
  async deleteStored(relativePath: string): Promise<void> {
    if (!STORED_PATTERN.test(relativePath)) throw new RangeError(`not a stored thumbnail path: ${JSON.stringify(relativePath)}`);
    await fs.rm(path.join(this.dir, ...relativePath.split('/')), { force: true });
  }
}
