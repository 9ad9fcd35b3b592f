// Moving duplicates to the trash, never deleting them. In the desktop app the files go to the OS
// trash (Electron's shell.trashItem, handed in as an OsTrash); elsewhere to a `.sightline-trash`
// folder at the root of the library folder that holds them — the scanner skips hidden folders, and
// the same volume means a rename, not a copy. Every move is recorded so an undo can put it back.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FolderRepository } from './database/folderRepository.js';
import type { PhotoRepository } from './database/photoRepository.js';
import type { TrashKind, TrashRepository } from './database/trashRepository.js';

export const FOLDER_TRASH_NAME = '.sightline-trash';

/** The platform's trash (Electron main process: shell.trashItem). */
export interface OsTrash {
  moveToTrash(displayPath: string): Promise<void>;
}

export interface TrashOutcome {
  trashed: string[];
  failures: { path: string; reason: string }[];
}

export interface RestoreOutcome {
  restored: string[];
  notRestored: { path: string; reason: string }[];
}

export class PhotoTrash {
  constructor(
    private readonly records: TrashRepository,
    private readonly photos: PhotoRepository,
    private readonly folders: FolderRepository,
    private readonly osTrash?: OsTrash,
  ) {}

  get kind(): TrashKind {
    return this.osTrash ? 'os' : 'folder';
  }

  /** Moves every present file of the photo to the trash, recording each under the decision. */
  trashPhoto(decisionId: number, photoId: number): Promise<TrashOutcome> {
    return this.trashFiles(decisionId, photoId, () => true);
  }

  /** Moves the photo's present files that `which` picks (e.g. all copies but one) to the trash. */
  async trashFiles(decisionId: number, photoId: number, which: (displayPath: string) => boolean): Promise<TrashOutcome> {
    const outcome: TrashOutcome = { trashed: [], failures: [] };
    for (const file of this.photos.filesOf(photoId).filter((f) => f.present && which(f.displayPath))) {
      try {
        const trashPath = await this.moveOne(decisionId, file.path, file.displayPath, file.folderId);
        this.records.add({ decisionId, photoId, path: file.path, displayPath: file.displayPath, trashKind: this.kind, trashPath, trashedAt: new Date().toISOString() });
        this.photos.markFileMissing(file.path);
        outcome.trashed.push(file.displayPath);
      } catch (e) {
        outcome.failures.push({ path: file.displayPath, reason: (e as Error).message });
      }
    }
    return outcome;
  }

  /** Puts back what the decision moved to a trash folder; OS-trash items can only be pointed at. */
  async restoreDecision(decisionId: number): Promise<RestoreOutcome> {
    const outcome: RestoreOutcome = { restored: [], notRestored: [] };
    for (const item of this.records.listForDecision(decisionId)) {
      if (item.trashKind === 'os' || !item.trashPath) {
        outcome.notRestored.push({ path: item.displayPath, reason: 'it is in the system trash: restore it from there' });
        continue;
      }
      try {
        if (await exists(item.path)) throw new Error('another file is at its original path now');
        await fs.mkdir(path.dirname(item.displayPath), { recursive: true });
        await moveFile(item.trashPath, item.path);
        this.records.markRestored(item.id);
        outcome.restored.push(item.displayPath);
        await fs.rmdir(path.dirname(item.trashPath)).catch(() => undefined);
      } catch (e) {
        outcome.notRestored.push({ path: item.displayPath, reason: (e as Error).message });
      }
    }
    return outcome;
  }

  private async moveOne(decisionId: number, file: Buffer, displayPath: string, folderId: number): Promise<string | null> {
    if (this.osTrash) {
      await this.osTrash.moveToTrash(displayPath);
      return null;
    }
    const root = this.folders.get(folderId)?.path ?? path.dirname(displayPath);
    const dir = path.join(root, FOLDER_TRASH_NAME, String(decisionId));
    await fs.mkdir(dir, { recursive: true });
    const base = path.basename(displayPath);
    let target = path.join(dir, base);
    for (let n = 2; await exists(target); n++) target = path.join(dir, `${n}-${base}`);
    await moveFile(file, target);
    return target;
  }
}

async function exists(p: string | Buffer): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

/** rename, or copy + unlink across volumes (a library folder can be a mount point below its root). */
async function moveFile(from: string | Buffer, to: string | Buffer): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await fs.copyFile(from, to, fs.constants.COPYFILE_EXCL);
    await fs.unlink(from);
  }
}
