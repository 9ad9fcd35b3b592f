// What it takes to go back after "Learn from my library" switched the whitening: a copy of the
// model's whitening files as they were (or the fact that there were none) and a small record
// beside them. Both live next to the model's whitening in the data folder, so the undo survives
// a restart. The library keeps the previous whitening's descriptors until then, so going back
// costs no re-embedding.
import fs from 'node:fs/promises';
import path from 'node:path';
import { whiteningPathFor } from '../engine/descriptorEngine.js';
import type { RegisteredModel } from '../engine/modelRegistry.js';
import { writeAtomic } from '../engine/modelRegistry.js';

const RECORD_FORMAT = 'sightline-learning-undo-1';
const SUFFIXES = ['.json', '.bin'] as const;

export interface WhiteningUndoRecord {
  format: typeof RECORD_FORMAT;
  model: string;
  /** Descriptor versions (model + whitening fingerprint) before and after the switch. */
  previousVersion: string;
  learnedVersion: string;
  /** Whether the model had a whitening of the user's before (else the engine fell back to a shipped one, or none). */
  hadUserWhitening: boolean;
  /** What was in use before, for the user. */
  previousDescription: string;
  switchedAt: string;
  /** Held-out mAP (0–1) before and after, for the user. */
  heldOutMAP: { before: number; after: number };
}

function files(model: RegisteredModel) {
  const live = whiteningPathFor(model);
  const dir = path.dirname(live);
  return { live, backup: path.join(dir, 'before-learning'), record: path.join(dir, 'learning-undo.json') };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

async function copyPair(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true });
  // The .json is what the engine looks for: written last, so a half-copied pair is never picked up.
  for (const suffix of ['.bin', '.json']) {
    const tmp = `${to}${suffix}.tmp-${process.pid}`;
    await fs.copyFile(`${from}${suffix}`, tmp);
    await fs.rename(tmp, `${to}${suffix}`);
  }
}

async function removePair(file: string): Promise<void> {
  // The .json first: without it the engine no longer sees a whitening there.
  for (const suffix of ['.json', '.bin']) await fs.rm(`${file}${suffix}`, { force: true });
}

/** Copies the model's whitening files aside before a switch; returns whether there were any. */
export async function backUpWhitening(model: RegisteredModel): Promise<boolean> {
  const f = files(model);
  await removePair(f.backup);
  if (!(await exists(`${f.live}.json`))) return false;
  await copyPair(f.live, f.backup);
  return true;
}

/** Puts the model's whitening files back as they were at the last backup. */
export async function restoreWhitening(model: RegisteredModel, hadUserWhitening: boolean): Promise<void> {
  const f = files(model);
  if (hadUserWhitening) {
    for (const suffix of SUFFIXES) if (!(await exists(`${f.backup}${suffix}`))) throw new Error(`the copy of the previous whitening (${f.backup}${suffix}) is missing`);
    await copyPair(f.backup, f.live);
  } else {
    await removePair(f.live);
  }
}

export async function readUndoRecord(model: RegisteredModel): Promise<WhiteningUndoRecord | undefined> {
  const text = await fs.readFile(files(model).record, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (text === undefined) return undefined;
  const record = JSON.parse(text) as WhiteningUndoRecord;
  return record.format === RECORD_FORMAT && record.model === model.meta.id ? record : undefined;
}

export async function writeUndoRecord(model: RegisteredModel, record: Omit<WhiteningUndoRecord, 'format' | 'model'>): Promise<WhiteningUndoRecord> {
  const full: WhiteningUndoRecord = { format: RECORD_FORMAT, model: model.meta.id, ...record };
  await fs.mkdir(path.dirname(files(model).record), { recursive: true });
  await writeAtomic(files(model).record, JSON.stringify(full, null, 2) + '\n');
  return full;
}

/** Forgets the undo: the record and the copy of the previous whitening. */
export async function clearUndo(model: RegisteredModel): Promise<void> {
  const f = files(model);
  await fs.rm(f.record, { force: true });
  await removePair(f.backup);
}
