// Local features kept on disk between runs, one file per photo: extraction (~0.3–1 s a photo)
// dominates a cleaning run, and a resumed or repeated run should not pay it again.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { decodeLocalFeatures, encodeLocalFeatures, FEATURE_FORMAT, type LocalFeatures } from './localFeatures.js';

export class FeatureDiskCache {
  constructor(readonly dir: string, private readonly settingsKey: string) {}

  /** A photo's entry is keyed by its path, size and modification time, and the extraction settings. */
  private async fileFor(photo: string): Promise<string | undefined> {
    let stat;
    try {
      stat = await fs.stat(photo);
    } catch {
      return undefined;
    }
    const key = crypto.createHash('sha256')
      .update(JSON.stringify([path.resolve(photo), stat.size, stat.mtimeMs, this.settingsKey, FEATURE_FORMAT]))
      .digest('hex');
    return path.join(this.dir, key.slice(0, 2), `${key}.slf`);
  }

  async get(photo: string): Promise<LocalFeatures | undefined> {
    const file = await this.fileFor(photo);
    if (!file) return undefined;
    try {
      return decodeLocalFeatures(await fs.readFile(file));
    } catch {
      // Missing, or damaged by a crash mid-write: extract again.
      return undefined;
    }
  }

  async put(photo: string, features: LocalFeatures): Promise<void> {
    const file = await this.fileFor(photo);
    if (!file) return;
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Written aside and renamed, so a reader never sees half a file.
    const partial = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.part`;
    await fs.writeFile(partial, encodeLocalFeatures(features));
    await fs.rename(partial, file);
  }
}
