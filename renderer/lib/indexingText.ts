// How indexing progress reads in the UI.
import type { IndexProgress } from '../../app/api/contract.js';

export const PHASE_NAMES: Record<IndexProgress['phase'], string> = {
  scan: 'Scanning folders',
  hash: 'Checking files',
  describe: 'Describing photos',
  whiten: 'Fitting whitening',
  done: 'Finishing',
};

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 1) return 'under a second';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '—';
  return perSecond >= 10 ? `${Math.round(perSecond)} photos/s` : `${perSecond.toFixed(1)} photos/s`;
}

/** The fraction done, or null while the total is not known yet. */
export function progressFraction(progress: IndexProgress | null): number | null {
  if (!progress || progress.total <= 0) return null;
  return progress.done / progress.total;
}
